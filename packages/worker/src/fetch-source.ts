import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { QuorumError, type ResolvedSource, type SourceRecipe } from '@quorum/core';

/** git without prompts, hooks or local config surprises. */
const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_ASKPASS: 'true', LC_ALL: 'C' };

async function git(args: string[], opts: { cwd?: string; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string> {
  const res = await execa('git', args, {
    cwd: opts.cwd,
    env: GIT_ENV,
    timeout: opts.timeoutMs ?? 300_000,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    reject: false,
  });
  if (res.exitCode !== 0) {
    throw new QuorumError('source-not-found', `git ${args[0]} failed: ${(res.stderr || res.stdout || String(res.exitCode)).trim().split('\n').slice(-3).join(' ')}`);
  }
  return res.stdout.trim();
}

/**
 * Clones the source and checks out the exact commit of the recipe (or the first ref that
 * resolves), then verifies the checked-out SHA. Failures are `source-not-found` build results.
 */
export async function fetchSource(recipe: SourceRecipe, dir: string, log: (line: string) => void, signal?: AbortSignal): Promise<ResolvedSource> {
  log(`[quorum] git clone ${recipe.repo}`);
  await git(['clone', '--quiet', '--no-checkout', '--', recipe.repo, dir], { ...(signal ? { signal } : {}) });
  let commit = recipe.commit;
  let ref: string | undefined;
  if (!commit) {
    for (const candidate of recipe.refs) {
      const found = await git(['rev-parse', '--verify', '--quiet', `refs/tags/${candidate}^{commit}`], { cwd: dir }).catch(() =>
        git(['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`], { cwd: dir }).catch(() => undefined),
      );
      if (found) {
        commit = found;
        ref = candidate;
        log(`[quorum] ref ${candidate} resolves to ${found}`);
        break;
      }
    }
    if (!commit) throw new QuorumError('source-not-found', `none of the refs ${recipe.refs.join(', ')} exists in ${recipe.repo}`);
  }
  await git(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit], { cwd: dir }).catch(() => {
    throw new QuorumError('source-not-found', `commit ${commit} is not in ${recipe.repo}`);
  });
  const head = await git(['rev-parse', 'HEAD'], { cwd: dir });
  if (head !== commit && !head.startsWith(commit)) {
    throw new QuorumError('source-not-found', `checked out ${head}, expected ${commit}`);
  }
  const commitTime = Number(await git(['show', '-s', '--format=%ct', 'HEAD'], { cwd: dir }));
  if (recipe.directory) {
    const ok = await stat(join(dir, recipe.directory)).then((s) => s.isDirectory(), () => false);
    if (!ok) throw new QuorumError('source-not-found', `directory ${recipe.directory} is not in ${recipe.repo}@${head}`);
  }
  log(`[quorum] source ${recipe.repo} @ ${head} (commit time ${new Date(commitTime * 1000).toISOString()})`);
  return { repo: recipe.repo, commit: head, ...(ref ? { ref } : {}), ...(recipe.directory ? { directory: recipe.directory } : {}), commitTime };
}
