import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from '@quorum/attest';
import { DEFAULT_POLICY } from '@quorum/core';
import { ApiClient, CliError, isCliError } from './api-client.js';
import type { OutStream } from './progress.js';
import { safeText } from './terminal-text.js';
import { ADMIN_TOKEN_FILE, UP_DEFAULTS } from './up-defaults.js';

export { ADMIN_TOKEN_FILE, UP_DEFAULTS } from './up-defaults.js';

/** Options of `quorum up`. */
export interface UpOptions {
  /** worker processes to start @defaultValue 3 */
  workers: number;
  /** coordinator HTTP port @defaultValue 8080 */
  port: number;
  /** data directory, relative to the working directory @defaultValue ./.quorum */
  data: string;
  /** Redis port @defaultValue 6379 */
  redisPort: number;
  /** builders per release (N), passed as QUORUM_BUILDERS */
  builders?: number;
  /** agreeing builders required (M), passed as QUORUM_QUORUM */
  quorum?: number;
  /** run infra/provision.sh first @defaultValue true */
  provision: boolean;
}

/** How long `up` waits for `GET /healthz` to answer 200. @defaultValue 60 s */
export const HEALTH_TIMEOUT_MS = 60_000;

/** How long children get to exit after SIGTERM before SIGKILL. @defaultValue 10 s */
export const STOP_TIMEOUT_MS = 10_000;

/** The admin token of a farm and where it comes from. */
export interface FarmAdminToken {
  token: string;
  /** the file holding it; absent when it came from QUORUM_ADMIN_TOKEN */
  file?: string;
  /** true when this run generated it */
  created: boolean;
}

/**
 * The farm's admin token: `QUORUM_ADMIN_TOKEN` when set, else the one in `<data>/admin-token`,
 * generated (32 random bytes, base64url) and written with mode 0600 when there is none yet.
 */
