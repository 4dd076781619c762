import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { rebuildStatement, type StatementSigner } from '@quorum/attest';
import { analyzeArtifact, downloadVerified } from '@quorum/compare';
import {
  isQuorumError,
  parseReleasePurl,
  QuorumError,
  repoUrlProblem,
  type ArtifactDigests,
  type RebuildJob,
  type RebuildReport,
  type ResolvedSource,
  type Sandbox,
} from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import type { BuildSlots } from './build-slots.js';
import type { CoordinatorClient } from './coordinator-client.js';
import type { WorkerConfig } from './config.js';
import { fetchInputs, readPlanFiles } from './fetch-inputs.js';
import { fetchSource } from './fetch-source.js';

/** What a rebuild needs from its worker. */
export interface RebuildDeps {
  config: Readonly<WorkerConfig>;
  sandbox: Sandbox;
  client: CoordinatorClient;
  logger: Logger;
  /** signs this worker's statement about each rebuild */
  signer: StatementSigner;
  /** containers this worker may run at once */
  slots: BuildSlots;
}

/** Rebuilt artifacts up to this size are uploaded for file-level diffs. */
const MAX_ARTIFACT_UPLOAD_BYTES = 256 * 1024 * 1024;

/** A build-level failure: recorded as the rebuild's result, never retried. */
class BuildFailure extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

