import { mkdtemp, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { devNull, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { QuorumError, isQuorumError } from '@quorum/core';
import { execa } from 'execa';
import { unreachable } from './egress-errors.js';
import type { EgressPolicy } from './egress-policy.js';
import { egressFetch } from './http.js';
import { resolveEgress } from './resolve.js';

/** Options of {@link gitClone} and {@link gitLsRemote}. */
export interface GitRemoteOptions {
  policy: EgressPolicy;
  /** accept `file:` repositories: the operator's own disk, never for a submitter's URL */
  allowLocal: boolean;
  /** the caller's cancellation: git is killed and the signal's reason rethrown */
  signal?: AbortSignal;
  /** for the whole operation, git is killed after it; @defaultValue 5 min for a clone, 30 s for ls-remote */
  timeoutMs?: number;
}

/** Options of {@link gitLocal}. */
export interface GitLocalOptions {
  /** the top directory of a clone; git does not look above it for a repository */
  cwd: string;
  /** the caller's cancellation: git is killed and the signal's reason rethrown */
  signal?: AbortSignal;
  /** git is killed after it; @defaultValue 5 min */
  timeoutMs?: number;
}

interface Remote {
  /** what git is given */
  url: string;
  /** the host name for the uniform "cannot reach" message; undefined for file: */
  host?: string;
  config: string[];
}

interface GitRun {
  args: string[];
  cwd: string;
  signal: AbortSignal;
  maxBuffer?: number;
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
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
  const existed = await stat(target).then(() => true, () => false);
  try {
    await withRemote(repo, opts, { timeoutMs: 300_000, verb: 'clone' }, async (remote, run) => {
      await run([...configArgs(remote.config), 'clone', '--quiet', '--no-checkout', '--', remote.url, target]);
    });
  } catch (e) {
    // git removes a half-written clone itself, unless it was killed before it could.
    if (!existed) await rm(target, { recursive: true, force: true });
    throw e;
  }
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
    return new Map();
  }
  const candidates = new Map(refs.map((ref) => [ref, ref.startsWith('refs/') ? [`${ref}^{}`, ref] : [`refs/tags/${ref}^{}`, `refs/tags/${ref}`, `refs/heads/${ref}`]]));
  return withRemote(repo, opts, { timeoutMs: 30_000, verb: 'list the refs of' }, async (remote, run) => {
    const found = new Map<string, string>();
    const patterns = [...new Set([...candidates.values()].flat())];
    const out = await run([...configArgs(remote.config), 'ls-remote', '--', remote.url, ...patterns], 16 * 1024 * 1024);
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
 * touch the network; returns its standard output. A failure is `source-not-found` with a short reason.
 */
export async function gitLocal(args: readonly string[], opts: GitLocalOptions): Promise<string> {
  const cwd = resolve(opts.cwd);
  const { signal } = limits(opts.timeoutMs ?? 300_000, opts.signal);
  const res = await runGit({ args: [...configArgs([]), ...args], cwd, signal });
  if (res.canceled) throw opts.signal?.aborted ? opts.signal.reason : new QuorumError('source-not-found', `git ${args[0] ?? ''} did not finish in time`);
  if (res.exitCode !== 0) {
    throw new QuorumError('source-not-found', `git ${args[0] ?? ''} failed: ${localReason(res.stderr)}`, { cause: new Error(res.stderr.slice(-2000)) });
  }
  return res.stdout;
}

/** Vets the repository (URL, policy, redirects), then lets `work` run git against it under one deadline. */
async function withRemote<T>(
  repo: string,
  opts: GitRemoteOptions,
  action: { timeoutMs: number; verb: string },
  work: (remote: Remote, run: (args: string[], maxBuffer?: number) => Promise<string>) => Promise<T>,
): Promise<T> {
  const url = parseRepoUrl(repo, opts.allowLocal);
  opts.signal?.throwIfAborted();
  const what = `cannot ${action.verb} ${url.protocol === 'file:' ? 'the local repository' : url.href}`;
  const timeoutMs = opts.timeoutMs ?? action.timeoutMs;
  const { deadline, signal } = limits(timeoutMs, opts.signal);
  const remote = url.protocol === 'file:' ? localRemote(url) : await httpRemote(url, what, opts.policy, signal, timeoutMs, opts.signal);
  // An empty directory of its own, so that no repository around the working directory lends git its config.
  const cwd = await mkdtemp(join(tmpdir(), 'quorum-git-'));
  try {
    return await work(remote, async (args, maxBuffer) => {
      const res = await runGit({ args, cwd, signal, ...(maxBuffer ? { maxBuffer } : {}) });
      if (res.canceled) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (remote.host !== undefined) throw unreachable(remote.host, deadline.reason);
        throw new QuorumError('source-not-found', `${what}: git did not finish in time`);
      }
      if (res.exitCode === 0) return res.stdout;
      const reason = remoteReason(res.stderr);
      const cause = new Error(res.stderr.slice(-2000));
      if (reason === 'unreachable' && remote.host !== undefined) throw unreachable(remote.host, cause);
      throw new QuorumError('source-not-found', `${what}: ${reason === 'unreachable' ? 'git could not read it' : reason}`, { cause });
    });
  } finally {
    await rm(cwd, { recursive: true, force: true });
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
  await gitPinSupport();
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

let pinSupport: Promise<void> | undefined;

/** `http.curloptResolve` is silently ignored by git before 2.37, which would let curl resolve the name again. */
function gitPinSupport(): Promise<void> {
  pinSupport ??= execa('git', ['version'], { env: gitEnv(), extendEnv: false, stdin: 'ignore', reject: false }).then((res) => {
    const m = /git version (\d+)\.(\d+)/.exec(res.stdout);
    if (!m || Number(m[1]) * 1000 + Number(m[2]) < 2037) {
      pinSupport = undefined;
      throw new QuorumError('internal', 'git 2.37 or newer is needed to fetch http(s) repositories (http.curloptResolve)');
    }
  });
  return pinSupport;
}

interface GitResult {
  /** killed because the signal fired (the caller's or the deadline) */
  canceled: boolean;
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
    stdin: 'ignore',
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
    return { canceled, exitCode: res.exitCode, stdout: typeof res.stdout === 'string' ? res.stdout : '', stderr: typeof res.stderr === 'string' ? res.stderr : '' };
  } finally {
    run.signal.removeEventListener('abort', cancel);
    if (forceKill) clearTimeout(forceKill);
  }
}

/**
 * The whole environment of git: nothing inherited that could rewrite URLs (`url.<x>.insteadOf`),
 * add a proxy or credentials. HOME points nowhere because curl reads `~/.netrc`.
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

