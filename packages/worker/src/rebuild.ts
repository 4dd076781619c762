import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { rebuildStatement, type StatementSigner } from '@quorum/attest';
import { analyzeArtifact } from '@quorum/compare';
import {
  clipNotes,
  isQuorumError,
  parseReleasePurl,
  readReleaseMetadata,
  pinnedSourceProblem,
  QuorumError,
  repoUrlProblem,
  type ArtifactDigests,
  type FetchedInputs,
  type QuorumErrorCode,
  type RebuildJob,
  type RebuildReport,
  type RebuildSpec,
  type ResolvedSource,
  type Sandbox,
} from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import { downloadPinned, fetchBytes, fetchJson, type EgressPolicy } from '@quorum/net';
import type { BuildSlots } from './build-slots.js';
import type { CoordinatorClient } from './coordinator-client.js';
import type { WorkerConfig } from './config.js';
import type { FetchCache } from './fetch-cache.js';
import { fetchInputs, readPlanFiles } from './fetch-inputs.js';
import { fetchSource } from './fetch-source.js';
import { copyOutput, pickArtifact, readSmallOutput } from './read-outputs.js';
import { resolveDependencies, type ResolveOutcome } from './resolve-dependencies.js';

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
  /** what the fetch phase may reach */
  egress: EgressPolicy;
  /** this worker instance (its data dir): labels its containers, so orphan clean-up never touches another farm's */
  instanceId: string;
  /** fetched tarballs and tools, kept by integrity and checked again on every use */
  cache: FetchCache;
}

/** Rebuilt artifacts up to this size are uploaded for file-level diffs. */
const MAX_ARTIFACT_UPLOAD_BYTES = 256 * 1024 * 1024;
/** A build controls its toolchain record: only a small file is read. */
const MAX_TOOLCHAIN_FILE_BYTES = 4096;

/** A build-level failure: recorded as the rebuild's result, never retried. */
class BuildFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where a rebuild is; the same error code means different things in different phases. */
type Phase = 'metadata' | 'artifact' | 'source' | 'inputs' | 'resolve' | 'build' | 'outputs';

/**
 * The failure reason of an error that is a fact about the release (the same on every worker), or
 * undefined for a fault (this worker, the coordinator or a registry being unavailable), which the
 * coordinator answers by reassigning the rebuild.
 */
function deterministicReason(e: unknown, phase: Phase): string | undefined {
  if (e instanceof BuildFailure) return e.reason;
  if (isQuorumError(e)) {
    const byCode: Partial<Record<QuorumErrorCode, string>> = {
      'source-not-found': 'source-not-found',
      'integrity-mismatch': 'integrity-mismatch',
      'egress-refused': 'egress-refused',
      'unsafe-output': 'unsafe-output',
      'unsafe-archive': phase === 'outputs' ? 'unsafe-artifact' : 'unsafe-archive',
      'not-found': { metadata: 'version-not-found', artifact: 'artifact-not-found', inputs: 'dependency-not-found', resolve: 'dependency-not-found' }[phase as string] ?? 'not-found',
      'invalid-input': { source: 'source-refused', inputs: 'unpinned-dependency', resolve: 'dependencies-unresolvable' }[phase as string] ?? 'invalid-input',
    };
    return byCode[e.code];
  }
  // a programming error repeats on every worker and every retry: a result, so the release still ends;
  // system errors (disk full, permissions) are this machine's faults
  if (e instanceof Error && !(e as NodeJS.ErrnoException).code && !(e.name === 'AbortError')) return 'worker-error';
  return undefined;
}

/**
 * Runs one rebuild end to end on this worker: spec from the coordinator, fetch phase (registry
 * metadata, published artifact, source at the exact commit, under the egress policy), hermetic
 * build, no-follow reading of its outputs, hashing, then log upload and signed report. Independent
 * of the coordinator's copy of anything it can fetch itself.
 */
