import { latestCommitTimeFor, normalizeRepoDirectory, QuorumError, type PinnedSourceRef, type ReleasePurl, type ResolvedSource, type SourceRecipe } from '@quorum/core';
import { versionManifestFor } from '@quorum/ecosystems';
import { gitFetchCommit, gitLocal, gitLsRemote, gitReadBlobs, gitTarget, gitTreeSize, type EgressPolicy } from '@quorum/net';
import { resolvePackageDir } from './package-dir.js';

/** A manifest larger than this is not read when checking a commit found by history search. */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Most bytes of files a checkout of the source may write. @defaultValue 4 GiB */
export const MAX_SOURCE_BYTES = 4 * 1024 ** 3;
/** Most files (links and submodule entries included) a checkout of the source may write. @defaultValue 500,000 */
export const MAX_SOURCE_ENTRIES = 500_000;

/** How the fetch phase reaches source repositories. */
export interface SourceFetchOptions {
  /** the egress policy, with the operator's git mirrors (applied by the git client) */
  policy: EgressPolicy;
  /** accept `file:` repositories (the operator's own disk; never on a public farm) */
  allowLocal: boolean;
  signal?: AbortSignal;
  /**
   * what the release pinned: a commit the coordinator found by history search (no tag exists) is
   * fetched only when no tag resolves here either, and accepted only after this worker checks it
   */
  pinned?: PinnedSourceRef;
  /**
   * the release being rebuilt, as this worker read it from the registry: the name and version such
   * a commit's manifest must declare (and its parents' must not), and when it was published (the
   * commit must not be later, beyond `PUBLISH_TIME_SLACK_MS`)
   */
  release?: { ecosystem: string; purl: ReleasePurl; publishedAt?: string };
  /** a source tree whose files hold more bytes is refused before checkout; @defaultValue {@link MAX_SOURCE_BYTES} */
  maxSourceBytes?: number;
  /** a source tree with more entries is refused before checkout; @defaultValue {@link MAX_SOURCE_ENTRIES} */
  maxSourceEntries?: number;
}

/**
 * Fetches exactly the commit to build and checks it out: the recipe's commit, else the commit of
 * the first of its tags that resolves (looked up by this worker with `git ls-remote`, never taken
 * from the coordinator), else a commit the release pinned by history search, once this worker has
 * read the release's own name and version in its manifest there, and in none of its parents'. The
 * commit alone is fetched (depth 1, with its parents for a history-found commit; everything only
 * when the server refuses a fetch by SHA) and must be on a branch or tag of the repository. A tree
 * larger than the bounds is refused before anything is checked out. Then verifies the checked-out
 * SHA and that the package directory is a real directory inside the checkout. Returns the resolved
 * source and the package directory on the host. Failures are `source-not-found` (or the net
 * client's `egress-refused` / `invalid-input` refusals).
 */
export async function fetchSource(recipe: SourceRecipe, dir: string, log: (line: string) => void, opts: SourceFetchOptions): Promise<ResolvedSource & { packageDir: string }> {
  // the git client fetches from the operator's mirror, if there is one; this only says so
  if (gitTarget(recipe.repo, opts.policy.gitMirrors).mirrored) log(`[quorum] ${recipe.repo} is fetched from the operator's mirror`);
  const remote = { policy: opts.policy, allowLocal: opts.allowLocal, ...(opts.signal ? { signal: opts.signal } : {}) };
  let commit = recipe.commit;
  let ref: string | undefined;
  let fromHistory = false;
  if (!commit) {
    log(`[quorum] git ls-remote ${recipe.repo} (tags ${recipe.refs.join(', ')})`);
    const resolved = await gitLsRemote(recipe.repo, recipe.refs, remote);
    ref = recipe.refs.find((r) => resolved.has(r));
    if (ref) {
      commit = resolved.get(ref)!;
      log(`[quorum] ref ${ref} resolves to ${commit}`);
    } else if (opts.pinned?.found === 'history' && opts.pinned.commit) {
      commit = opts.pinned.commit;
      fromHistory = true;
      log(`[quorum] none of the refs exists; the release pinned ${commit}, found by history search: checking it`);
    } else {
      throw new QuorumError('source-not-found', `none of the refs ${recipe.refs.join(', ')} exists in ${recipe.repo}`);
    }
  }
  log(`[quorum] git fetch ${recipe.repo} ${commit}`);
  // a history-found commit is checked against its parents' manifests: they come along
  const fetched = await gitFetchCommit(recipe.repo, dir, commit, { ...remote, ...(fromHistory ? { depth: 2 } : {}) });
  const how = fetched.depth === 'full' ? 'every branch and tag (the server refused a fetch by SHA)' : fromHistory ? 'that commit and its parents (depth 2)' : 'that commit alone (depth 1)';
  log(`[quorum] fetched ${how}; ${fetched.reachableFrom} holds it`);
  const localOpts = { cwd: dir, ...(opts.signal ? { signal: opts.signal } : {}) };
  const local = (args: string[]) => gitLocal(args, localOpts);
  if (fromHistory) await checkHistoryCommit(dir, commit, recipe.directory, opts, log);
  await checkTreeSize(dir, commit, opts);
  await local(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit]).catch(() => {
    throw new QuorumError('source-not-found', `commit ${commit} cannot be checked out from ${recipe.repo}`);
  });
  const head = (await local(['rev-parse', 'HEAD'])).trim();
  if (head !== commit) throw new QuorumError('source-not-found', `checked out ${head}, expected ${commit}`);
  const commitTime = Number((await local(['show', '-s', '--format=%ct', 'HEAD'])).trim());
  // a registry-declared directory must be a real directory inside the checkout: no `..`, no symlinked component
  const packageDir = await resolvePackageDir(dir, recipe.directory);
  log(`[quorum] source ${recipe.repo} @ ${head} (commit time ${new Date(commitTime * 1000).toISOString()})`);
  return {
    origin: recipe.origin,
    repo: recipe.repo,
    commit: head,
    ...(ref ? { ref } : {}),
    ...(recipe.directory ? { directory: recipe.directory } : {}),
    commitTime,
    packageDir,
  };
}

