import { lstat, mkdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { isQuorumError, parseReleasePurl, QuorumError, type BuildInput, type Builder, type FetchedInputs, type InputsDecision, type RegistryInput } from '@quorum/core';
import { fetchJson, type EgressPolicy } from '@quorum/net';
import { FetchCache } from './fetch-cache.js';

/** Largest plan file (lockfile, manifest) read from a source tree. */
const MAX_PLAN_FILE_BYTES = 32 * 1024 * 1024;
/** Downloads in flight at once. */
const PARALLEL_DOWNLOADS = 8;
/** Most files the fetch phase downloads for one build (tools and locked dependencies). */
export const MAX_INPUTS = 20_000;
/** Most bytes the fetch phase downloads for one build, in all. @defaultValue 4 GiB */
export const MAX_INPUT_BYTES = 4 * 2 ** 30;
/** Most bytes of one downloaded input. @defaultValue 256 MiB */
const MAX_INPUT_FILE_BYTES = 256 * 2 ** 20;

/** The plan-file prefix that names a file of the repository root (see `Builder.planFiles`). */
const ROOT_PREFIX = 'root/';

/**
 * Reads the builder's plan files from the package directory; symlinks and oversized files are refused.
 * Names under `root/` are read from `rootDir` (the repository root), only when the package directory
 * is below it: a package at the root has no other root.
 */
export async function readPlanFiles(packageDir: string, names: readonly string[], rootDir?: string): Promise<Record<string, string | undefined>> {
  const files: Record<string, string | undefined> = {};
  const belowRoot = rootDir !== undefined && (await realpath(rootDir).catch(() => rootDir)) !== (await realpath(packageDir).catch(() => packageDir));
  for (const name of names) {
    const fromRoot = name.startsWith(ROOT_PREFIX);
    if (fromRoot && !belowRoot) continue;
    const path = fromRoot ? join(rootDir!, name.slice(ROOT_PREFIX.length)) : join(packageDir, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info) continue;
    // a link could point anywhere on the worker's disk
    if (!info.isFile()) throw new QuorumError('source-not-found', `${name} in the source is not a regular file`);
    if (info.size > MAX_PLAN_FILE_BYTES) throw new QuorumError('source-not-found', `${name} in the source is over ${MAX_PLAN_FILE_BYTES} bytes`);
    files[name] = await readFile(path, 'utf8');
  }
  return files;
}

/** A path under a directory, refused when it would leave it. */
function inside(dir: string, path: string): string {
  const target = normalize(join(dir, path));
  if (!target.startsWith(`${dir}/`)) throw new QuorumError('invalid-input', `input path ${path} leaves the inputs directory`);
  return target;
}

/** What one download is for: where it lands, and which of its files to unpack there instead. */
interface Download extends BuildInput {
  files?: Record<string, string>;
}

async function fetchInput(inputsDir: string, input: Download, cache: FetchCache, policy: EgressPolicy, signal: AbortSignal): Promise<{ bytes: number; cached: boolean }> {
  const target = inside(inputsDir, input.path);
  await mkdir(dirname(target), { recursive: true });
  const opts = { policy, signal, maxBytes: MAX_INPUT_FILE_BYTES };
  const got = input.files ? cache.placeUnpacked(input.url, input.integrity, input.files, target, opts) : cache.place(input.url, input.integrity, target, opts);
  return got.catch((e: unknown) => {
    // a locked dependency that is gone is a fact about the release, not a fault to retry elsewhere
    if (isQuorumError(e, 'not-found') && !input.files) throw new QuorumError('not-found', `locked dependency ${input.path.replace(/^deps\/[0-9a-f]+-/, '')} is not in the registry (${e.message})`);
    throw e;
  });
}

/**
 * The fetch phase for tools and locked dependencies: resolves each tool in the registry, then
 * downloads everything with its integrity checked into `inputsDir`. No package code runs here.
 */
export async function fetchInputs(
  builder: Builder,
  registry: string,
  decision: InputsDecision,
  inputsDir: string,
  log: (line: string) => void,
  signal: AbortSignal,
  policy: EgressPolicy,
  cache: FetchCache = new FetchCache(join(dirname(inputsDir), '.no-cache'), 0),
): Promise<FetchedInputs> {
  const downloads: Download[] = [];
  const tools: Record<string, string> = {};
  for (const tool of decision.tools) {
    const purl = parseReleasePurl(tool.purl);
    const metadata = await fetchJson(builder.metadataUrl(purl, registry), { policy, signal, timeoutMs: 30_000 }).catch((e: unknown) => {
      if (isQuorumError(e, 'not-found')) throw new QuorumError('not-found', `tool ${tool.purl} is not in the registry`);
      throw e;
    });
    const artifact = builder.artifactIn(metadata, purl.version);
    if (!artifact) throw new QuorumError('not-found', `tool ${tool.purl} is not in the registry`);
    // the builder's pin, not the registry's word: another tarball fails the download as integrity-mismatch
    downloads.push({ url: artifact.url, integrity: tool.integrity, path: tool.path, ...(tool.files ? { files: tool.files } : {}) });
    tools[purl.name] = tool.path;
    log(`[quorum] tool ${tool.purl} pinned (${tool.integrity.slice(0, 20)}…)${tool.files ? `: ${Object.values(tool.files).join(', ')}` : ''}`);
  }
  downloads.push(...decision.dependencies);
  downloads.push(...(await resolveRegistryInputs(builder, registry, decision.registryDependencies ?? [], policy, signal)));
  // a hostile lockfile must not occupy a worker for days or fill its disk
  if (downloads.length > MAX_INPUTS) throw new QuorumError('unsafe-archive', `the build needs ${downloads.length} downloads, over the limit of ${MAX_INPUTS}`);
  const registryCount = decision.registryDependencies?.length ?? 0;
  if (decision.dependencies.length > 0) log(`[quorum] fetching ${decision.dependencies.length} locked dependencies with their integrity checked`);
  if (registryCount > 0) log(`[quorum] fetching ${registryCount} locked dependencies with the integrity the registry's metadata names (the lockfile pins them otherwise)`);
  const queue = [...downloads];
  let total = 0;
  let fromCache = 0;
  // the first failure stops the other downloads too: nothing keeps writing once the job gave up
  const failed = new AbortController();
  const each = AbortSignal.any([signal, failed.signal]);
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL_DOWNLOADS, queue.length) }, async () => {
      try {
        for (let next = queue.shift(); next && !each.aborted; next = queue.shift()) {
          const got = await fetchInput(inputsDir, next, cache, policy, each);
          total += got.bytes;
          if (got.cached) fromCache++;
          if (total > MAX_INPUT_BYTES) throw new QuorumError('unsafe-archive', `the build's downloads exceed ${MAX_INPUT_BYTES} bytes in all`);
        }
      } catch (e) {
        queue.length = 0;
        failed.abort(e);
        throw e;
      }
    }),
  );
  if (downloads.length > 0) log(`[quorum] ${downloads.length} inputs in place (${fromCache} from this worker's cache, checked again), ${Math.round(total / 2 ** 20)} MiB`);
  return { tools, install: decision.install, dependencyCount: decision.dependencies.length + registryCount, ...(decision.planOptions ? { planOptions: decision.planOptions } : {}) };
}

