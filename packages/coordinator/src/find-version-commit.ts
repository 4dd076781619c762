import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { latestCommitTimeFor, normalizeRepoDirectory, QuorumError, repoDirectoryProblem, type ReleasePurl } from '@quorum/core';
import { versionManifestFor } from '@quorum/ecosystems';
import { gitCloneHistory, gitFetchObjects, gitLocal, gitReadBlobs, type EgressPolicy } from '@quorum/net';

/** Most commits that changed the manifest searched for the one that set a version. @defaultValue 2000 */
export const MAX_HISTORY_COMMITS = 2000;
/** The whole search, clone included, is given up after this. @defaultValue 5 min */
export const HISTORY_SEARCH_TIMEOUT_MS = 5 * 60_000;
/** A manifest larger than this is not read: it neither matches nor, in a parent, rules a commit out (that commit is skipped). @defaultValue 1 MiB */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Most matching commits checked for a tag or the default branch holding them, newest first. */
const MAX_PREFERENCE_CHECKS = 20;

const ZERO = /^0+$/;
const REGULAR_FILE = new Set(['100644', '100755']);

/** What to search and where. */
export interface VersionSearch {
  repo: string;
  /** the package's directory inside the repository */
  directory?: string;
  ecosystem: string;
  purl: ReleasePurl;
  /** when the registry says the release was published (ISO 8601): commits made later (beyond `PUBLISH_TIME_SLACK_MS`) are not it */
  publishedAt?: string;
}

/** Options of {@link findVersionCommit}. */
export interface VersionSearchOptions {
  policy: EgressPolicy;
  allowLocal: boolean;
  /** a directory of the coordinator's own, for the clone (removed afterwards) */
  tmpDir: string;
  signal?: AbortSignal;
  /** @defaultValue {@link HISTORY_SEARCH_TIMEOUT_MS} */
  timeoutMs?: number;
  /** @defaultValue {@link MAX_HISTORY_COMMITS} */
  maxCommits?: number;
}

/** The answer of a search: the commit, when one matched, and what was searched. */
export interface VersionSearchResult {
  commit?: string;
  /** the manifest's path inside the repository */
  file: string;
  /** the name and version looked for */
  name: string;
  version: string;
  /** commits that changed the manifest and were looked at */
  searched: number;
  /** the search stopped at its commit bound before the history ended */
  truncated: boolean;
  /** commits that set the version too, but were committed after the release was published (absent when none) */
  late?: number;
  /** the commit is held by a branch other than the default one only, no tag (absent when a tag or the default branch holds it) */
  otherBranch?: true;
}

interface Change {
  commit: string;
  /** committer time, seconds since the epoch */
  time: number;
  parents: number;
  /** the manifest's blob in the commit (undefined: absent or not a regular file) */
  blob?: string;
  /** the manifest's blob in each parent it differs from (undefined: absent there) */
  before: (string | undefined)[];
}

/**
 * Finds the commit that set a release's version when no tag names it, as OSS Rebuild does: in a
 * (blobless where possible) clone of every branch and tag, the newest commit committed no later than
 * the release was published (with `PUBLISH_TIME_SLACK_MS`) whose manifest (e.g.
 * `<directory>/package.json`) declares the release's name and version while none of its parents'
 * does (a parent whose manifest cannot be read rules its commit out); one that a tag or the default
 * branch holds before one only another branch holds. Bounded by commit count and time; a
 * repository, directory or manifest that is not usable, and a shallow history, are
 * `source-not-found`. The answer has no commit when nothing matched.
 */
