import { QuorumError, type ResolvedSource, type SourceRecipe } from '@quorum/core';
import { gitClone, gitLocal, type EgressPolicy } from '@quorum/net';
import { resolvePackageDir } from './package-dir.js';

/** How the fetch phase reaches source repositories. */
export interface SourceFetchOptions {
  policy: EgressPolicy;
  /** accept `file:` repositories (the operator's own disk; never on a public farm) */
  allowLocal: boolean;
  signal?: AbortSignal;
}

/**
 * Clones the source (under the egress policy) and checks out the exact commit of the recipe (or the
 * first ref that resolves), then verifies the checked-out SHA and that the package directory is a
 * real directory inside the clone. Returns the resolved source and the package directory on the host.
 * Failures are `source-not-found` (or the net client's `egress-refused` / `invalid-input` refusals).
 */
export async function fetchSource(recipe: SourceRecipe, dir: string, log: (line: string) => void, opts: SourceFetchOptions): Promise<ResolvedSource & { packageDir: string }> {
  log(`[quorum] git clone ${recipe.repo}`);
  await gitClone(recipe.repo, dir, { policy: opts.policy, allowLocal: opts.allowLocal, ...(opts.signal ? { signal: opts.signal } : {}) });
  const local = (args: string[]) => gitLocal(args, { cwd: dir, ...(opts.signal ? { signal: opts.signal } : {}) });
  let commit = recipe.commit;
  let ref: string | undefined;
  if (!commit) {
    for (const candidate of recipe.refs) {
      const found = await local(['rev-parse', '--verify', '--quiet', `refs/tags/${candidate}^{commit}`]).catch(() =>
        local(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${candidate}^{commit}`]).catch(() => undefined),
      );
      if (found && /^[0-9a-f]{40}$/.test(found.trim())) {
        commit = found.trim();
        ref = candidate;
        log(`[quorum] ref ${candidate} resolves to ${commit}`);
        break;
      }
    }
    if (!commit) throw new QuorumError('source-not-found', `none of the refs ${recipe.refs.join(', ')} exists in ${recipe.repo}`);
  }
  await local(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit]).catch(() => {
    throw new QuorumError('source-not-found', `commit ${commit} is not in ${recipe.repo}`);
  });
  const head = (await local(['rev-parse', 'HEAD'])).trim();
  if (head !== commit && !head.startsWith(commit)) throw new QuorumError('source-not-found', `checked out ${head}, expected ${commit}`);
  const commitTime = Number((await local(['show', '-s', '--format=%ct', 'HEAD'])).trim());
  // a registry-declared directory must be a real directory inside the clone: no `..`, no symlinked component
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