async function fetchJson(url: string, signal: AbortSignal): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]), headers: { accept: 'application/json' } });
  } catch (e) {
    throw new QuorumError('upstream-unavailable', `registry unreachable at ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (res.status === 404) throw new BuildFailure('version-not-found', `registry has no ${url}`);
  if (!res.ok) throw new QuorumError('upstream-unavailable', `registry answered HTTP ${res.status} for ${url}`);
  return res.json();
}

/** The tool versions a build recorded; a build controls this file, so only short strings are kept. */
async function readToolchain(file: string): Promise<Record<string, string> | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (!text || text.length > 4096) return undefined;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length < 100));
  } catch {
    return undefined;
  }
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Runs one rebuild end to end on this worker: fetch phase (registry metadata, published artifact,
 * source at the exact commit), hermetic build, hashing, then log upload and report. Independent of
 * the coordinator's copy of anything it can fetch itself.
 */
export async function runRebuild(job: RebuildJob, deps: RebuildDeps, signal: AbortSignal): Promise<void> {
  const { config, sandbox, client } = deps;
  const log = deps.logger.child({ rebuildId: job.rebuildId, releaseId: job.releaseId, purl: job.purl });
  const started = Date.now();
  const lines: string[] = [];
  const note = (line: string) => lines.push(line);
  const jobDir = join(config.dataDir, 'jobs', job.rebuildId);
  const base = { v: 1 as const, rebuildId: job.rebuildId, workerId: config.workerId };
  let source: ResolvedSource | undefined;
  let upstream: ArtifactDigests | undefined;
  let imageDigest: string | undefined;
  let toolchain: Record<string, string> | undefined;
  let fetchMs: number | undefined;
  let buildMs: number | undefined;
  let exitCode: number | undefined;
  let recipe: Record<string, unknown> = {};
  let builderStabilizers: readonly string[] = [];
  const notes: string[] = [];
  let toolchainUsed: Record<string, string> | undefined;

  await client.started(job.rebuildId);
  log.info('rebuild started');
  note(`[quorum] worker ${config.workerId} (operator ${config.operator}) rebuilding ${job.purl}`);

  let report: RebuildReport;
  try {
    await rm(jobDir, { recursive: true, force: true });
    await mkdir(join(jobDir, 'out'), { recursive: true, mode: 0o755 });
    const purl = parseReleasePurl(job.purl);
    const builder = builderFor(job.ecosystem);
    builderStabilizers = builder.stabilizers;
    const registry = config.registries[builder.ecosystem]!;

    // fetch phase: everything this worker uses comes from its own fetches
    const metadata = await fetchJson(builder.metadataUrl(purl, registry), signal);
    const inferred = builder.inferRecipe(purl, metadata, job.overrides);
    if (!inferred.ok) throw new BuildFailure(inferred.code, inferred.message);
    toolchain = inferred.toolchain;
    recipe = { ...inferred.source, overrides: job.overrides, upstream: inferred.upstream };
    for (const step of inferred.source.steps) note(`[quorum] recipe: ${step}`);
    if (job.upstream && job.upstream.integrity !== inferred.upstream.integrity) {
      throw new BuildFailure('upstream-inconsistent', `registry ${registry} serves integrity ${inferred.upstream.integrity}, the coordinator saw ${job.upstream.integrity}`);
    }
    const publishedFile = join(jobDir, 'published');
    note(`[quorum] fetching published artifact ${inferred.upstream.url}`);
    await downloadVerified(inferred.upstream.url, inferred.upstream.integrity, publishedFile, { signal });
    const published = await analyzeArtifact(builder.artifactFormat, publishedFile);
    upstream = published;
    const repoProblem = repoUrlProblem(inferred.source.repo, config.allowLocalRepos);
    if (repoProblem) throw new BuildFailure('source-refused', repoProblem);
    source = await fetchSource(inferred.source, join(jobDir, 'src'), note, signal);
    const planFiles = await readPlanFiles(join(jobDir, 'src', source.directory ?? '.'), builder.planFiles);
    const decision = builder.decideInputs(planFiles, toolchain, registry);
    notes.push(...decision.notes);
    for (const n of decision.notes) note(`[quorum] note: ${n}`);
    if (decision.problem) throw new BuildFailure(decision.problem.code, decision.problem.message);
    const inputsDir = join(jobDir, 'inputs');
    await mkdir(inputsDir, { recursive: true, mode: 0o755 });
    const inputs = await fetchInputs(builder, registry, decision, inputsDir, note, signal);
    recipe = { ...recipe, inputs: [...decision.tools, ...decision.dependencies.map((d) => ({ url: d.url, integrity: d.integrity }))], install: decision.install };
    fetchMs = Date.now() - started;

    // build phase: no network, pinned image
    imageDigest = await sandbox.imageDigest(builder.imageTag);
    if (!imageDigest) throw new QuorumError('not-found', `builder image ${builder.imageTag} is not on this worker's Docker engine`);
    const plan = builder.plan({ purl, source, toolchain, image: imageDigest, limits: config.limits, inputs });
    note(`[quorum] build in ${imageDigest} (network none, read-only root, uid ${plan.user}, timeout ${plan.limits.timeoutMs / 1000} s)`);
    const result = await deps.slots.run(() => sandbox.run(plan, { sourceDir: join(jobDir, 'src'), outputDir: join(jobDir, 'out'), ...(plan.inputsMount ? { inputsDir } : {}) }, {
      signal,
      labels: { 'quorum.worker': config.workerId, 'quorum.rebuild': job.rebuildId },
    }));
    buildMs = result.durationMs;
    exitCode = result.exitCode;
    lines.push(result.log.replace(/\n$/, ''));
    if (result.outcome === 'aborted') throw new QuorumError('internal', 'build aborted: worker shutting down');
    if (result.outcome !== 'ok') {
      const why = { error: `build exited with code ${result.exitCode}`, timeout: `build killed after ${plan.limits.timeoutMs / 1000} s`, oom: 'build killed: out of memory' }[result.outcome];
      throw new BuildFailure(result.outcome === 'error' ? 'build-error' : result.outcome, why);
    }
    if (plan.toolchainFile) toolchainUsed = await readToolchain(join(jobDir, 'out', plan.toolchainFile));
    const pattern = globToRegExp(plan.artifactGlob);
    const outputs = (await readdir(join(jobDir, 'out'))).filter((f) => pattern.test(f));
    if (outputs.length !== 1) throw new BuildFailure('no-artifact', `expected one ${plan.artifactGlob} in the output, found ${outputs.length}`);
    const filename = outputs[0]!;
    const artifact = await analyzeArtifact(builder.artifactFormat, join(jobDir, 'out', filename)).catch((e: unknown) => {
      if (isQuorumError(e, 'unsafe-archive', 'invalid-input')) throw new BuildFailure('unsafe-artifact', (e as Error).message);
      throw e;
    });
    note(`[quorum] artifact ${filename} sha256 ${artifact.sha256}; published sha256 ${published.sha256}`);
    // the coordinator keeps the rebuilt bytes to explain a difference file by file; a failed upload
    // costs the explanation, not the result
    if (artifact.size <= MAX_ARTIFACT_UPLOAD_BYTES) {
      await client.uploadArtifact(job.rebuildId, await readFile(join(jobDir, 'out', filename))).catch((e: unknown) => note(`[quorum] artifact upload failed: ${(e as Error).message}`));
    }
    report = { ...base, status: 'succeeded', source, toolchain, ...(toolchainUsed ? { toolchainUsed } : {}), imageDigest, artifact: { ...artifact, filename }, upstream: published, exitCode, timings: { fetchMs, buildMs, totalMs: Date.now() - started }, ...(notes.length ? { notes } : {}) };
  } catch (e) {
    // other bytes than the registry pinned, or no source: results about the release, not faults
    const failure = e instanceof BuildFailure ? e : isQuorumError(e, 'source-not-found', 'integrity-mismatch') ? new BuildFailure(e.code, e.message) : undefined;
    const timings = { ...(fetchMs !== undefined ? { fetchMs } : {}), ...(buildMs !== undefined ? { buildMs } : {}), totalMs: Date.now() - started };
    const known = { ...(notes.length ? { notes } : {}), ...(toolchainUsed ? { toolchainUsed } : {}), ...(source ? { source } : {}), ...(toolchain ? { toolchain } : {}), ...(imageDigest ? { imageDigest } : {}), ...(upstream ? { upstream } : {}), ...(exitCode !== undefined ? { exitCode } : {}) };
    if (failure) {
      note(`[quorum] FAILED (${failure.reason}): ${failure.message}`);
      report = { ...base, status: 'failed', reason: failure.reason, message: failure.message, ...known, timings };
    } else {
      // a fault: the coordinator reassigns the rebuild to another worker
      const message = (e as Error).message;
      note(`[quorum] ERROR: ${message}`);
      log.warn({ err: e }, 'rebuild fault');
      report = { ...base, status: 'error', reason: isQuorumError(e) ? e.code : 'internal', message, ...known, timings };
    }
  } finally {
    await rm(jobDir, { recursive: true, force: true }).catch(() => undefined);
  }
  const logText = `${lines.join('\n')}\n`;
  await client.uploadLog(job.rebuildId, logText);
  // results are signed (failures too); a fault is not a result and is not signed
  const bundle = report.status === 'error' ? undefined : await deps.signer.signStatement(statementOf(job, report, recipe, config, builderStabilizers, started, logText));
  await client.report({ ...report, ...(bundle ? { bundle } : {}) });
  log.info({ status: report.status, reason: report.reason, sha256: report.artifact?.sha256 }, 'rebuild reported');
}