export async function findVersionCommit(search: VersionSearch, opts: VersionSearchOptions): Promise<VersionSearchResult> {
  const manifest = versionManifestFor(search.ecosystem);
  if (!manifest) throw new QuorumError('source-not-found', `the history of ${search.ecosystem} releases cannot be searched for their version`);
  const directory = search.directory ?? '';
  const problem = repoDirectoryProblem(directory);
  if (problem) throw new QuorumError('source-not-found', problem);
  const file = [normalizeRepoDirectory(directory), manifest.file].filter((p) => p !== '').join('/');
  const name = manifest.nameOf(search.purl);
  const version = search.purl.version;
  const maxCommits = opts.maxCommits ?? MAX_HISTORY_COMMITS;
  const timeoutMs = opts.timeoutMs ?? HISTORY_SEARCH_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  const latest = latestCommitTimeFor(search.publishedAt);
  // the operator's mirror, if any, is applied by the git client
  const remote = { policy: opts.policy, allowLocal: opts.allowLocal, signal, timeoutMs };
  const dir = join(opts.tmpDir, `history-${randomUUID()}.git`);
  try {
    const { partial } = await gitCloneHistory(search.repo, dir, remote);
    const local = { cwd: dir, signal };
    // blob names of the manifest from the trees alone: no file content is needed to list them
    const log = await gitLocal(
      [
        '-c',
        'core.quotePath=false',
        '--literal-pathspecs',
        'log',
        '--format=%x00%H %ct %P',
        '--raw',
        '--no-abbrev',
        '--no-renames',
        '-m',
        '--root',
        '--date-order',
        `--max-count=${maxCommits + 1}`,
        '--branches',
        '--tags',
        '--',
        file,
      ],
      local,
    );
    const changes = parseChanges(log, file);
    const truncated = changes.length > maxCommits;
    if (truncated) changes.length = maxCommits;
    const blobs = [...new Set(changes.flatMap((c) => [c.blob, ...c.before]).filter((b): b is string => b !== undefined))];
    if (partial && blobs.length > 0) await gitFetchObjects(search.repo, dir, blobs, remote);
    const texts = await gitReadBlobs(blobs, { ...local, maxBytes: MAX_MANIFEST_BYTES });
    /** true or false when the manifest could be read (or is absent), undefined when it could not */
    const declares = (blob: string | undefined): boolean | undefined => {
      if (blob === undefined) return false;
      const text = texts.get(blob);
      if (text === undefined) return undefined;
      const id = manifest.identity(text.toString('utf8'));
      return id.name === name && id.version === version;
    };
    // a parent the manifest does not differ from declares the same: that commit did not set it
    const setters = changes.filter((c) => declares(c.blob) === true && c.before.length === Math.max(c.parents, 1) && c.before.every((b) => declares(b) === false));
    const inTime = latest === undefined ? setters : setters.filter((c) => c.time <= latest);
    const late = setters.length - inTime.length;
    const match = await preferred(inTime, local);
    return {
      ...(match ? { commit: match.commit } : {}),
      file,
      name,
      version,
      searched: changes.length,
      truncated,
      ...(late > 0 ? { late } : {}),
      ...(match && !match.held ? { otherBranch: true as const } : {}),
    };
  } catch (e) {
    if (deadline.aborted && !opts.signal?.aborted) {
      throw new QuorumError('source-not-found', `searching the history of ${search.repo} for ${name}@${version} did not finish in ${Math.round(timeoutMs / 1000)} s`, { cause: e });
    }
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The newest of the matching commits that a tag or the default branch holds (a commit on another
 * branch only, e.g. one CI pushes built files to, is less likely what was published), else the
 * newest of them.
 */
async function preferred(matches: Change[], local: { cwd: string; signal: AbortSignal }): Promise<{ commit: string; held: boolean } | undefined> {
  if (matches.length === 0) return undefined;
  const head = (await gitLocal(['symbolic-ref', '--quiet', 'HEAD'], local).catch(() => '')).trim();
  const holders = ['refs/tags', ...(head.startsWith('refs/heads/') ? [head] : [])];
  for (const c of matches.slice(0, MAX_PREFERENCE_CHECKS)) {
    const held = (await gitLocal(['for-each-ref', '--count=1', '--contains', c.commit, '--format=%(refname)', ...holders], local)).trim();
    if (held !== '') return { commit: c.commit, held: true };
  }
  return { commit: matches[0]!.commit, held: false };
}

/**
 * `git log -m --raw` of one path as changes per commit, newest first: with `-m` a merge lists the
 * path once per parent it differs from, so a parent missing from the list has the same blob.
 */
function parseChanges(log: string, file: string): Change[] {
  const byCommit = new Map<string, Change>();
  for (const record of log.split('\0').slice(1)) {
    const [head = '', ...lines] = record.split('\n');
    const [commit, time, ...parents] = head
      .trim()
      .split(' ')
      .filter((p) => p !== '');
    if (commit === undefined) continue;
    let change = byCommit.get(commit);
    if (!change) {
      change = { commit, time: Number(time), parents: parents.length, before: [] };
      byCommit.set(commit, change);
    }
    for (const line of lines) {
      const tab = line.indexOf('\t');
      if (!line.startsWith(':') || tab === -1 || line.slice(tab + 1) !== file) continue;
      const [oldMode = '', newMode = '', oldBlob = '', newBlob = ''] = line.slice(1, tab).split(' ');
      change.blob = REGULAR_FILE.has(newMode) && !ZERO.test(newBlob) ? newBlob : undefined;
      change.before.push(REGULAR_FILE.has(oldMode) && !ZERO.test(oldBlob) ? oldBlob : undefined);
    }
  }
  return [...byCommit.values()];
}