/**
 * Downloads for packages whose lockfile pins no artifact integrity: each package's metadata is
 * fetched once (however many versions are locked) and its artifact checked against the integrity
 * the metadata names. The build's own tool checks them against the lockfile again.
 */
async function resolveRegistryInputs(builder: Builder, registry: string, wanted: readonly RegistryInput[], policy: EgressPolicy, signal: AbortSignal): Promise<Download[]> {
  if (wanted.length > MAX_INPUTS) throw new QuorumError('unsafe-archive', `the build needs ${wanted.length} downloads, over the limit of ${MAX_INPUTS}`);
  const parsed = wanted.map((w) => ({ ...w, purl: parseReleasePurl(w.purl) }));
  const urls = [...new Set(parsed.map((p) => builder.metadataUrl(p.purl, registry)))];
  const metadata = new Map<string, unknown>();
  const queue = [...urls];
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL_DOWNLOADS, queue.length) }, async () => {
      for (let url = queue.shift(); url && !signal.aborted; url = queue.shift()) {
        metadata.set(url, await fetchJson(url, { policy, signal, timeoutMs: 30_000 }));
      }
    }),
  ).catch((e: unknown) => {
    queue.length = 0;
    if (isQuorumError(e, 'not-found')) throw new QuorumError('not-found', `a locked dependency is not in the registry (${(e as Error).message})`);
    throw e;
  });
  return parsed.map((p) => {
    const artifact = builder.artifactIn(metadata.get(builder.metadataUrl(p.purl, registry)), p.purl.version);
    if (!artifact) throw new QuorumError('not-found', `locked dependency ${p.purl.namespace ? `${p.purl.namespace}/` : ''}${p.purl.name}@${p.purl.version} is not in the registry`);
    return { url: artifact.url, integrity: artifact.integrity, path: p.path };
  });
}
