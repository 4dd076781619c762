import { lstat, mkdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { isQuorumError, parseReleasePurl, QuorumError, type BuildInput, type Builder, type FetchedInputs, type InputsDecision, type RegistryInput, type ReleasePurl } from '@quorum/core';
import { fetchJson, type EgressPolicy } from '@quorum/net';
import { FetchCache } from './fetch-cache.js';

/** Largest plan file (lockfile, manifest) read from a source tree, unless the builder names a lower bound for it. @defaultValue 32 MiB */
export const MAX_PLAN_FILE_BYTES = 32 * 1024 * 1024;
/** Downloads in flight at once. */
const PARALLEL_DOWNLOADS = 8;
/** Most files the fetch phase downloads for one build (tools and locked dependencies). */
export const MAX_INPUTS = 20_000;
/** Most bytes the fetch phase downloads for one build, in all. @defaultValue 4 GiB */
export const MAX_INPUT_BYTES = 4 * 2 ** 30;
/** Most bytes of one downloaded input. @defaultValue 256 MiB */
const MAX_INPUT_FILE_BYTES = 256 * 2 ** 20;

/** Bounds of the registry metadata read for dependencies whose lockfile pins no artifact integrity. */
export interface MetadataLimits {
  /** bytes of all documents together, counted as they arrive (apart from `MAX_INPUT_BYTES`); @defaultValue 512 MiB */
  totalBytes: number;
  /**
   * bytes of one document; the largest real ones without readmes (next, firebase) are about 25 MB, and
   * abbreviated ones are smaller still; @defaultValue 32 MiB
   */
  documentBytes: number;
  /** documents in flight at once (at most `parallel × documentBytes` held while they arrive); @defaultValue 8 */
  parallel: number;
}

/** @defaultValue the bounds of the metadata read for one build */
export const METADATA_LIMITS: Readonly<MetadataLimits> = Object.freeze({ totalBytes: 512 * 2 ** 20, documentBytes: 32 * 2 ** 20, parallel: 8 });

/** The plan-file prefix that names a file of the repository root (see `Builder.planFiles`). */
const ROOT_PREFIX = 'root/';

/**
 * Reads the builder's plan files from the package directory; symlinks and oversized files are refused
 * (`limits`: a lower bound in bytes for some names, e.g. a lockfile whose parser is slow; see
 * `Builder.planFileLimits`). Names under `root/` are read from `rootDir` (the repository root), only
 * when the package directory is below it: a package at the root has no other root.
 */
export async function readPlanFiles(packageDir: string, names: readonly string[], rootDir?: string, limits: Readonly<Record<string, number>> = {}): Promise<Record<string, string | undefined>> {
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
    const limit = Object.hasOwn(limits, name) ? limits[name]! : undefined;
    // a file the build cannot do without: refused as an input this farm cannot pin (`unpinned-dependency`)
    if (limit !== undefined && info.size > limit) throw new QuorumError('invalid-input', `${name} in the source is too large: ${info.size} bytes, over the ${sizeText(limit)} this farm reads of it`);
    files[name] = await readFile(path, 'utf8');
  }
  return files;
}

