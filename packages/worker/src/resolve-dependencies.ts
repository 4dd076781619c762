import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuorumError, type Builder, type BuildLimits, type FetchedInputs, type ReleasePurl, type ResolveRequest, type Sandbox } from '@quorum/core';
import type { EgressPolicy } from '@quorum/net';
import type { BuildSlots } from './build-slots.js';
import { readSmallOutput } from './read-outputs.js';
import { RegistryView, type RegistryViewOptions } from './registry-view.js';

/** Largest lockfile a resolution may write. */
const MAX_LOCKFILE_BYTES = 32 * 2 ** 20;
const PLAIN_FILE = /^[A-Za-z0-9][\w.-]{0,127}$/;

/** Everything one resolution needs; the sandbox, slots and cache are the worker's. */
export interface ResolveDependenciesInput {
  builder: Builder;
  request: ResolveRequest;
  purl: ReleasePurl;
  toolchain: Record<string, string>;
  image: string;
  limits: BuildLimits;
  /** the tools, already under the inputs directory */
  tools: FetchedInputs;
  /** resolve as the registry stood then (the release's publish time), when the registry says */
  before?: string;
  /** an empty directory of this job for the resolution's own files */
  workDir: string;
  /** bounds of the registry view, when not its defaults */
  viewLimits?: Pick<RegistryViewOptions, 'maxRequests' | 'maxTotalBytes' | 'maxDocumentBytes' | 'maxConcurrent'>;
  /** this worker's directory for registry-view sockets (short, emptied at start); @defaultValue the system's temporary directory */
  viewsDir?: string;
  inputsDir: string;
  registry: string;
  policy: EgressPolicy;
  sandbox: Sandbox;
  slots: BuildSlots;
  signal: AbortSignal;
  labels: Record<string, string>;
}

/** A resolved lockfile, or why the release's dependencies cannot be resolved (a fact about it), with the resolution's log. */
export type ResolveOutcome = { log: string } & ({ ok: true; lockfile: string; sha256: string; requests: number } | { ok: false; message: string });

/**
 * Resolves a dependency set for a source that commits none, in the sandbox (no network but a
 * read-only registry view served by this worker under its egress policy). A registry that failed
 * during it is this worker's fault (thrown, so the rebuild goes elsewhere); a resolution that fails
 * on a registry that answered is the release's (`ok: false`).
 */
export async function resolveDependencies(input: ResolveDependenciesInput): Promise<ResolveOutcome> {
  const { builder, request } = input;
  if (!builder.resolvePlan) return { ok: false, message: `the ${builder.ecosystem} builder cannot resolve dependencies`, log: '' };
  const names = [...Object.keys(request.files), request.lockfile];
  const bad = names.find((n) => !PLAIN_FILE.test(n));
  if (bad !== undefined) throw new QuorumError('internal', `the builder asked for a resolution file named ${JSON.stringify(bad.slice(0, 100))}`);
  const sourceDir = join(input.workDir, 'src');
  const outputDir = join(input.workDir, 'out');
  for (const dir of [sourceDir, outputDir]) await mkdir(dir, { recursive: true, mode: 0o755 });
  // the socket's directory: this worker's own (0711: the build's uid may pass, nobody may list), unless
  // that path is too long for a Unix socket (108 bytes), then the system's temporary directory
  const parent = input.viewsDir !== undefined && Buffer.byteLength(join(input.viewsDir, 'view-XXXXXX', 'registry.sock')) <= 100 ? input.viewsDir : tmpdir();
  await mkdir(parent, { recursive: true, mode: 0o711 });
  const registryDir = await mkdtemp(join(parent, 'view-'));
  await chmod(registryDir, 0o711);
  try {
    return await resolveIn(input, sourceDir, outputDir, registryDir);
  } finally {
    await rm(registryDir, { recursive: true, force: true });
  }
}

async function resolveIn(input: ResolveDependenciesInput, sourceDir: string, outputDir: string, registryDir: string): Promise<ResolveOutcome> {
  const { builder, request } = input;
  for (const [name, content] of Object.entries(request.files)) await writeFile(join(sourceDir, name), content, { mode: 0o644 });
  const plan = builder.resolvePlan!({
    purl: input.purl,
    toolchain: input.toolchain,
    image: input.image,
    limits: input.limits,
    inputs: input.tools,
    ...(input.before ? { before: input.before } : {}),
  });
  const { before } = input;
  const asOf = before && builder.documentAsOf ? (body: Uint8Array) => builder.documentAsOf!(body, before) : undefined;
  const view = await RegistryView.start(registryDir, { registry: input.registry, policy: input.policy, signal: input.signal, ...input.viewLimits, ...(asOf ? { rewrite: asOf } : {}) });
  let result;
  try {
    result = await input.slots.run(() => input.sandbox.run(plan, { sourceDir, outputDir, inputsDir: input.inputsDir, registryDir }, { signal: input.signal, labels: input.labels }));
  } finally {
    await view.close();
  }
  const log = result.log.replace(/\n$/, '');
  if (result.outcome === 'aborted') throw new QuorumError('internal', 'dependency resolution aborted: worker shutting down');
  // the release's own tree crossed a bound: the same on every worker
  if (view.stats.limit) return { ok: false, message: `dependency resolution needs ${view.stats.limit}, over this farm's limits`, log };
  if (view.stats.faults > 0) {
    throw new QuorumError('upstream-unavailable', `the registry failed during dependency resolution: ${view.stats.firstFault ?? 'unknown'}`);
  }
  if (result.outcome !== 'ok') {
    const why = { error: `it exited with code ${result.exitCode}`, timeout: `it did not finish in ${plan.limits.timeoutMs / 1000} s`, oom: 'it ran out of memory' }[result.outcome];
    return { ok: false, message: `dependency resolution failed: ${why}${errorLines(log)}`, log };
  }
  const lockfile = await readSmallOutput(outputDir, request.lockfile, { maxBytes: MAX_LOCKFILE_BYTES });
  if (lockfile === undefined) return { ok: false, message: `dependency resolution wrote no ${request.lockfile}`, log };
  return { ok: true, lockfile, sha256: createHash('sha256').update(lockfile).digest('hex'), requests: view.stats.requests, log };
}

/** The resolver's own error lines (e.g. "No matching version"), so that the failure names its cause. */
function errorLines(log: string): string {
  const lines = log
    .split('\n')
    .filter((l) => /\berr(or)?\b|ERR!/i.test(l) && !/complete log|\b(code|errno)\b\s*\S*$/i.test(l))
    .slice(-4)
    .map((l) => l.trim().slice(0, 300));
  return lines.length ? `: ${lines.join('; ')}` : '';
}
