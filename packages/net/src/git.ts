import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { devNull, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { QuorumError, isQuorumError } from '@quorum/core';
import { execa } from 'execa';
import { unreachable } from './egress-errors.js';
import { withAllowedOrigin, type EgressPolicy } from './egress-policy.js';
import { gitTarget } from './git-mirrors.js';
import { egressFetch } from './http.js';
import { resolveEgress } from './resolve.js';

/**
 * Options of {@link gitClone}, {@link gitLsRemote}, {@link gitFetchCommit}, {@link gitCloneHistory} and
 * {@link gitFetchObjects}. The repository is named by its own URL: an operator's mirror of it (the
 * policy's `gitMirrors`) is applied inside, and errors name the repository, never the mirror.
 */
export interface GitRemoteOptions {
  /** the egress policy, with the operator's git mirrors */
  policy: EgressPolicy;
  /** accept `file:` repositories: the operator's own disk, never for a submitter's URL (a mirror's location is the operator's and always allowed) */
  allowLocal: boolean;
  /** the caller's cancellation: git is killed and the signal's reason rethrown */
  signal?: AbortSignal;
  /** for the whole operation, git is killed after it; @defaultValue 5 min for a clone or a fetch, 30 s for ls-remote */
  timeoutMs?: number;
}

/** Options of {@link gitFetchCommit}. */
export interface GitFetchCommitOptions extends GitRemoteOptions {
  /** commits fetched from the named one down its history: 2 brings its parents too; @defaultValue 1 */
  depth?: number;
}

/** Options of {@link gitTreeSize}. */
export interface GitTreeSizeOptions extends GitLocalOptions {
  /** counting stops beyond this many entries; @defaultValue 500,000 */
  maxEntries?: number;
}

/** What checking out a tree would write: its files (and links, and submodule entries) and their bytes. */
export interface GitTreeSize {
  entries: number;
  bytes: number;
  /** there are more than `maxEntries` entries; `entries` and `bytes` are then lower bounds */
  truncated: boolean;
}

/** How {@link gitFetchCommit} got a commit. */
export interface FetchedCommit {
  /** `shallow`: the commit alone (with its ancestors down to the depth asked); `full`: every branch and tag, because the server refused a fetch by SHA */
  depth: 'shallow' | 'full';
  /** a branch or tag (`refs/heads/…`, `refs/tags/…`) that points at the commit or whose history holds it */
  reachableFrom: string;
}

/** Options of {@link gitReadBlobs}. */
export interface GitReadBlobsOptions extends GitLocalOptions {
  /** a larger blob is left out of the answer; @defaultValue 1 MiB */
  maxBytes?: number;
  /** blobs beyond this many bytes in all, in the order asked, are left out; @defaultValue 64 MiB */
  maxTotalBytes?: number;
}

/** Options of {@link gitLocal}. */
export interface GitLocalOptions {
  /** the top directory of a clone; git does not look above it for a repository */
  cwd: string;
  /** the caller's cancellation: git is killed and the signal's reason rethrown */
  signal?: AbortSignal;
  /** git is killed after it; @defaultValue 5 min */
  timeoutMs?: number;
  /** written to git's standard input (e.g. the object names of `cat-file --batch`) */
  input?: string;
}

interface Remote {
  /** what git is given */
  url: string;
  /** the host name for the uniform "cannot reach" message; undefined for file: */
  host?: string;
  config: string[];
}

interface GitRun extends RunOptions {
  args: string[];
  cwd: string;
  signal: AbortSignal;
}

interface RunOptions {
  maxBuffer?: number;
  input?: string;
  /** `latin1` keeps one character per byte, for output that announces sizes in bytes */
  encoding?: 'utf8' | 'latin1';
}

/** One vetted remote under one deadline, as {@link withRemote} hands it to its work. */
interface Session {
  remote: Remote;
  /** a directory of the session's own, removed afterwards */
  scratch: string;
  /** runs git and answers its standard output; a failure becomes the uniform error */
  run(args: string[], opts?: RunOptions): Promise<string>;
  /** runs git and answers how it ended, failures included (cancellation still throws) */
  attempt(args: string[], opts?: RunOptions): Promise<GitResult>;
  /** the uniform error of a failed run */
  failure(res: GitResult): Error;
  /** a `source-not-found` error about this repository with the given reason */
  notFound(reason: string): QuorumError;
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
/** Most objects {@link gitFetchObjects} asks for at once. */
const MAX_FETCH_OBJECTS = 10_000;
// What a server that will not serve a commit by its SHA says: v0 clients refuse an unadvertised object
// themselves, v0 servers answer "not our ref" for one they do not advertise (v2 servers only for one
// they do not have, which the full fetch then finds missing).
const SHA_FETCH_REFUSED = /not our ref|unadvertised object|does not allow request/i;
const FILTER_REFUSED = /filter|promisor/i;
/** Most entries {@link gitTreeSize} counts by default. */
const MAX_TREE_ENTRIES = 500_000;
// Settings of a fetch into a directory the farm reads next: no automatic gc or maintenance running on its own.
const FETCH_CONFIG = ['gc.auto=0', 'maintenance.auto=false'];
const DISCOVERY = 'info/refs?service=git-upload-pack';
// Settings for every git run: no hooks, no fsmonitor command, no transport unless one is allowed below.
const BASE_CONFIG = ['protocol.allow=never', 'core.fsmonitor=false', `core.hooksPath=${devNull}`];

/**
 * Clones a repository without checking out (`git clone --quiet --no-checkout`), under the egress
 * policy: http(s) hosts are vetted and pinned, `file:` only with `allowLocal`. Failures are
 * `invalid-input` (a URL that is not allowed), `egress-refused`, `upstream-unavailable` (the
 * uniform "cannot reach <host>") or `source-not-found` (a short reason, no paths, no network detail).
 */
export async function gitClone(repo: string, dir: string, opts: GitRemoteOptions): Promise<void> {
  const target = resolve(dir);
  await intoNewDirectory(target, () =>
    withRemote(repo, opts, { timeoutMs: 300_000, verb: 'clone', near: target }, async ({ remote, run }) => {
      await run([...configArgs(remote.config), 'clone', '--quiet', '--no-checkout', '--', remote.url, target]);
    }),
  );
}

/**
 * Fetches one commit of a repository into a new repository at `dir`, without checking out: the
 * commit alone (`git fetch --depth 1 <url> <sha>`, or its parents too at `depth` 2), so a large history costs nothing and damaged
 * objects elsewhere in it do not matter; every branch and tag only when the server refuses a fetch by
 * SHA. The commit must be the repository's own: a branch or tag points at it, or holds it in its
 * history (checked on a commits-only clone), never merely an object the server happens to serve (a
 * fork's commit, a dangling one). The commit is then at `FETCH_HEAD` (or among the fetched refs).
 * Failures as for {@link gitClone}, and `source-not-found` when the commit is not in the repository.
 */
export async function gitFetchCommit(repo: string, dir: string, commit: string, opts: GitFetchCommitOptions): Promise<FetchedCommit> {
  if (!SHA.test(commit)) throw new QuorumError('invalid-input', `${JSON.stringify(commit.slice(0, 80))} is not a full commit SHA`);
  const depthOf = opts.depth ?? 1;
  if (!Number.isInteger(depthOf) || depthOf < 1 || depthOf > 1000) throw new QuorumError('invalid-input', 'the depth of a fetch is a whole number from 1 to 1000');
  const target = resolve(dir);
  return intoNewDirectory(target, () =>
    withRemote(repo, opts, { timeoutMs: 300_000, verb: 'fetch', near: target }, async ({ remote, scratch, run, attempt, failure, notFound }) => {
      const remoteGit = (args: string[]) => [...configArgs([...remote.config, ...FETCH_CONFIG]), '-C', target, ...args];
      // no transport at all: nothing read locally may fetch on its own (a partial clone would)
      const localGit = (dir: string, args: string[]) => [...configArgs([]), '-C', dir, ...args];
      if ((await readdir(target).catch(() => [])).length > 0) throw notFound('the destination is not empty');
      // an empty template: nothing of the system's git installation lands in the repository
      await run([...configArgs([]), 'init', '--quiet', '--template=', '--', target]);
      const tips = parseTips(await run([...configArgs(remote.config), 'ls-remote', '--heads', '--tags', '--', remote.url], { maxBuffer: 64 * 1024 * 1024 }));
      const shallow = await attempt(remoteGit(['fetch', '--quiet', '--no-tags', '--recurse-submodules=no', `--depth=${depthOf}`, '--', remote.url, commit]));
      let depth: FetchedCommit['depth'] = 'shallow';
      if (shallow.exitCode !== 0) {
        if (!SHA_FETCH_REFUSED.test(shallow.stderr)) throw failure(shallow);
        depth = 'full';
        await run(remoteGit(['fetch', '--quiet', '--no-tags', '--recurse-submodules=no', '--', remote.url, '+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*']));
      }
      const type = await attempt(localGit(target, ['cat-file', '-t', commit]));
      if (type.exitCode !== 0) throw notFound(`commit ${commit} is not in it`);
      if (type.stdout.trim() !== 'commit') throw notFound(`${commit} is not a commit`);
      const tip = tips.get(commit);
      if (tip) return { depth, reachableFrom: tip };
      let history = target;
      let refs = ['refs/remotes/origin', 'refs/tags'];
      if (depth === 'shallow') {
        // commits only: enough to tell whether a branch or tag holds the commit, cheap for a long history
        // (of a shallow server too: nothing is fetched lazily, see gitEnv)
        history = join(scratch, 'history.git');
        await run([...configArgs([...remote.config, ...FETCH_CONFIG]), 'clone', '--bare', '--quiet', '--filter=tree:0', '--', remote.url, history]);
        refs = ['refs/heads', 'refs/tags'];
      }
      const holder = await attempt(localGit(history, ['for-each-ref', '--count=1', '--contains', commit, '--format=%(refname)', ...refs]));
      const ref = holder.exitCode === 0 ? holder.stdout.trim() : '';
      if (!ref) throw notFound(`commit ${commit} is on no branch or tag of it`);
      return { depth, reachableFrom: ref.replace(/^refs\/remotes\/origin\//, 'refs/heads/') };
    }),
  );
}

/**
 * Clones a repository's history (branches and tags) into a new bare repository at `dir`: blobless
 * (`--filter=blob:none`: commits and trees) where the server supports filters, else in full.
 * `partial` says the clone may lack file contents: fetch the blobs to read with
 * {@link gitFetchObjects} first (objects already there are not fetched again). A shallow
 * repository is refused (`source-not-found`, "its history is shallow"): its oldest commits would
 * pass for roots.
 */
export async function gitCloneHistory(repo: string, dir: string, opts: GitRemoteOptions): Promise<{ partial: boolean }> {
  const target = resolve(dir);
  return intoNewDirectory(target, () =>
    withRemote(repo, opts, { timeoutMs: 300_000, verb: 'clone', near: target }, async ({ remote, run, attempt, failure, notFound }) => {
      const clone = (filter: string[]) => [...configArgs([...remote.config, ...FETCH_CONFIG]), 'clone', '--bare', '--quiet', ...filter, '--', remote.url, target];
      const local = (args: string[]) => [...configArgs([]), '-C', target, ...args];
      let partial = false;
      const blobless = await attempt(clone(['--filter=blob:none']));
      if (blobless.exitCode === 0) {
        // a server without filters sends everything (with a warning) to a clone still marked partial
        const promisor = await attempt(local(['config', '--get', 'remote.origin.promisor']));
        partial = promisor.stdout.trim() === 'true';
      } else {
        if (!FILTER_REFUSED.test(blobless.stderr)) throw failure(blobless);
        await rm(target, { recursive: true, force: true });
        await run(clone([]));
      }
      if ((await run(local(['rev-parse', '--is-shallow-repository']))).trim() !== 'false') throw notFound('its history is shallow');
      return { partial };
    }),
  );
}

/**
 * Fetches objects by name (e.g. the blobs of one file across history) into a partial clone made by
 * {@link gitCloneHistory}, from the same repository, under the egress policy.
 */
export async function gitFetchObjects(repo: string, dir: string, objects: readonly string[], opts: GitRemoteOptions): Promise<void> {
  if (objects.length > MAX_FETCH_OBJECTS) throw new QuorumError('invalid-input', `at most ${MAX_FETCH_OBJECTS} objects are fetched at once`);
  const bad = objects.find((o) => !SHA.test(o));
  if (bad !== undefined) throw new QuorumError('invalid-input', `${JSON.stringify(bad.slice(0, 80))} is not an object name`);
  if (objects.length === 0) return;
  const target = resolve(dir);
  await withRemote(repo, opts, { timeoutMs: 300_000, verb: 'fetch', near: target }, async ({ remote, run }) => {
    // as git's own on-demand fetch of a partial clone does it: no negotiation, only what is named
    const config = [...remote.config, ...FETCH_CONFIG, 'fetch.negotiationAlgorithm=noop'];
    await run([...configArgs(config), '-C', target, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--recurse-submodules=no', '--filter=blob:none', '--stdin', '--', remote.url], {
      input: `${objects.join('\n')}\n`,
    });
  });
}

/**
 * Looks refs up in a remote repository without cloning it: for each ref, the commit of the tag
 * `refs/tags/<ref>` (annotated tags peeled), else of the branch `refs/heads/<ref>`; a ref given
 * in full (`refs/...`) is looked up as is. Refs that do not exist are absent from the map.
 */
export async function gitLsRemote(repo: string, refs: readonly string[], opts: GitRemoteOptions): Promise<Map<string, string>> {
  for (const ref of refs) {
    if (!isPlainRef(ref)) throw new QuorumError('invalid-input', `${JSON.stringify(ref.slice(0, 100))} is not a plain tag or branch name`);
  }
  if (refs.length === 0) {
    parseRepoUrl(repo, opts.allowLocal);
    const via = gitTarget(repo, opts.policy.gitMirrors);
    if (via.mirrored) mirrorUrl(via.url, `cannot list the refs of ${repo}`);
    return new Map();
  }
  const candidates = new Map(refs.map((ref) => [ref, ref.startsWith('refs/') ? [`${ref}^{}`, ref] : [`refs/tags/${ref}^{}`, `refs/tags/${ref}`, `refs/heads/${ref}`]]));
  return withRemote(repo, opts, { timeoutMs: 30_000, verb: 'list the refs of' }, async ({ remote, run }) => {
    const found = new Map<string, string>();
    const patterns = [...new Set([...candidates.values()].flat())];
    const out = await run([...configArgs(remote.config), 'ls-remote', '--', remote.url, ...patterns], { maxBuffer: 16 * 1024 * 1024 });
    const listed = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, name] = line.split('\t');
      if (sha !== undefined && name !== undefined && SHA.test(sha)) listed.set(name, sha);
    }
    for (const [ref, names] of candidates) {
      const sha = names.map((n) => listed.get(n)).find((s) => s !== undefined);
      if (sha !== undefined) found.set(ref, sha);
    }
    return found;
  });
}

/**
 * Runs git inside an existing clone with every transport refused, so that nothing it does can
 * touch the network (not even a partial clone's on-demand fetch); returns its standard output. A
 * failure is `source-not-found` with a short reason.
 */
export async function gitLocal(args: readonly string[], opts: GitLocalOptions): Promise<string> {
  return (await localRun(args, opts)).stdout;
}

/**
 * Reads blobs of a clone by object name, in one git run; objects that are missing, not blobs, larger
 * than `maxBytes` or beyond `maxTotalBytes` are absent from the answer. In a partial clone a missing
 * object makes git fail (`source-not-found`, "needed the network"): fetch the blobs first.
 */
export async function gitReadBlobs(objects: readonly string[], opts: GitReadBlobsOptions): Promise<Map<string, Buffer>> {
  const wanted = [...new Set(objects)].filter((o) => SHA.test(o));
  const found = new Map<string, Buffer>();
  if (wanted.length === 0) return found;
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  let budget = opts.maxTotalBytes ?? 64 * 1024 * 1024;
  const { input: _input, maxBytes: _max, maxTotalBytes: _total, ...local } = opts;
  // a missing object is a line saying so, not a failure, and never fetched: every transport is refused
  const sizes = await localRun(['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], { ...local, input: `${wanted.join('\n')}\n` });
  const asked = new Set(wanted);
  const small: string[] = [];
  for (const line of sizes.stdout.split('\n')) {
    const [name, type, size] = line.split(' ');
    if (name === undefined || !asked.has(name) || type !== 'blob' || !(Number(size) <= maxBytes) || Number(size) > budget) continue;
    small.push(name);
    budget -= Number(size);
  }
  if (small.length === 0) return found;
  const total = (opts.maxTotalBytes ?? 64 * 1024 * 1024) - budget;
  const out = Buffer.from((await localRun(['cat-file', '--batch'], { ...local, input: `${small.join('\n')}\n`, encoding: 'latin1', maxBuffer: total + small.length * 128 })).stdout, 'latin1');
  let at = 0;
  while (at < out.length) {
    const eol = out.indexOf(0x0a, at);
    if (eol === -1) break;
    const [name, type, size] = out.subarray(at, eol).toString('latin1').split(' ');
    at = eol + 1;
    if (type === undefined || size === undefined) continue;
    const length = Number(size);
    if (name !== undefined && type === 'blob') found.set(name, Buffer.from(out.subarray(at, at + length)));
    at += length + 1;
  }
  return found;
}

/**
 * What checking out `treeish` would write, counted from the tree alone (`ls-tree -r`, no file
 * content read): entries (files, links, submodule entries) and the bytes of their blobs. Counting
 * stops beyond `maxEntries`.
 */
export async function gitTreeSize(treeish: string, opts: GitTreeSizeOptions): Promise<GitTreeSize> {
  if (!SHA.test(treeish)) throw new QuorumError('invalid-input', `${JSON.stringify(treeish.slice(0, 80))} is not a full object name`);
  const maxEntries = opts.maxEntries ?? MAX_TREE_ENTRIES;
  const { input: _input, maxEntries: _max, ...local } = opts;
  // one entry is "<type> <size>" and a NUL, at most 26 bytes: a fuller buffer holds more entries than allowed
  const maxBuffer = (maxEntries + 1) * 26;
  const res = await localAttempt(['ls-tree', '-r', '-z', '--format=%(objecttype) %(objectsize)', treeish], { ...local, maxBuffer, encoding: 'latin1' });
  if (res.exitCode !== 0 && !res.overflow) throw localFailure(['ls-tree'], res);
  let entries = 0;
  let bytes = 0;
  for (const entry of res.stdout.split('\0')) {
    if (entry === '') continue;
    entries++;
    const [type, size] = entry.split(' ');
    if (type === 'blob') bytes += Number(size) || 0;
  }
  return { entries: Math.min(entries, maxEntries + 1), bytes, truncated: res.overflow || entries > maxEntries };
}

async function localRun(args: readonly string[], opts: GitLocalOptions & RunOptions): Promise<GitResult> {
  const res = await localAttempt(args, opts);
  if (res.exitCode !== 0) throw localFailure(args, res);
  return res;
}

function localFailure(args: readonly string[], res: GitResult): QuorumError {
  return new QuorumError('source-not-found', `git ${args[0] ?? ''} failed: ${localReason(res.stderr)}`, { cause: new Error(res.stderr.slice(-2000)) });
}

async function localAttempt(args: readonly string[], opts: GitLocalOptions & RunOptions): Promise<GitResult> {
  const cwd = resolve(opts.cwd);
  const { signal } = limits(opts.timeoutMs ?? 300_000, opts.signal);
  const res = await runGit({
    args: [...configArgs([]), ...args],
    cwd,
    signal,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.encoding ? { encoding: opts.encoding } : {}),
    ...(opts.maxBuffer ? { maxBuffer: opts.maxBuffer } : {}),
  });
  if (res.canceled) throw opts.signal?.aborted ? opts.signal.reason : new QuorumError('source-not-found', `git ${args[0] ?? ''} did not finish in time`);
  return res;
}

/** Runs `work`, which creates `target`; on failure leaves `target` as it was before: absent, empty, or untouched when it held anything. */
async function intoNewDirectory<T>(target: string, work: () => Promise<T>): Promise<T> {
  const before = await readdir(target).then(
    (names) => (names.length === 0 ? 'empty' : 'occupied'),
    () => 'absent',
  );
  try {
    return await work();
  } catch (e) {
    if (before === 'occupied') throw e;
    // git removes a half-written clone itself, unless it was killed before it could; a fetch does not
    await rm(target, { recursive: true, force: true });
    if (before === 'empty') await mkdir(target, { recursive: true });
    throw e;
  }
}

/** `ls-remote` output as commit → the first branch or tag that points at it (annotated tags peeled). */
function parseTips(out: string): Map<string, string> {
  const tips = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha === undefined || name === undefined || !SHA.test(sha)) continue;
    const ref = name.endsWith('^{}') ? name.slice(0, -3) : name;
    if (!tips.has(sha)) tips.set(sha, ref);
  }
  return tips;
}

/**
 * Vets the repository (URL, policy, redirects), then lets `work` run git against it under one
 * deadline. A repository the operator mirrors is fetched from the mirror, under an egress allowance
 * for that mirror alone; every message names the repository's own URL, never the mirror's location.
 */
async function withRemote<T>(repo: string, opts: GitRemoteOptions, action: { timeoutMs: number; verb: string; near?: string }, work: (session: Session) => Promise<T>): Promise<T> {
  const own = parseRepoUrl(repo, opts.allowLocal);
  opts.signal?.throwIfAborted();
  const via = gitTarget(repo, opts.policy.gitMirrors);
  const what = `cannot ${action.verb} ${own.protocol === 'file:' ? 'the local repository' : own.href}${via.mirrored ? " from the operator's mirror" : ''}`;
  // the mirror is the operator's setting: a file: location or a host the policy would refuse to a submitter is allowed
  const url = via.mirrored ? mirrorUrl(via.url, what) : own;
  const policy = via.mirrored && url.protocol !== 'file:' ? withAllowedOrigin(opts.policy, url.href) : opts.policy;
  await gitSupport();
  const timeoutMs = opts.timeoutMs ?? action.timeoutMs;
  const { deadline, signal } = limits(timeoutMs, opts.signal);
  const mirrorDown = (cause: unknown) => new QuorumError('upstream-unavailable', `${what}: the mirror cannot be reached`, { cause });
  let remote: Remote;
  try {
    remote = url.protocol === 'file:' ? localRemote(url) : await httpRemote(url, what, policy, signal, timeoutMs, opts.signal);
  } catch (e) {
    if (!via.mirrored || opts.signal?.aborted) throw e;
    throw mirrorProblem(e, what, mirrorDown);
  }
  // An empty directory of its own, so that no repository around the working directory lends git its
  // config; next to the caller's destination when there is one, so that what git writes there (a
  // commits-only clone) stays on the caller's disk.
  const parent = action.near ? dirname(action.near) : tmpdir();
  await mkdir(parent, { recursive: true });
  const scratch = await mkdtemp(join(parent, '.quorum-git-'));
  const notFound = (reason: string, cause?: Error) => new QuorumError('source-not-found', `${what}: ${reason}`, cause ? { cause } : undefined);
  const failure = (res: GitResult): Error => {
    const reason = remoteReason(res.stderr);
    const cause = new Error(res.stderr.slice(-2000));
    if (reason === 'unreachable' && remote.host !== undefined) return via.mirrored ? mirrorDown(cause) : unreachable(remote.host, cause);
    return notFound(reason === 'unreachable' ? 'git could not read it' : reason, cause);
  };
  const attempt = async (args: string[], runOpts: RunOptions = {}): Promise<GitResult> => {
    const res = await runGit({ args, cwd: scratch, signal, ...runOpts });
    if (res.canceled) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (remote.host !== undefined) throw via.mirrored ? mirrorDown(deadline.reason) : unreachable(remote.host, deadline.reason);
      throw notFound('git did not finish in time');
    }
    return res;
  };
  const run = async (args: string[], runOpts: RunOptions = {}): Promise<string> => {
    const res = await attempt(args, runOpts);
    if (res.exitCode !== 0) throw failure(res);
    return res.stdout;
  };
  try {
    return await work({ remote, scratch, run, attempt, failure, notFound });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A mirror location as git is given it; `invalid-input` that names the repository, not the location. */
function mirrorUrl(location: string, what: string): URL {
  try {
    return parseRepoUrl(location, true);
  } catch (e) {
    throw new QuorumError('invalid-input', `${what}: the mirror's location is not a repository URL`, { cause: e });
  }
}

/** An error on the way to an operator's mirror, reworded so that it names the repository only: the mirror's host and port stay in `cause`. */
function mirrorProblem(e: unknown, what: string, mirrorDown: (cause: unknown) => QuorumError): unknown {
  if (!(e instanceof QuorumError)) return mirrorDown(e);
  switch (e.code) {
    case 'source-not-found':
    case 'internal':
      // said of the repository (`what`) or of this machine's git: nothing of the mirror's location
      return e;
    case 'egress-refused':
      return new QuorumError('egress-refused', `${what}: the mirror redirects to an address this farm's egress policy refuses`, { cause: e });
    default:
      return mirrorDown(e);
  }
}

/** Accepts http(s) URLs, and file: ones when local repositories are allowed; nothing git could read as an option or a transport command. */
function parseRepoUrl(repo: string, allowLocal: boolean): URL {
  const shown = JSON.stringify(repo.slice(0, 200));
  let url: URL;
  try {
    // A leading "-" or a plain path never parses as an absolute URL; "ext::cmd" does, as scheme ext:.
    url = new URL(repo);
  } catch {
    throw new QuorumError('invalid-input', `${shown} is not a repository URL (https:// is expected)`);
  }
  if (url.protocol === 'file:') {
    if (!allowLocal) throw new QuorumError('invalid-input', 'file: repositories are refused by this farm');
    if (url.host !== '' || url.search !== '' || url.hash !== '') throw new QuorumError('invalid-input', `${shown} is not a plain file: URL`);
    return url;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new QuorumError('invalid-input', `repositories are fetched over https: or http: only, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') throw new QuorumError('invalid-input', 'a repository URL must not carry credentials');
  if (url.search !== '' || url.hash !== '') throw new QuorumError('invalid-input', `${shown} must not have a query or a fragment`);
  return url;
}

function localRemote(url: URL): Remote {
  return { url: url.href, config: ['protocol.file.allow=always'] };
}

/**
 * Follows the repository's redirects with vetted requests, as git's smart-HTTP discovery would,
 * then vets the final host and pins git to that one address: git neither resolves nor redirects.
 */
async function httpRemote(url: URL, what: string, policy: EgressPolicy, signal: AbortSignal, timeoutMs: number, callerSignal: AbortSignal | undefined): Promise<Remote> {
  const base = url.href.endsWith('/') ? url.href : `${url.href}/`;
  let finalBase: URL;
  try {
    // Asks as the git client that this discovery stands in for.
    const res = await egressFetch(`${base}${DISCOVERY}`, { policy, signal, timeoutMs, headers: { 'user-agent': 'git/quorum' } });
    void res.body?.cancel().catch(() => undefined);
    if (res.status === 401 || res.status === 403) throw new QuorumError('source-not-found', `${what}: repository not found or not public`);
    if (!res.ok) throw unreachable(new URL(res.url).hostname, new Error(`HTTP ${res.status}`));
    if (!res.url.endsWith(`/${DISCOVERY}`)) throw new QuorumError('source-not-found', `${what}: its redirect does not name a repository`);
    // Only smart HTTP: the dumb protocol reads any web page as an empty repository.
    if (res.headers.get('content-type')?.split(';')[0]?.trim() !== 'application/x-git-upload-pack-advertisement') {
      throw new QuorumError('source-not-found', `${what}: not a git repository`);
    }
    finalBase = new URL(res.url.slice(0, -DISCOVERY.length));
  } catch (e) {
    if (callerSignal?.aborted) throw callerSignal.reason;
    if (isQuorumError(e, 'not-found')) throw new QuorumError('source-not-found', `${what}: repository not found`, { cause: e });
    if (e instanceof QuorumError) throw e;
    throw unreachable(url.hostname, e);
  }
  // The pinned entry must be the very name curl looks up; a trailing dot would make it another one.
  if (finalBase.hostname.endsWith('.')) finalBase.hostname = finalBase.hostname.slice(0, -1);
  const port = Number(finalBase.port) || (finalBase.protocol === 'https:' ? 443 : 80);
  const { address, family } = await resolveEgress(policy, finalBase.hostname, port);
  const config = [`protocol.${finalBase.protocol.slice(0, -1)}.allow=always`, 'http.followRedirects=false'];
  // An IP literal is connected to as written, and resolveEgress vetted exactly that address.
  if (isIP(finalBase.hostname.replace(/^\[|\]$/g, '')) === 0) {
    config.push(`http.curloptResolve=${finalBase.hostname}:${port}:${family === 6 ? `[${address}]` : address}`);
  }
  return { url: finalBase.href, host: finalBase.hostname, config };
}

/**
 * The first release of each maintenance series below 2.46 that honours `GIT_NO_LAZY_FETCH` (the
 * security releases of May 2024); every later series has it. All of them also have
 * `http.curloptResolve` (2.37), which older git ignores silently, letting curl resolve the name again.
 */
const NO_LAZY_FETCH_SINCE: Record<number, number> = { 39: 4, 40: 2, 41: 1, 42: 2, 43: 4, 44: 1, 45: 1 };

/** Why this git cannot be trusted to fetch (`git version` output), or undefined. */
export function gitVersionProblem(versionOutput: string): string | undefined {
  const m = /git version (\d+)\.(\d+)(?:\.(\d+))?/.exec(versionOutput);
  const [major, minor, patch] = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
  const fine = major > 2 || (major === 2 && (minor >= 46 || (NO_LAZY_FETCH_SINCE[minor] !== undefined && patch >= NO_LAZY_FETCH_SINCE[minor]!)));
  if (fine) return undefined;
  const releases = Object.entries(NO_LAZY_FETCH_SINCE).map(([mi, pa]) => `2.${mi}.${pa}`);
  return `git ${m ? `${major}.${minor}.${patch}` : '(unknown version)'} cannot be used to fetch repositories: it needs GIT_NO_LAZY_FETCH (git ${releases.join(', ')} or newer in their series, or 2.46 and newer)`;
}

let support: Promise<void> | undefined;

/** Refuses a git that would fetch objects lazily on its own (a shallow server makes that a process bomb) or resolve names itself. */
function gitSupport(): Promise<void> {
  support ??= execa('git', ['version'], { env: gitEnv(), extendEnv: false, stdin: 'ignore', reject: false }).then((res) => {
    const problem = gitVersionProblem(typeof res.stdout === 'string' ? res.stdout : '');
    if (problem) {
      support = undefined;
      throw new QuorumError('internal', problem);
    }
  });
  return support;
}

interface GitResult {
  /** killed because the signal fired (the caller's or the deadline) */
  canceled: boolean;
  /** killed because its output went beyond `maxBuffer` */
  overflow: boolean;
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs git in a process group of its own and, on cancellation, signals the whole group: killing
 * git alone leaves git-remote-http waiting on a silent server, holding git's output open.
 */
async function runGit(run: GitRun): Promise<GitResult> {
  const child = execa('git', run.args, {
    cwd: run.cwd,
    env: { ...gitEnv(), GIT_CEILING_DIRECTORIES: dirname(run.cwd) },
    extendEnv: false,
    ...(run.input !== undefined ? { input: run.input } : { stdin: 'ignore' as const }),
    encoding: run.encoding ?? 'utf8',
    detached: true,
    maxBuffer: run.maxBuffer ?? 64 * 1024 * 1024,
    reject: false,
  });
  let canceled = false;
  let forceKill: NodeJS.Timeout | undefined;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // the group is gone already
    }
  };
  // SIGTERM first: git clone removes its half-written directory on it.
  const cancel = () => {
    canceled = true;
    signalGroup('SIGTERM');
    forceKill = setTimeout(() => signalGroup('SIGKILL'), 2000);
    forceKill.unref();
  };
  if (run.signal.aborted) cancel();
  else run.signal.addEventListener('abort', cancel, { once: true });
  try {
    const res = await child;
    return {
      canceled,
      overflow: res.isMaxBuffer === true,
      exitCode: res.exitCode,
      stdout: typeof res.stdout === 'string' ? res.stdout : '',
      stderr: typeof res.stderr === 'string' ? res.stderr : '',
    };
  } finally {
    run.signal.removeEventListener('abort', cancel);
    if (forceKill) clearTimeout(forceKill);
  }
}

/**
 * The whole environment of git: nothing inherited that could rewrite URLs (`url.<x>.insteadOf`),
 * add a proxy or credentials. HOME points nowhere because curl reads `~/.netrc`. No lazy fetch: a
 * partial clone of a shallow repository would otherwise fetch what the server lacks, that fetch
 * again, and so on, thousands of processes until the deadline; missing objects are fetched only by
 * name ({@link gitFetchObjects}).
 */
function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: devNull,
    XDG_CONFIG_HOME: devNull,
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: devNull,
    GIT_ATTR_NOSYSTEM: '1',
    GIT_NO_LAZY_FETCH: '1',
  };
  for (const name of ['TMPDIR', 'SSL_CERT_FILE', 'SSL_CERT_DIR']) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

function configArgs(config: readonly string[]): string[] {
  return [...BASE_CONFIG, ...config].flatMap((c) => ['-c', c]);
}

function limits(timeoutMs: number, callerSignal: AbortSignal | undefined): { deadline: AbortSignal; signal: AbortSignal } {
  const deadline = AbortSignal.timeout(timeoutMs);
  return { deadline, signal: callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline };
}

/** A tag or branch name, or a full ref: nothing ls-remote would read as a pattern or an option. */
function isPlainRef(ref: string): boolean {
  return (
    ref.length > 0 &&
    ref.length <= 255 &&
    /^[A-Za-z0-9@_+][A-Za-z0-9._@+/-]*$/.test(ref) &&
    !ref.includes('..') &&
    !ref.includes('//') &&
    !ref.includes('@{') &&
    !ref.includes('/.') &&
    !ref.endsWith('/') &&
    !ref.endsWith('.') &&
    !/\.lock(\/|$)/.test(ref)
  );
}

/** git's stderr, reduced to a reason that names no path and no network detail. */
function remoteReason(stderr: string): string {
  const text = stderr.toLowerCase();
  const status = /returned error: (\d{3})/.exec(text);
  if (status) return ['401', '403', '404', '410'].includes(status[1]!) ? 'repository not found' : 'unreachable';
  if (/repository '.*' not found|not found: did you run git update-server-info/.test(text)) return 'repository not found';
  if (/could not read (username|password)|authentication failed/.test(text)) return 'repository not found or not public';
  if (/does not appear to be a git repository|not a git repository|not a valid|unable to update url base/.test(text)) return 'not a git repository';
  if (/already exists and is not an empty directory/.test(text)) return 'the destination is not empty';
  // said by the server about its own objects: a fact about the repository, not a transport failure
  if (/possible repository corruption|missing (blob|tree|commit) object|bad object|did not send all necessary objects|unable to read [0-9a-f]{40}/.test(text)) return 'the repository is damaged';
  if (/unable to access|could not resolve|failed to connect|connection|timed out|ssl|tls|certificate|gnutls|early eof|hung up|rpc failed|empty reply|recv failure|send failure/.test(text)) {
    return 'unreachable';
  }
  if (/transport '.*' not allowed|protocol '.*' is not supported/.test(text)) return 'transport not allowed';
  return 'git failed';
}

function localReason(stderr: string): string {
  const text = stderr.toLowerCase();
  if (/not a git repository/.test(text)) return 'not a git repository';
  if (/unknown revision|bad revision|needed a single revision|not a valid object name|reference is not a tree|invalid reference|did not match any/.test(text)) {
    return 'unknown revision';
  }
  if (/transport '.*' not allowed|lazy fetch|promisor/.test(text)) return 'needed the network';
  return 'git failed';
}