/** The in-toto statement this worker signs about one finished rebuild. */
function statementOf(
  job: RebuildJob,
  report: RebuildReport,
  recipe: Record<string, unknown>,
  config: Readonly<WorkerConfig>,
  stabilizers: readonly string[],
  started: number,
  log: string,
) {
  const a = report.artifact;
  return rebuildStatement({
    purl: job.purl,
    releaseId: job.releaseId,
    rebuildId: job.rebuildId,
    builder: { id: config.workerId, operator: config.operator },
    status: report.status === 'succeeded' ? 'succeeded' : 'failed',
    ...(report.reason ? { reason: report.reason } : {}),
    ...(report.message ? { message: report.message } : {}),
    ...(a ? { artifact: { filename: a.filename, sha256: a.sha256, sha512: a.sha512, stabilizedSha256: a.stabilizedSha256, stabilizersApplied: a.stabilizersApplied } } : {}),
    ...(report.upstream ? { published: { sha256: report.upstream.sha256, sha512: report.upstream.sha512 } } : {}),
    ...(report.source ? { source: report.source } : {}),
    recipe,
    ...(report.imageDigest ? { imageDigest: report.imageDigest } : {}),
    stabilizers,
    // provenance records what ran; the recipe (inside `recipe`) what was asked for
    ...(report.toolchainUsed ?? report.toolchain ? { toolchain: { ...report.toolchain, ...report.toolchainUsed } } : {}),
    startedOn: new Date(started).toISOString(),
    finishedOn: new Date().toISOString(),
    log: { sha256: createHash('sha256').update(log).digest('hex'), bytes: Buffer.byteLength(log) },
  });
}