export function farmAdminToken(dataDir: string, env: NodeJS.ProcessEnv): FarmAdminToken {
  const fromEnv = env.QUORUM_ADMIN_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, created: false };
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  let existing = '';
  try {
    existing = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError('process', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (existing !== '') {
    // an earlier run may have left it readable by others (e.g. copied); it is a secret
    chmodSync(file, 0o600);
    return { token: existing, file, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file, created: true };
}

/** What `up` needs from its surroundings; tests pass fakes for the paths. */
export interface UpContext {
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
  /** working directory the data dir is relative to @defaultValue process.cwd() */
  cwd?: string;
  /** aborted on the first SIGINT/SIGTERM: stop the farm gracefully */
  stop: AbortSignal;
  /** aborted on a second SIGINT/SIGTERM: kill at once */
  kill?: AbortSignal;
  /** repository root; found by walking up from this file when absent */
  root?: string;
  /** coordinator entry script; resolved from `@quorum/coordinator/bin` when absent */
  coordinatorBin?: string;
  /** worker entry script; resolved from `@quorum/worker/bin` when absent */
  workerBin?: string;
  /** @defaultValue HEALTH_TIMEOUT_MS */
  healthTimeoutMs?: number;
  /** @defaultValue STOP_TIMEOUT_MS */
  stopTimeoutMs?: number;
}

/**
 * The coordinator's Redis URL: its ACL user with the password infra/redis.sh generated into the
 * farm's Redis dir; undefined when there is none (a Redis the farm did not start).
 */
export function redisCoordinatorUrl(dataDir: string, redisPort: number): string | undefined {
  try {
    const password = readFileSync(join(dataDir, 'redis', `redis-${redisPort}.password`), 'utf8').trim();
    return password ? `redis://quorum-coordinator:${encodeURIComponent(password)}@127.0.0.1:${redisPort}` : undefined;
  } catch {
    return undefined;
  }
}

/** Walks up from `start` to the first folder holding `infra/provision.sh`. */
export function findRepoRoot(start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'infra', 'provision.sh'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Environment of the coordinator and of each worker: the parent's, plus the farm's settings.
 * The admin token and the coordinator's Redis credentials go to the coordinator only; workers get
 * the Redis address without credentials (each fetches its own Redis user, which reaches only its
 * own queue, from the coordinator) and never inherit an admin or enrolment token (`up` adds each
 * worker's own enrolment token when it got one).
 */
export function farmEnv(
  parent: NodeJS.ProcessEnv,
  opts: Pick<UpOptions, 'workers' | 'port' | 'redisPort' | 'builders' | 'quorum'>,
  dataDir: string,
  adminToken?: string,
  coordinatorRedisUrl?: string,
): { coordinator: NodeJS.ProcessEnv; workers: NodeJS.ProcessEnv[] } {
  const redisUrl = `redis://127.0.0.1:${opts.redisPort}`;
  const coordinator: NodeJS.ProcessEnv = {
    ...parent,
    QUORUM_PORT: String(opts.port),
    QUORUM_HOST: '127.0.0.1',
    QUORUM_DATA_DIR: join(dataDir, 'coordinator'),
    QUORUM_REDIS_URL: coordinatorRedisUrl ?? redisUrl,
    // the local farm's own address, for the commands its dashboard shows (an operator's setting wins)
    QUORUM_PUBLIC_URL: parent.QUORUM_PUBLIC_URL ?? `http://127.0.0.1:${opts.port}`,
  };
  if (adminToken !== undefined) coordinator.QUORUM_ADMIN_TOKEN = adminToken;
  if (opts.builders !== undefined) coordinator.QUORUM_BUILDERS = String(opts.builders);
  if (opts.quorum !== undefined) coordinator.QUORUM_QUORUM = String(opts.quorum);
  const { QUORUM_ADMIN_TOKEN: _admin, QUORUM_ENROL_TOKEN: _enrol, ...workerParent } = parent;
  const workers = Array.from({ length: opts.workers }, (_, i): NodeJS.ProcessEnv => ({
    ...workerParent,
    QUORUM_WORKER_ID: `worker-${i + 1}`,
    QUORUM_OPERATOR: `operator-${i + 1}`,
    QUORUM_COORDINATOR_URL: `http://127.0.0.1:${opts.port}`,
    QUORUM_REDIS_URL: redisUrl,
    QUORUM_DATA_DIR: join(dataDir, `worker-${i + 1}`),
  }));
  return { coordinator, workers };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v', 'name']);

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
    const e = v as { type?: string; message: string };
    return JSON.stringify(e.type ? `${e.type}: ${e.message}` : e.message);
  }
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

/**
 * One output line of a child, prefixed with its name. pino JSON lines become
 * `name | 12:34:56 INFO  message key=value ...` (UTC time); other lines pass as they are.
 * The result is terminal-safe (see safeText).
 */
export function formatChildLine(name: string, line: string): string {
  // messages and fields quote builds, packuments and submitters: nothing of them may act on the terminal
  return safeText(childLine(name, line));
}

function childLine(name: string, line: string): string {
  const prefix = `${name} | `;
  if (!line.startsWith('{')) return `${prefix}${line}`;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${prefix}${line}`;
  }
  if (!rec || typeof rec !== 'object' || Array.isArray(rec) || !('msg' in rec || 'level' in rec)) return `${prefix}${line}`;
  const time = typeof rec.time === 'number' || typeof rec.time === 'string' ? new Date(rec.time) : undefined;
  const clock = time && Number.isFinite(time.getTime()) ? `${time.toISOString().slice(11, 19)} ` : '';
  const level = typeof rec.level === 'number' ? (LEVELS[rec.level] ?? String(rec.level)) : String(rec.level ?? 'INFO').toUpperCase();
  const fields = Object.entries(rec)
    .filter(([k]) => !HIDDEN_KEYS.has(k))
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  return `${prefix}${clock}${level.padEnd(5)} ${[msg, ...fields].filter(Boolean).join(' ')}`;
}

/** Writes each line of a child's stream to `out`, through `format`. */
function pipeLines(stream: NodeJS.ReadableStream | null, out: OutStream, format: (line: string) => string): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${format(line)}\n`));
}

/** Exit code of a finished process, signals as 128 + n (like a shell). */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal ${signal}`;
  return `exit code ${code ?? '?'}`;
}

/** Runs a setup script to its end, streaming its output to `out`. */
async function runScript(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; out: OutStream; stop: AbortSignal }): Promise<'done' | 'stopped'> {
  // same process group as `up` (not detached): the script keeps the terminal, e.g. for a sudo prompt
  const child = spawn('bash', args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  // the infra scripts label their own lines (`provision: ...`): passed through, but they quote
  // downloads and package managers, so escaped like any other text
  pipeLines(child.stdout, opts.out, (l) => safeText(l));
  pipeLines(child.stderr, opts.out, (l) => safeText(l));
  const onStop = () => child.kill('SIGTERM');
  opts.stop.addEventListener('abort', onStop, { once: true });
  try {
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
      child.once('error', (e) => rej(new CliError('process', `cannot run bash ${args.join(' ')}: ${e.message}`, { cause: e })));
      child.once('exit', (c, s) => res([c, s]));
    });
    // a grandchild (e.g. a package manager) may keep the pipes open after the script ended
    await Promise.race([closed, sleep(500)]);
    if (opts.stop.aborted) return 'stopped';
    if (code !== 0) throw new CliError('process', `${args.join(' ')} failed (${exitStatus(code, signal)}); its output is above`);
    return 'done';
  } finally {
    opts.stop.removeEventListener('abort', onStop);
  }
}

/** Resolves an app's entry script and checks that it has been built. */
function resolveBin(specifier: string, what: string): string {
  let path: string;
  try {
    path = fileURLToPath(import.meta.resolve(specifier));
  } catch (e) {
    throw new CliError('process', `cannot find the ${what} (${specifier}); install and build the workspace with \`npm ci && npx tsc -b\``, { cause: e });
  }
  if (!existsSync(path)) throw new CliError('process', `the ${what} is not built (${path} is missing); run \`npx tsc -b\``);
  return path;
}

