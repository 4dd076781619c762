import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QuorumError } from '@quorum/core';

/** One operator mirror: the repository `prefix`, or the repositories below it, are fetched from `target` instead. */
export interface GitMirror {
  /** an http(s) URL without a trailing slash or `.git`: one repository, or a host or path above many */
  readonly prefix: string;
  /** a `file:` or http(s) URL without a trailing slash, where the same repositories live */
  readonly target: string;
  /**
   * the prefix was written with a trailing slash (or is a whole host): it stands for the repositories
   * below it, each at the same path below `target`; otherwise it is one repository, matched exactly
   */
  readonly below: boolean;
}

/** What git is given for a repository. */
export interface GitTarget {
  url: string;
  /** `url` is the operator's mirror of the repository, not the repository's own URL */
  mirrored: boolean;
}

/** Most mirrors one setting may hold. */
export const MAX_GIT_MIRRORS = 10_000;

// A path below a prefix is appended to the mirror's location: only plain segments, so that a
// submitter's URL cannot climb out of the mirror directory or smuggle an encoded separator.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Parses the operator's git mirrors: a JSON object mapping a repository URL
 * (`https://github.com/owner/name`: that repository only) or a prefix ending in `/`
 * (`https://github.com/`: every repository below it) to where the same repositories are kept (an
 * absolute directory, or a `file:`/`http(s):` URL). Longest prefix first; empty when unset. Throws
 * `invalid-input` naming the setting.
 */
export function parseGitMirrors(raw: string | undefined, setting = 'QUORUM_GIT_MIRRORS'): readonly GitMirror[] {
  if (raw === undefined || raw.trim() === '') return Object.freeze([]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new QuorumError('invalid-input', `${setting} must be a JSON object of repository URL prefix → mirror location: ${(e as Error).message}`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new QuorumError('invalid-input', `${setting} must be a JSON object of repository URL prefix → mirror location`);
  }
  const entries = Object.entries(parsed);
  if (entries.length > MAX_GIT_MIRRORS) throw new QuorumError('invalid-input', `${setting} holds ${entries.length} mirrors; at most ${MAX_GIT_MIRRORS}`);
  const mirrors = entries.map(([prefix, location]): GitMirror => {
    const key = repoKey(prefix);
    if (key === undefined) throw new QuorumError('invalid-input', `${setting}: ${JSON.stringify(prefix.slice(0, 200))} is not an http(s) URL without credentials, query or fragment`);
    if (typeof location !== 'string') throw new QuorumError('invalid-input', `${setting}: the mirror of ${key} must be a string`);
    return Object.freeze({ prefix: key, target: mirrorLocation(location, setting, key), below: namesRepositoriesBelow(prefix) });
  });
  mirrors.sort((a, b) => b.prefix.length - a.prefix.length);
  return Object.freeze(mirrors);
}

/**
 * What git is given for `repo`: the mirror of that very repository, else of the longest prefix
 * ending in `/` that holds it (the rest of the repository's path appended to the mirror's
 * location), else `repo` itself. Pure; the repository's own URL stays what verdicts name.
 */
export function gitTarget(repo: string, mirrors: readonly GitMirror[] | undefined): GitTarget {
  const key = mirrors && mirrors.length > 0 ? repoKey(repo) : undefined;
  if (key === undefined) return { url: repo, mirrored: false };
  for (const mirror of mirrors!) {
    // a mirror of one repository is that repository: a path below it is another repository, which
    // would otherwise be read from a directory inside the mirror (its worktrees, a committed fixture)
    if (!mirror.below) {
      if (key === mirror.prefix) return { url: mirror.target, mirrored: true };
      continue;
    }
    if (!key.startsWith(`${mirror.prefix}/`)) continue;
    const rest = key.slice(mirror.prefix.length + 1).split('/');
    if (!rest.every((s) => SEGMENT.test(s) && s !== '..')) continue;
    return { url: `${mirror.target}/${rest.join('/')}`, mirrored: true };
  }
  return { url: repo, mirrored: false };
}

/** `scheme://host[:port]/path` of an http(s) URL without its trailing slashes and `.git`; undefined for anything else. */
function repoKey(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  const path = url.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** A prefix written with a trailing slash, or a whole host, stands for the repositories below it. */
function namesRepositoriesBelow(prefix: string): boolean {
  const path = new URL(prefix).pathname;
  return path.endsWith('/') && !/\.git\/+$/.test(path);
}

function mirrorLocation(location: string, setting: string, prefix: string): string {
  if (isAbsolute(location)) return pathToFileURL(location).href.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new QuorumError('invalid-input', `${setting}: the mirror of ${prefix} must be an absolute directory or a file:, http: or https: URL`);
  }
  if (!['file:', 'http:', 'https:'].includes(url.protocol)) throw new QuorumError('invalid-input', `${setting}: the mirror of ${prefix} must be a file:, http: or https: URL, not ${url.protocol}`);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '' || (url.protocol === 'file:' && url.host !== '')) {
    throw new QuorumError('invalid-input', `${setting}: the mirror of ${prefix} must be a plain URL (no credentials, query or fragment; no host for file:)`);
  }
  return url.href.replace(/\/+$/, '');
}