/** A byte count as people read it (`12 MiB`, `64 KiB`). */
function sizeText(bytes: number): string {
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 2 ** 10 && bytes % 2 ** 10 === 0) return `${bytes / 2 ** 10} KiB`;
  return `${bytes} bytes`;
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
    const metadata = await fetchJson(builder.metadataUrl(purl, registry), {
      policy,
      signal,
      timeoutMs: 30_000,
      ...(builder.metadataAccept ? { headers: { accept: builder.metadataAccept } } : {}),
    }).catch((e: unknown) => {
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
  const registryInputs = await resolveRegistryInputs(builder, registry, decision.registryDependencies ?? [], policy, signal);
  downloads.push(...registryInputs.downloads);
  if (registryInputs.documents > 0)
    log(
      `[quorum] read the registry's metadata of ${registryInputs.documents} packages (${Math.round(registryInputs.bytes / 2 ** 20)} MiB) for the integrity of the locked dependencies the lockfile pins otherwise`,
    );
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

/** The downloads for dependencies checked against the registry's metadata, and what was read for them. */
export interface RegistryInputs {
  downloads: Download[];
  /** metadata documents read */
  documents: number;
  /** bytes of metadata read */
  bytes: number;
}

/**
 * Downloads for packages whose lockfile pins no artifact integrity: each package's metadata is
 * fetched once (however many versions are locked) and its artifact checked against the integrity
 * the metadata names. The build's own tool checks them against the lockfile again. Each document is
 * asked for in the builder's smaller form (`metadataAccept`), read within `limits`, and dropped as
 * soon as the locked versions' artifacts are taken from it: a lockfile naming thousands of packages
 * holds a few documents at a time, never all of them.
 */
export async function resolveRegistryInputs(
  builder: Builder,
  registry: string,
  wanted: readonly RegistryInput[],
  policy: EgressPolicy,
  signal: AbortSignal,
  limits: Readonly<MetadataLimits> = METADATA_LIMITS,
): Promise<RegistryInputs> {
  if (wanted.length > MAX_INPUTS) throw new QuorumError('unsafe-archive', `the build needs ${wanted.length} downloads, over the limit of ${MAX_INPUTS}`);
  const byUrl = new Map<string, { purl: ReleasePurl; at: number }[]>();
  wanted.forEach((w, at) => {
    const purl = parseReleasePurl(w.purl);
    const url = builder.metadataUrl(purl, registry);
    const versions = byUrl.get(url) ?? [];
    versions.push({ purl, at });
    byUrl.set(url, versions);
  });
  const downloads: Download[] = new Array<Download>(wanted.length);
  const queue = [...byUrl.entries()];
  const budget: Budget = {
    left: limits.totalBytes,
    overBudget: () => new QuorumError('unsafe-archive', `the registry's metadata of the ${byUrl.size} packages the lockfile names without integrity is over ${sizeText(limits.totalBytes)} in all`),
  };
  // the first failure stops the other fetches too
  const failed = new AbortController();
  const each = AbortSignal.any([signal, failed.signal]);
  await Promise.all(
    Array.from({ length: Math.min(limits.parallel, queue.length) }, async () => {
      try {
        for (let next = queue.shift(); next && !each.aborted; next = queue.shift()) {
          const [url, versions] = next;
          const name = nameOf(versions[0]!.purl);
          const metadata = await fetchMetadata(url, name, builder.metadataAccept, budget, limits.documentBytes, policy, each).catch((e: unknown) => {
            if (isQuorumError(e, 'not-found')) throw new QuorumError('not-found', `locked dependency ${name} is not in the registry (${(e as Error).message})`);
            throw e;
          });
          for (const { purl, at } of versions) {
            const artifact = builder.artifactIn(metadata, purl.version);
            if (!artifact) throw new QuorumError('not-found', `locked dependency ${name}@${purl.version} is not in the registry`);
            downloads[at] = { url: artifact.url, integrity: artifact.integrity, path: wanted[at]!.path };
          }
        }
      } catch (e) {
        queue.length = 0;
        failed.abort(e);
        throw e;
      }
    }),
  );
  signal.throwIfAborted();
  return { downloads, documents: byUrl.size, bytes: limits.totalBytes - budget.left };
}

/** What the metadata of one build may still take, and how going over it is refused. */
interface Budget {
  left: number;
  overBudget: () => QuorumError;
}

/** A package's name as people write it (`@scope/name`). */
function nameOf(purl: ReleasePurl): string {
  return `${purl.namespace ? `${purl.namespace}/` : ''}${purl.name}`;
}

/** One metadata document under the egress policy, its bytes counted against `budget` and against `maxBytes`. */
function fetchMetadata(url: string, name: string, accept: string | undefined, budget: Budget, maxBytes: number, policy: EgressPolicy, signal: AbortSignal): Promise<unknown> {
  return fetchJson(url, {
    policy,
    signal,
    timeoutMs: 30_000,
    headers: { accept: accept ?? 'application/json' },
    maxBytes,
    tooLarge: () => new QuorumError('unsafe-archive', `the registry's metadata of ${name} is over ${sizeText(maxBytes)}`),
    budget,
  });
}