/** Fails early when something already listens on the coordinator port (e.g. a farm still running). */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((res, rej) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      rej(
        e.code === 'EADDRINUSE'
          ? new CliError('usage', `port ${port} is already in use on 127.0.0.1 (is another farm running?); choose one with --port`)
          : new CliError('process', `cannot use port ${port}: ${e.message}`, { cause: e }),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => res()));
  });
}

/** A started child and how it ended. */
interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  ended: boolean;
  status: string;
}

function startChild(name: string, script: string, env: NodeJS.ProcessEnv, ctx: UpContext, onExit: (c: Child) => void): Child {
  // own process group: a terminal's Ctrl-C reaches only `up`, which then stops children in order
  const proc = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  pipeLines(proc.stdout, ctx.stdout, (l) => formatChildLine(name, l));
  pipeLines(proc.stderr, ctx.stderr, (l) => formatChildLine(name, l));
  const child: Child = { name, proc, ended: false, status: 'running', exited: Promise.resolve() };
  child.exited = new Promise<void>((res) => {
    let done = false;
    const finish = (status: string) => {
      if (done) return;
      done = true;
      child.ended = true;
      child.status = status;
      onExit(child);
      res();
    };
    const closed = new Promise<void>((r) => proc.once('close', () => r()));
    proc.once('error', (e) => finish(`failed to start: ${e.message}`));
    // 'exit', not 'close': a grandchild holding the pipes open must not hide the exit; the
    // short wait for 'close' lets the last output lines through first
    proc.once('exit', (code, signal) => {
      void Promise.race([closed, sleep(500)]).then(() => finish(exitStatus(code, signal)));
    });
  });
  return child;
}

function killChild(c: Child, signal: NodeJS.Signals, group: boolean): void {
  if (c.ended || c.proc.pid === undefined) return;
  try {
    if (group) process.kill(-c.proc.pid, signal);
    else c.proc.kill(signal);
  } catch {
    // already gone
  }
}

/** Sends SIGTERM to every child, waits up to `timeoutMs`, then SIGKILLs what is left. */
async function stopChildren(children: Child[], timeoutMs: number, kill: AbortSignal | undefined, out: OutStream): Promise<void> {
  const alive = children.filter((c) => !c.ended);
  if (alive.length === 0) return;
  out.write(`stopping ${alive.map((c) => c.name).join(', ')} ...\n`);
  for (const c of alive) killChild(c, 'SIGTERM', false);
  const all = Promise.all(alive.map((c) => c.exited));
  const ac = new AbortController();
  const forced = new Promise<void>((res) => kill?.addEventListener('abort', () => res(), { once: true }));
  await Promise.race([all, sleep(timeoutMs, undefined, { signal: ac.signal }).catch(() => undefined), forced]);
  ac.abort();
  const left = alive.filter((c) => !c.ended);
  if (left.length > 0) {
    out.write(`killing ${left.map((c) => c.name).join(', ')} (still running after SIGTERM)\n`);
    for (const c of left) killChild(c, 'SIGKILL', true);
    await all;
  }
}