/** Refuses, before anything is written, a tree whose checkout would exceed the bounds (a small pack can unpack to gigabytes). */
async function checkTreeSize(dir: string, commit: string, opts: SourceFetchOptions): Promise<void> {
  const maxBytes = opts.maxSourceBytes ?? MAX_SOURCE_BYTES;
  const maxEntries = opts.maxSourceEntries ?? MAX_SOURCE_ENTRIES;
  const size = await gitTreeSize(commit, { cwd: dir, maxEntries, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (size.truncated || size.bytes > maxBytes) {
    const what = size.truncated ? `more than ${maxEntries} files` : `${size.bytes} bytes in ${size.entries} files, more than ${maxBytes}`;
    throw new QuorumError('source-not-found', `commit ${commit}: the source tree is too large (${what})`);
  }
}

/**
 * A commit found by history search must be the one that set the release's version, as the
 * coordinator's search defines it: its manifest declares the release's own name and version, no
 * parent's does (a parent this worker cannot read is a refusal, not a pass), and it was committed
 * no later than the release was published.
 */
async function checkHistoryCommit(dir: string, commit: string, directory: string | undefined, opts: SourceFetchOptions, log: (line: string) => void): Promise<void> {
  const manifest = opts.release ? versionManifestFor(opts.release.ecosystem) : undefined;
  if (!opts.release || !manifest) throw new QuorumError('source-not-found', `commit ${commit} was found by history search, which this worker cannot check for this release`);
  const file = [normalizeRepoDirectory(directory ?? ''), manifest.file].filter((p) => p !== '').join('/');
  const name = manifest.nameOf(opts.release.purl);
  const version = opts.release.purl.version;
  const local = { cwd: dir, ...(opts.signal ? { signal: opts.signal } : {}) };
  const refused = (why: string) => new QuorumError('source-not-found', `commit ${commit}, pinned by history search, ${why}`);

  // the parents the commit itself records: a shallow boundary would hide them from `git log`
  const raw = await gitLocal(['cat-file', 'commit', commit], local);
  const end = raw.indexOf('\n\n');
  const header = end === -1 ? raw : raw.slice(0, end);
  const parents = [...header.matchAll(/^parent ([0-9a-f]{40}(?:[0-9a-f]{24})?)$/gm)].map((m) => m[1]!);
  const committed = Number(/^committer .* (\d+) [+-]\d{4}$/m.exec(header)?.[1]);
  const latest = latestCommitTimeFor(opts.release.publishedAt);
  if (latest !== undefined && !(committed <= latest)) {
    const at = Number.isFinite(committed) ? new Date(committed * 1000).toISOString() : 'an unreadable time';
    throw refused(`was committed at ${at}, after ${name}@${version} was published (${opts.release.publishedAt})`);
  }

  // the manifest as committed (a committed link is its target's name, which declares nothing)
  const names = [`${commit}:${file}`, ...parents.flatMap((p) => [`${p}^{commit}`, `${p}:${file}`])];
  const listed = (await gitLocal(['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], { ...local, input: `${names.join('\n')}\n` })).split('\n');
  const objects = names.map((n, i) => {
    const [sha, type] = (listed[i] ?? '').split(' ');
    return listed[i] === `${n} missing` || sha === undefined || type === undefined ? undefined : { sha, type };
  });
  const blobs = objects.filter((o) => o?.type === 'blob').map((o) => o!.sha);
  const texts = await gitReadBlobs(blobs, { ...local, maxBytes: MAX_MANIFEST_BYTES });
  /** the name and version a manifest declares; undefined when it is there but cannot be read */
  const identity = (o: { sha: string; type: string } | undefined): { name?: string; version?: string } | undefined => {
    if (o === undefined || o.type !== 'blob') return {};
    const text = texts.get(o.sha);
    return text === undefined ? undefined : manifest.identity(text.toString('utf8'));
  };

  const own = objects[0] ? identity(objects[0]) : undefined;
  if (own?.name !== name || own.version !== version) {
    const says = own ? `declares ${own.name ?? '(no name)'}@${own.version ?? '(no version)'}` : 'is not a readable manifest';
    throw refused(`is not ${name}@${version}: ${file} there ${says}`);
  }
  for (const [i, parent] of parents.entries()) {
    if (objects[1 + 2 * i] === undefined) throw refused(`cannot be checked: its parent ${parent} is not in the fetch (a shallow repository?)`);
    const before = identity(objects[2 + 2 * i]);
    if (before === undefined) throw refused(`cannot be checked: ${file} in its parent ${parent} is not a readable manifest`);
    if (before.name === name && before.version === version) throw refused(`did not set ${name}@${version}: ${file} in its parent ${parent} declares it already`);
  }
  log(`[quorum] ${file} at ${commit} declares ${name}@${version}: the commit found by history search checks out`);
}
