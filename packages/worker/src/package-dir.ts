import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { normalizeRepoDirectory, QuorumError, quoteRepoDirectory, repoDirectoryProblem } from '@quorum/core';

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? 'unknown error';
}

/**
 * The absolute host directory of a package inside a checked-out repository, for a directory a
 * registry declared. Throws `invalid-input` when the declared directory is refused, passes through
 * a symbolic link or anything but directories, or resolves outside the clone; `source-not-found`
 * when it is not in the repository. Messages name the directory as declared, never a host path.
 */
export async function resolvePackageDir(cloneDir: string, directory: string | undefined): Promise<string> {
  const declared = directory ?? '';
  const problem = repoDirectoryProblem(declared);
  if (problem) throw new QuorumError('invalid-input', problem);
  const quoted = quoteRepoDirectory(declared);
  let root: string;
  try {
    root = await realpath(cloneDir);
  } catch (e) {
    throw new QuorumError('internal', `the source checkout is not readable (${errnoOf(e)})`, { cause: e });
  }
  const segments = normalizeRepoDirectory(declared)
    .split('/')
    .filter((s) => s !== '');
  let current = root;
  for (let i = 0; i < segments.length; i++) {
    current = join(current, segments[i]!);
    const last = i === segments.length - 1;
    const walked = quoteRepoDirectory(segments.slice(0, i + 1).join('/'));
    let info;
    try {
      info = await lstat(current);
    } catch (e) {
      // ENAMETOOLONG: a name no checkout can hold
      if (['ENOENT', 'ENOTDIR', 'ENAMETOOLONG'].includes(errnoOf(e))) throw new QuorumError('source-not-found', `directory ${quoted} is not in the repository`);
      throw new QuorumError('internal', `cannot inspect directory ${quoted} in the source checkout (${errnoOf(e)})`, { cause: e });
    }
    // a committed link could lead anywhere on the worker's disk; checking only the last
    // component would still follow links in the ones before it
    if (info.isSymbolicLink()) {
      throw new QuorumError('invalid-input', last ? `directory ${quoted} is a symbolic link in the repository` : `directory ${quoted} passes through a symbolic link at ${walked}`);
    }
    if (!info.isDirectory()) {
      throw new QuorumError('invalid-input', last ? `directory ${quoted} is not a directory in the repository` : `directory ${quoted} passes through ${walked}, which is not a directory`);
    }
  }
  let resolved: string;
  try {
    resolved = await realpath(current);
  } catch (e) {
    throw new QuorumError('internal', `cannot resolve directory ${quoted} in the source checkout (${errnoOf(e)})`, { cause: e });
  }
  const rel = relative(root, resolved);
  if (rel === '..' || rel.startsWith('../') || isAbsolute(rel)) throw new QuorumError('invalid-input', `directory ${quoted} resolves outside the repository`);
  return resolved;
}