/** Polls `GET /healthz` until it answers 200; otherwise says what it saw last (`undefined` = healthy). */
async function waitHealthy(url: string, deadline: number, giveUp: AbortSignal): Promise<string | undefined> {
  let last = 'no answer';
  while (!giveUp.aborted && Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.any([giveUp, AbortSignal.timeout(2000)]) });
      const body = (await res.text()).trim().slice(0, 200);
      if (res.status === 200) return undefined;
      last = `HTTP ${res.status}${body ? ` ${body}` : ''}`;
    } catch {
      // not listening yet
    }
    await sleep(250, undefined, { signal: giveUp }).catch(() => undefined);
  }
  return last;
}

/** A positive integer from the environment, if it holds one. */
function envInt(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) && Number(value) > 0 ? Number(value) : undefined;
}

/**
 * Checks the farm options against the policy the coordinator will use (the option, else the
 * inherited variable, else its default): throws for an impossible policy, returns warnings.
 */
export function farmWarnings(opts: Pick<UpOptions, 'workers' | 'builders' | 'quorum'>, env: NodeJS.ProcessEnv): string[] {
  const builders = opts.builders ?? envInt(env.QUORUM_BUILDERS) ?? DEFAULT_POLICY.builders;
  const quorum = opts.quorum ?? envInt(env.QUORUM_QUORUM) ?? DEFAULT_POLICY.quorum;
  if (opts.builders !== undefined && opts.quorum !== undefined && quorum > builders) {
    throw new CliError('usage', `--quorum ${quorum} cannot exceed --builders ${builders}`);
  }
  if (opts.workers < quorum) return [`${opts.workers} worker(s) can never reach a quorum of ${quorum}; every verdict will be "failed"`];
  if (opts.workers < builders) return [`${opts.workers} worker(s) for ${builders} builders per release; releases will use at most ${opts.workers}`];
  return [];
}

/**
 * `quorum up`: provisions Docker and the builder image, starts Redis, then runs the coordinator
 * and N workers in the foreground until stopped. Returns the exit code.
 */
export async function runUp(opts: UpOptions, ctx: UpContext): Promise<number> {
  for (const w of farmWarnings(opts, ctx.env)) ctx.stderr.write(`warning: ${w}\n`);
  const here = dirname(fileURLToPath(import.meta.url));
  const root = ctx.root ?? findRepoRoot(here);
  if (!root) throw new CliError('process', `cannot find infra/provision.sh in any folder above ${here}; run \`quorum up\` from a Quorum checkout`);
  const dataDir = resolve(ctx.cwd ?? process.cwd(), opts.data);
  const scriptOpts = { cwd: root, env: ctx.env, out: ctx.stderr, stop: ctx.stop };
  const interrupted = () => {
    ctx.stdout.write('interrupted before the coordinator and workers were started\n');
    return 0;
  };

  if (opts.provision) {
    ctx.stderr.write('provisioning Docker and the builder image (infra/provision.sh) ...\n');
    if ((await runScript([join('infra', 'provision.sh')], scriptOpts)) === 'stopped') return interrupted();
  }
  mkdirSync(join(dataDir, 'redis'), { recursive: true });
  ctx.stderr.write(`starting Redis on port ${opts.redisPort} if it is not running (infra/redis.sh) ...\n`);
  if ((await runScript([join('infra', 'redis.sh'), String(opts.redisPort), join(dataDir, 'redis')], scriptOpts)) === 'stopped') {
    return interrupted();
  }
  const coordinatorBin = ctx.coordinatorBin ?? resolveBin('@quorum/coordinator/bin', 'coordinator');
  const workerBin = ctx.workerBin ?? resolveBin('@quorum/worker/bin', 'worker');
  await assertPortFree(opts.port);
  if (ctx.stop.aborted) return interrupted();

  const admin = farmAdminToken(dataDir, ctx.env);
  const env = farmEnv(ctx.env, opts, dataDir, admin.token, redisCoordinatorUrl(dataDir, opts.redisPort));
  const children: Child[] = [];
  let stopping = false;
  let died: Child | undefined;
  const deathAc = new AbortController();
  const onExit = (c: Child) => {
    if (stopping) return;
    ctx.stderr.write(`${c.name} exited unexpectedly (${c.status})\n`);
    died ??= c;
    deathAc.abort();
  };
  // last resort if `up` itself ends abruptly: leave no farm processes behind
  const killAll = () => children.forEach((c) => killChild(c, 'SIGKILL', true));
  process.once('exit', killAll);
  try {
    // the coordinator first: workers are enrolled through its admin API before they start
    children.push(startChild('coordinator', coordinatorBin, env.coordinator, ctx, onExit));
    const base = `http://127.0.0.1:${opts.port}`;
    const giveUp = AbortSignal.any([ctx.stop, deathAc.signal]);
    const unhealthy = await waitHealthy(`${base}/healthz`, Date.now() + (ctx.healthTimeoutMs ?? HEALTH_TIMEOUT_MS), giveUp);
    let enrolFailure: CliError | undefined;
    if (unhealthy === undefined && !giveUp.aborted) {
      try {
        const tokens = await enrolWorkers(base, admin.token, env.workers, ctx.stderr);
        if (!giveUp.aborted) {
          env.workers.forEach((e, i) => {
            const workerEnv = tokens[i] === undefined ? e : { ...e, QUORUM_ENROL_TOKEN: tokens[i] };
            children.push(startChild(`worker-${i + 1}`, workerBin, workerEnv, ctx, onExit));
          });
          ctx.stdout.write(`farm ready: ${base} (${opts.workers} workers)\n`);
          if (admin.file) {
            ctx.stdout.write(`admin token in ${admin.file}${admin.created ? ' (new)' : ''}; for \`quorum admin\`: export QUORUM_ADMIN_TOKEN=$(cat ${admin.file})\n`);
          } else {
            ctx.stdout.write('admin token: the QUORUM_ADMIN_TOKEN of this shell\n');
          }
          ctx.stdout.write(`Ctrl-C stops the coordinator and workers; Redis (port ${opts.redisPort}) and Docker stay running.\n`);
          await new Promise<void>((res) => giveUp.addEventListener('abort', () => res(), { once: true }));
        }
      } catch (e) {
        if (!isCliError(e)) throw e;
        enrolFailure = e;
      }
    }
    stopping = true;
    await stopChildren(children, ctx.stopTimeoutMs ?? STOP_TIMEOUT_MS, ctx.kill, ctx.stdout);
    if (died) throw new CliError('process', `${died.name} exited unexpectedly (${died.status}); stopped the farm`);
    if (enrolFailure) throw new CliError('process', `${enrolFailure.message}; stopped the farm`, { cause: enrolFailure });
    if (!ctx.stop.aborted) {
      const within = Math.round((ctx.healthTimeoutMs ?? HEALTH_TIMEOUT_MS) / 1000);
      throw new CliError('process', `the coordinator did not answer ${base}/healthz with 200 within ${within} s (last: ${unhealthy}); stopped the farm`);
    }
    ctx.stdout.write(`farm stopped; Redis (port ${opts.redisPort}) and Docker were left running\n`);
    return 0;
  } finally {
    stopping = true;
    killAll();
    process.removeListener('exit', killAll);
  }
}

