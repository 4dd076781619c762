import { normalizeRepoDirectory, QuorumError, type PinnedSourceRef, type ReleasePurl, type ResolvedSource, type SourceRecipe } from '@quorum/core';
import { versionManifestFor } from '@quorum/ecosystems';
import { gitFetchCommit, gitLocal, gitLsRemote, gitReadBlobs, gitTarget, type EgressPolicy } from '@quorum/net';
import { resolvePackageDir } from './package-dir.js';

/** A manifest larger than this is not read when checking a commit found by history search. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/** How the fetch phase reaches source repositories. */
export interface SourceFetchOptions {
  policy: EgressPolicy;
  /** accept `file:` repositories (the operator's own disk; never on a public farm) */
  allowLocal: boolean;
  signal?: AbortSignal;
  /**
   * what the release pinned: a commit the coordinator found by history search (no tag exists) is
   * fetched only when no tag resolves here either, and accepted only after this worker checks it
   */
  pinned?: PinnedSourceRef;
  /** the release being rebuilt, whose name and version such a commit's manifest must declare */
  release?: { ecosystem: string; purl: ReleasePurl };
}

/**
 * Fetches exactly the commit to build and checks it out: the recipe's commit, else the commit of
 * the first of its tags that resolves (looked up by this worker with `git ls-remote`, never taken
 * from the coordinator), else a commit the release pinned by history search, once this worker has
 * read the release's own name and version in its manifest there. The commit alone is fetched
 * (depth 1; everything only when the server refuses a fetch by SHA) and must be on a branch or tag
 * of the repository. Then verifies the checked-out SHA and that the package directory is a real
 * directory inside the checkout. Returns the resolved source and the package directory on the host.
 * Failures are `source-not-found` (or the net client's `egress-refused` / `invalid-input` refusals).
 */
export async function fetchSource(recipe: SourceRecipe, dir: string, log: (line: string) => void, opts: SourceFetchOptions): Promise<ResolvedSource & { packageDir: string }> {
  // the operator's mirror is their own disk or host: allowed whatever the farm allows submitters
  const via = gitTarget(recipe.repo, opts.policy.gitMirrors);
  if (via.mirrored) log(`[quorum] ${recipe.repo} is fetched from the operator's mirror`);
  const remote = { policy: opts.policy, allowLocal: opts.allowLocal || via.mirrored, ...(opts.signal ? { signal: opts.signal } : {}) };
  let commit = recipe.commit;
  let ref: string | undefined;
  let fromHistory = false;
  if (!commit) {
    log(`[quorum] git ls-remote ${recipe.repo} (tags ${recipe.refs.join(', ')})`);
    const resolved = await gitLsRemote(via.url, recipe.refs, remote);
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
  const fetched = await gitFetchCommit(via.url, dir, commit, remote);
  log(`[quorum] fetched ${fetched.depth === 'shallow' ? 'that commit alone (depth 1)' : 'every branch and tag (the server refused a fetch by SHA)'}; ${fetched.reachableFrom} holds it`);
  const local = (args: string[]) => gitLocal(args, { cwd: dir, ...(opts.signal ? { signal: opts.signal } : {}) });
  await local(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit]).catch(() => {
    throw new QuorumError('source-not-found', `commit ${commit} cannot be checked out from ${recipe.repo}`);
  });
  const head = (await local(['rev-parse', 'HEAD'])).trim();
  if (head !== commit) throw new QuorumError('source-not-found', `checked out ${head}, expected ${commit}`);
  if (fromHistory) await checkManifest(dir, head, recipe.directory, opts, log);
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

/** A commit found by history search must declare the release's own name and version in its manifest. */
async function checkManifest(dir: string, commit: string, directory: string | undefined, opts: SourceFetchOptions, log: (line: string) => void): Promise<void> {
  const manifest = opts.release ? versionManifestFor(opts.release.ecosystem) : undefined;
  if (!opts.release || !manifest) throw new QuorumError('source-not-found', `commit ${commit} was found by history search, which this worker cannot check for this release`);
  const file = [normalizeRepoDirectory(directory ?? ''), manifest.file].filter((p) => p !== '').join('/');
  const name = manifest.nameOf(opts.release.purl);
  const version = opts.release.purl.version;
  const local = { cwd: dir, ...(opts.signal ? { signal: opts.signal } : {}) };
  // the blob as committed (a committed link is its target's name, which declares nothing)
  const blob = (await gitLocal(['rev-parse', '--verify', '--quiet', `${commit}:${file}`], local).catch(() => '')).trim();
  const text = blob ? (await gitReadBlobs([blob], { ...local, maxBytes: MAX_MANIFEST_BYTES })).get(blob) : undefined;
  const id = text ? manifest.identity(text.toString('utf8')) : {};
  if (id.name !== name || id.version !== version) {
    const says = text ? `declares ${id.name ?? '(no name)'}@${id.version ?? '(no version)'}` : 'is not a readable manifest';
    throw new QuorumError('source-not-found', `commit ${commit}, pinned by history search, is not ${name}@${version}: ${file} there ${says}`);
  }
  log(`[quorum] ${file} at ${commit} declares ${name}@${version}: the commit found by history search checks out`);
}