export async function runRebuild(job: RebuildJob, deps: RebuildDeps, stop: AbortSignal): Promise<void> {
  const { config, sandbox, client, egress } = deps;
  // the spec comes over the signed channel; the queue payload is only ids
  const spec = await client.started(job.rebuildId);
  // past its deadline the coordinator has given the rebuild to another worker: stop working on it
  const remaining = Date.parse(spec.deadline) - Date.now();
  const signal = AbortSignal.any([stop, AbortSignal.timeout(Number.isFinite(remaining) ? Math.max(1000, remaining) : 1000)]);
  const log = deps.logger.child({ rebuildId: spec.rebuildId, releaseId: spec.releaseId, purl: spec.purl });
  const started = Date.now();
  const lines: string[] = [];
  const jobDir = join(config.dataDir, 'jobs', spec.rebuildId);
  // nothing public names a path of this machine
  const scrub = (text: string) => text.split(jobDir).join('<job>').split(config.dataDir).join('<worker-data>');
  const note = (line: string) => lines.push(scrub(line));
  const base = { v: 1 as const, rebuildId: spec.rebuildId, workerId: config.workerId };
  let phase: Phase = 'metadata';
  // where the time goes, for operators sizing a farm (logged with the report, not signed)
  const phaseMs: Partial<Record<Phase | 'report', number>> = {};
  let phaseStart = started;
  const enter = (next: Phase | 'report') => {
    const now = Date.now();
    phaseMs[phase] = (phaseMs[phase] ?? 0) + now - phaseStart;
    phaseStart = now;
    if (next !== 'report') phase = next;
  };
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

  log.info('rebuild started');
  note(`[quorum] worker ${config.workerId} (operator ${config.operator}) rebuilding ${spec.purl}`);

  let report: RebuildReport;
  try {
    await rm(jobDir, { recursive: true, force: true });
    await mkdir(join(jobDir, 'out'), { recursive: true, mode: 0o755 });
    const purl = parseReleasePurl(spec.purl);
    const builder = builderFor(spec.ecosystem);
    builderStabilizers = builder.stabilizers;
    const registry = config.registries[builder.ecosystem]!;
    const purlProblem = builder.purlProblem(purl);
    if (purlProblem) throw new BuildFailure('invalid-purl', purlProblem);

    // fetch phase: everything this worker uses comes from its own fetches
    const metadata = await readReleaseMetadata(
      builder,
      purl,
      registry,
      async (url, as) => {
        if (as === 'json') return fetchJson(url, { policy: egress, signal, timeoutMs: 30_000 });
        const { body } = await fetchBytes(url, { policy: egress, signal, timeoutMs: 30_000 });
        return as === 'text' ? body.toString('utf8') : body;
      },
      config.builderSettings[builder.ecosystem],
    );
    const inferred = builder.inferRecipe(purl, metadata, spec.overrides, spec.mapping);
    if (!inferred.ok) throw new BuildFailure(inferred.code, inferred.message);
    toolchain = inferred.toolchain;
    recipe = { ...inferred.source, toolchain, overrides: spec.overrides, upstream: inferred.upstream };
    for (const step of inferred.source.steps) note(`[quorum] recipe: ${step}`);
    for (const n of inferred.notes ?? []) {
      notes.push(n);
      note(`[quorum] note: ${n}`);
    }
    const drift = pinnedSourceProblem(spec.pinned, inferred.source, 'as this worker reads the registry, it names');
    if (drift) throw new BuildFailure('source-mismatch', drift);
    if (spec.upstream && spec.upstream.integrity !== inferred.upstream.integrity) {
      throw new BuildFailure('upstream-inconsistent', `registry ${registry} serves integrity ${inferred.upstream.integrity}, the coordinator saw ${spec.upstream.integrity}`);
    }
    enter('artifact');
    const publishedFile = join(jobDir, 'published');
    note(`[quorum] fetching published artifact ${inferred.upstream.url}`);
    const pinnedBy = builder.artifactIntegrity === 'none' ? undefined : inferred.upstream.integrity;
    if (pinnedBy === undefined) note("[quorum] the registry pins no digest of the published artifact: the coordinator's first download is the reference");
    await downloadPinned(inferred.upstream.url, pinnedBy, publishedFile, { policy: egress, signal });
    const published = await analyzeArtifact(builder.artifactFormat, publishedFile, { stabilizers: builder.stabilizers });
    const integrityProblem = builder.integrityProblem?.(inferred.upstream.integrity, published);
    if (integrityProblem) throw new QuorumError('integrity-mismatch', integrityProblem);
    upstream = published;
    enter('source');
    const repoProblem = repoUrlProblem(inferred.source.repo, config.allowLocalRepos);
    if (repoProblem) throw new BuildFailure('source-refused', repoProblem);
    const fetched = await fetchSource(inferred.source, join(jobDir, 'src'), note, {
      policy: egress,
      allowLocal: config.allowLocalRepos,
      signal,
      pinned: spec.pinned,
      release: { ecosystem: builder.ecosystem, purl, ...(inferred.publishedAt ? { publishedAt: inferred.publishedAt } : {}) },
    });
    const { packageDir, ...resolved } = fetched;
    // a result naming another commit than the pin would be refused as a statement about another source
    // (and the rebuild replaced, again and again): a moved tag is reported as this release's failure
    if (spec.pinned.commit && resolved.commit !== spec.pinned.commit) {
      throw new BuildFailure('source-mismatch', `${resolved.ref ? `tag ${resolved.ref}` : 'the recipe'} resolves to ${resolved.commit} here; the release pinned ${spec.pinned.commit}`);
    }
    source = resolved;
    enter('inputs');
    const planFiles = await readPlanFiles(packageDir, builder.planFiles, join(jobDir, 'src'), builder.planFileLimits);
    // what decideInputs may weigh of the release: its version, and what the metadata says of the published artifact
    // a builder's reading of a file it cannot make sense of leaves the facts as the metadata gave them
    const shown = builder.publishedFacts ? await builder.publishedFacts(publishedFile).catch(() => ({})) : {};
    const facts = { ...inferred.facts, ...shown };
    const release = { version: purl.version, ...(Object.keys(facts).length > 0 ? { facts } : {}) };
    let decision = builder.decideInputs(planFiles, toolchain, registry, release);
    notes.push(...decision.notes);
    for (const n of decision.notes) note(`[quorum] note: ${n}`);
    if (decision.problem) throw new BuildFailure(decision.problem.code, decision.problem.message);
    const inputsDir = join(jobDir, 'inputs');
    await mkdir(inputsDir, { recursive: true, mode: 0o755 });
    const tools = decision.tools;
    let resolvedLock: { path: string; name: string; sha256: string } | undefined;
    let toolInputs: FetchedInputs | undefined;
    if (decision.resolve) {
      // no lockfile in the source: resolve the dependency set in the sandbox, then decide again with it
      enter('resolve');
      toolInputs = await fetchInputs(builder, registry, { ...decision, dependencies: [], install: false }, inputsDir, note, signal, egress, deps.cache);
      imageDigest = await sandbox.imageDigest(builder.imageTag);
      if (!imageDigest) throw new QuorumError('internal', `builder image ${builder.imageTag} is not on this worker's Docker engine`);
      // as the registry stood at publish time, so that what was published since cannot change what is
      // built; `now` only where the operator says the registry's record of time is not the original's
      const before = config.resolveAsOf === 'publish-time' ? inferred.publishedAt : undefined;
      const asOfWhy = config.resolveAsOf === 'now' ? "this farm's registry does not keep the original publish times (the operator's setting)" : 'the registry records no publish time for this release';
      note(`[quorum] resolving dependencies ${before ? `as the registry stood at ${before}` : 'as the registry is now'}, in ${imageDigest} (no network but a read-only view of the farm's registry)`);
      const outcome: ResolveOutcome = await resolveDependencies({
        builder,
        request: decision.resolve,
        purl,
        toolchain,
        image: imageDigest,
        limits: config.limits,
        tools: toolInputs,
        ...(before ? { before } : {}),
        workDir: join(jobDir, 'resolve'),
        viewsDir: join(config.dataDir, 'views'),
        inputsDir,
        registry,
        policy: egress,
        sandbox,
        slots: deps.slots,
        signal,
        labels: { 'quorum.worker': config.workerId, 'quorum.instance': deps.instanceId, 'quorum.rebuild': spec.rebuildId },
      });
      if (outcome.log) lines.push(scrub(outcome.log));
      if (!outcome.ok) throw new BuildFailure('dependencies-unresolvable', `${outcome.message}${before ? ` (as the registry stood at ${before})` : ''}`);
      const again = builder.decideInputs({ ...planFiles, [decision.resolve.lockfile]: outcome.lockfile }, toolchain, registry, release);
      if (again.problem) throw new BuildFailure('dependencies-unresolvable', `the resolved ${decision.resolve.lockfile}: ${again.problem.message}`);
      if (again.resolve) throw new BuildFailure('dependencies-unresolvable', `the resolution wrote no usable ${decision.resolve.lockfile}`);
      resolvedLock = { path: `resolved/${decision.resolve.lockfile}`, name: decision.resolve.lockfile, sha256: outcome.sha256 };
      await mkdir(join(inputsDir, 'resolved'), { mode: 0o755 });
      await writeFile(join(inputsDir, resolvedLock.path), outcome.lockfile, { mode: 0o444 });
      const asOf = before ? `as the registry stood at ${before}` : `as the registry was at build time, because ${asOfWhy}`;
      const resolvedNote = `dependencies resolved by this farm ${asOf}: ${again.dependencies.length} locked packages, ${resolvedLock.name} sha256 ${resolvedLock.sha256}`;
      notes.push(resolvedNote);
      note(`[quorum] note: ${resolvedNote}`);
      decision = { ...again, tools: [], notes: [] };
      enter('inputs');
    }
    const fetchedInputs = await fetchInputs(builder, registry, decision, inputsDir, note, signal, egress, deps.cache);
    const inputs: FetchedInputs = { ...fetchedInputs, tools: { ...toolInputs?.tools, ...fetchedInputs.tools }, ...(resolvedLock ? { resolvedLockfile: resolvedLock.path } : {}) };
    recipe = {
      ...recipe,
      inputs: [
        ...tools,
        ...decision.dependencies.map((d) => ({ url: d.url, integrity: d.integrity })),
        ...(decision.registryDependencies ?? []).map((d) => ({ purl: d.purl, integrityFrom: 'registry metadata' })),
      ],
      install: decision.install,
      // when the registry says the release was published: builds that read the clock see that time
      ...(inferred.publishedAt ? { publishedAt: inferred.publishedAt } : {}),
      // the steps the build runs beyond the install and the pack (builder-defined, e.g. a version set at publish)
      ...(decision.planOptions && Object.keys(decision.planOptions).length > 0 ? { planOptions: decision.planOptions } : {}),
      ...(resolvedLock ? { resolvedLockfile: { name: resolvedLock.name, sha256: resolvedLock.sha256 } } : {}),
    };
    fetchMs = Date.now() - started;

    // build phase: no network, pinned image
    enter('build');
    imageDigest ??= await sandbox.imageDigest(builder.imageTag);
    if (!imageDigest) throw new QuorumError('internal', `builder image ${builder.imageTag} is not on this worker's Docker engine`);
    const plan = builder.plan({ purl, source, toolchain, image: imageDigest, limits: config.limits, inputs, ...(inferred.publishedAt ? { publishedAt: inferred.publishedAt } : {}) });
    note(`[quorum] build in ${imageDigest} (network none, read-only root, uid ${plan.user}, timeout ${plan.limits.timeoutMs / 1000} s)`);
    let outDir = join(jobDir, 'out');
    const runBuild = (outputDir: string) =>
      deps.slots.run(() =>
        sandbox.run(
          plan,
          { sourceDir: join(jobDir, 'src'), outputDir, ...(plan.inputsMount ? { inputsDir } : {}) },
          {
            signal,
            labels: { 'quorum.worker': config.workerId, 'quorum.instance': deps.instanceId, 'quorum.rebuild': spec.rebuildId },
          },
        ),
      );
    // what the worker or the builder can name of a failed run: a missing command, then the builder's reading of the log
    const causeOf = (r: typeof result) => {
      const missing = r.outcome === 'error' ? missingCommand(r.exitCode, r.log) : undefined;
      return { missing, named: r.outcome === 'error' && !missing ? builder.explainFailure?.(r.log) : undefined };
    };
    let result = await runBuild(outDir);
    buildMs = result.durationMs;
    exitCode = result.exitCode;
    lines.push(scrub(result.log.replace(/\n$/, '')));
    let cause = causeOf(result);
    if (result.outcome === 'error' && !cause.missing && !cause.named) {
      // a race in the project's own build (a step that outruns the one it needs) fails some runs
      // only: once more, from the same inputs, into an output directory of its own
      note(`[quorum] the build exited with code ${exitCode}; running it once more, as a race in a project's own build fails some runs only`);
      outDir = join(jobDir, 'out-again');
      await mkdir(outDir, { mode: 0o755 });
      result = await runBuild(outDir);
      buildMs += result.durationMs;
      lines.push(scrub(result.log.replace(/\n$/, '')));
      if (result.outcome === 'ok') notes.push(`the build exited with code ${exitCode} once and succeeded when run again from the same inputs (a race in the project's own build)`);
      cause = causeOf(result);
    }
    exitCode = result.exitCode;
    if (result.outcome === 'aborted') throw new QuorumError('internal', 'build aborted: worker shutting down');
    if (result.outcome !== 'ok') {
      if (cause.missing) throw new BuildFailure('build-tool-missing', `build exited with code ${result.exitCode}: ${cause.missing} was not found, so the build could not run as the publisher's did`);
      if (cause.named) throw new BuildFailure(cause.named.reason, `build exited with code ${result.exitCode}: ${cause.named.message}`);
      const why = { error: `build exited with code ${result.exitCode}`, timeout: `build killed after ${plan.limits.timeoutMs / 1000} s`, oom: 'build killed: out of memory' }[result.outcome];
      throw new BuildFailure(result.outcome === 'error' ? 'build-error' : result.outcome, why);
    }

    // outputs: written by the build, so read no-follow, regular files only, bounded
    enter('outputs');
    if (plan.toolchainFile) toolchainUsed = parseToolchain(await readSmallOutput(outDir, plan.toolchainFile, { maxBytes: MAX_TOOLCHAIN_FILE_BYTES }));
    const entry = await pickArtifact(outDir, plan.artifactGlob, { maxBytes: config.maxArtifactBytes }).catch((e: unknown) => {
      if (isQuorumError(e, 'not-found')) throw new BuildFailure('no-artifact', e.message);
      throw e;
    });
    const artifactFile = join(jobDir, 'artifact');
    await copyOutput(outDir, entry.name, artifactFile, { maxBytes: config.maxArtifactBytes });
    const filename = entry.name;
    const artifact = await analyzeArtifact(builder.artifactFormat, artifactFile, { stabilizers: builder.stabilizers }).catch((e: unknown) => {
      if (isQuorumError(e, 'unsafe-archive', 'invalid-input')) throw new BuildFailure('unsafe-artifact', (e as Error).message);
      throw e;
    });
    note(`[quorum] artifact ${filename} sha256 ${artifact.sha256}; published sha256 ${published.sha256}`);
    if (builder.missingOutputs && artifact.stabilizedSha256 !== published.stabilizedSha256) {
      // a partial artifact compared with the published one would be a false alarm on an honest release
      const missing = await builder.missingOutputs(artifactFile, publishedFile).catch(() => [] as string[]);
      if (missing.length > 0) {
        const shown =
          missing
            .slice(0, 5)
            .map((p) => JSON.stringify(p.slice(0, 200)))
            .join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
        throw new BuildFailure(
          'build-incomplete',
          `the rebuilt package lacks ${shown}, which its own manifest names as entry points and the published artifact has: the publisher's build made them and this build did not (a step outside the package, such as a workspace root's release script), so it did not run as the publisher's`,
        );
      }
    }
    // the coordinator keeps the rebuilt bytes to explain a difference file by file; a failed upload
    // costs the explanation, not the result
    if (artifact.size <= MAX_ARTIFACT_UPLOAD_BYTES) {
      await client.uploadArtifact(spec.rebuildId, await readFile(artifactFile)).catch((e: unknown) => note(`[quorum] artifact upload failed: ${(e as Error).message}`));
    }
    report = {
      ...base,
      status: 'succeeded',
      source,
      toolchain,
      ...(toolchainUsed ? { toolchainUsed } : {}),
      imageDigest,
      artifact: { ...artifact, filename },
      upstream: published,
      exitCode,
      timings: { fetchMs, buildMs, totalMs: Date.now() - started },
      ...(notes.length ? { notes: clipNotes(notes) } : {}),
    };
  } catch (e) {
    const reason = signal.aborted ? undefined : deterministicReason(e, phase);
    const message = scrub(e instanceof Error ? e.message : String(e)).slice(0, 4000);
    const timings = { ...(fetchMs !== undefined ? { fetchMs } : {}), ...(buildMs !== undefined ? { buildMs } : {}), totalMs: Date.now() - started };
    const known = {
      ...(notes.length ? { notes: clipNotes(notes) } : {}),
      ...(toolchainUsed ? { toolchainUsed } : {}),
      ...(source ? { source } : {}),
      ...(toolchain ? { toolchain } : {}),
      ...(imageDigest ? { imageDigest } : {}),
      ...(upstream ? { upstream } : {}),
      ...(exitCode !== undefined ? { exitCode } : {}),
    };
    if (reason) {
      if (reason === 'worker-error') log.error({ err: e }, 'rebuild failed on an unexpected error');
      note(`[quorum] FAILED (${reason}): ${message}`);
      report = { ...base, status: 'failed', reason, message, ...known, timings };
    } else {
      // a fault: the coordinator reassigns the rebuild to another worker
      note(`[quorum] ERROR: ${message}`);
      log.warn({ err: e }, 'rebuild fault');
      report = { ...base, status: 'error', reason: isQuorumError(e) ? e.code : 'internal', message, ...known, timings };
    }
  } finally {
    await rm(jobDir, { recursive: true, force: true }).catch(() => undefined);
  }
  enter('report');
  const logText = capLog(`${lines.join('\n')}\n`, MAX_LOG_UPLOAD_BYTES);
  await client.uploadLog(spec.rebuildId, logText).catch((e: unknown) => {
    // a log the coordinator refuses (too often, too large for its settings) costs the log, not the result
    if (!isQuorumError(e, 'conflict', 'invalid-input')) throw e;
    log.warn({ err: (e as Error).message }, 'log upload refused; reporting without it');
  });
  // results are signed (failures too); a fault is not a result and is not signed
  const bundle = report.status === 'error' ? undefined : await deps.signer.signStatement(statementOf(spec, report, recipe, config, builderStabilizers, started, logText));
  await client.report({ ...report, ...(bundle ? { bundle } : {}) });
  phaseMs.report = Date.now() - phaseStart;
  log.info({ status: report.status, reason: report.reason, sha256: report.artifact?.sha256, phaseMs }, 'rebuild reported');
}