/**
 * Enrols each worker of the farm through `POST /v1/admin/workers` and returns its one-time
 * enrolment token, or undefined for a worker enrolled by an earlier run (409: its key in
 * `<data>/worker-i/keys` stays enrolled). Any other answer is a CliError.
 */
async function enrolWorkers(base: string, adminToken: string, workers: readonly NodeJS.ProcessEnv[], out: OutStream): Promise<(string | undefined)[]> {
  const api = new ApiClient({ server: base });
  const tokens: (string | undefined)[] = [];
  for (const env of workers) {
    const workerId = env.QUORUM_WORKER_ID!;
    const operator = env.QUORUM_OPERATOR!;
    try {
      const answer = await api.enrolWorker({ workerId, operator }, adminToken);
      if (!('token' in answer) || typeof answer.token !== 'string') {
        throw new CliError('bad-answer', `the coordinator answered no enrolment token for ${workerId}`);
      }
      out.write(`enrolling ${workerId} (${operator}) with a one-time token\n`);
      tokens.push(answer.token);
    } catch (e) {
      if (isCliError(e, 'http') && e.status === 409) {
        const keyFile = join(env.QUORUM_DATA_DIR ?? '', 'keys', PRIVATE_KEY_FILE);
        if (existsSync(keyFile)) {
          out.write(`${workerId} is already enrolled (key in ${dirname(keyFile)})\n`);
        } else {
          out.write(
            `warning: ${workerId} is enrolled with the coordinator, but ${keyFile} is missing: the new key it creates will be refused; ` +
              `enrol it with \`quorum admin enrol ${workerId} --operator ${operator} --public-key ${join(dirname(keyFile), PUBLIC_KEY_FILE)}\`\n`,
          );
        }
        tokens.push(undefined);
        continue;
      }
      if (isCliError(e)) throw new CliError(e.code, `cannot enrol ${workerId} with the coordinator: ${e.message}`, { cause: e });
      throw e;
    }
  }
  return tokens;
}