/**
 * The command a failed build could not find (the shell's "not found", exit 127), if that is how it
 * failed: a build whose tool is missing did not run as the publisher's, which is not a difference.
 */
export function missingCommand(exitCode: number, log: string): string | undefined {
  const tail = log.slice(-8192);
  const found = [...tail.matchAll(/(?:^|\n)(?:sh|bash|\/bin\/sh)(?:: \d+)?: (?:line \d+: )?([^\s:]{1,100}): (?:command )?not found/g)].pop();
  if (found) return found[1];
  return exitCode === 127 ? 'a command' : undefined;
}

/** Largest log sent to the coordinator, in UTF-8 bytes (its default limit is 8 MiB). @defaultValue 4 MiB */
export const MAX_LOG_UPLOAD_BYTES = 4 * 2 ** 20;

/**
 * A log cut to `maxBytes` of UTF-8: its start and its end (where failures are), with a line saying
 * how much was left out. A build's output decoded with replacement characters can grow when encoded
 * again, so the cut is made on the encoded bytes.
 */
export function capLog(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const head = Math.floor(maxBytes / 4);
  const tail = maxBytes - head - 200;
  const cut = `\n[quorum] … ${bytes.length - head - tail} bytes of log left out …\n`;
  // slicing may split a character: the decoder's replacement characters keep it within a few bytes
  const capped = bytes.subarray(0, head).toString('utf8') + cut + bytes.subarray(bytes.length - tail).toString('utf8');
  return Buffer.byteLength(capped) <= maxBytes ? capped : capped.slice(0, maxBytes / 2);
}

/** The tool versions a build recorded; a build controls this file, so only short strings are kept. */
function parseToolchain(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    const kept = Object.entries(parsed).filter((e): e is [string, string] => /^[a-z][a-z0-9-]{0,31}$/.test(e[0]) && typeof e[1] === 'string' && /^[\x20-\x7e]{1,99}$/.test(e[1]));
    return kept.length ? Object.fromEntries(kept.slice(0, 16)) : undefined;
  } catch {
    return undefined;
  }
}

/** The in-toto statement this worker signs about one finished rebuild. */
function statementOf(spec: RebuildSpec, report: RebuildReport, recipe: Record<string, unknown>, config: Readonly<WorkerConfig>, stabilizers: readonly string[], started: number, log: string) {
  const a = report.artifact;
  return rebuildStatement({
    purl: spec.purl,
    releaseId: spec.releaseId,
    rebuildId: spec.rebuildId,
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
    ...((report.toolchainUsed ?? report.toolchain) ? { toolchain: { ...report.toolchain, ...report.toolchainUsed } } : {}),
    startedOn: new Date(started).toISOString(),
    finishedOn: new Date().toISOString(),
    log: { sha256: createHash('sha256').update(log).digest('hex'), bytes: Buffer.byteLength(log) },
  });
}
