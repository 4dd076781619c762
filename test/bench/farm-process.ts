import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { ReleaseView } from '@quorum/core';
import { freePort, ROOT } from '../e2e/farm.js';
import { LocalRegistry } from '../fixtures/registry-server.js';

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

  constructor(private readonly opts: { workers: number; builders: number; quorum: number }) {}

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'quorum-bench-'));
    this.redisPort = await freePort();
    await execa('bash', [join(ROOT, 'infra/redis.sh'), String(this.redisPort), join(this.dir, 'redis')]);
    const adminRedisUrl = (await execa('bash', [join(ROOT, 'infra/redis.sh'), '--url', String(this.redisPort), join(this.dir, 'redis')])).stdout.trim();
    await this.registry.start();
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    // workers get their own Redis users from the coordinator; only the coordinator holds the admin URL
    const common = { QUORUM_REDIS_URL: `redis://127.0.0.1:${this.redisPort}`, QUORUM_NPM_REGISTRY: this.registry.url, QUORUM_ALLOW_LOCAL_REPOS: '1', QUORUM_LOG_LEVEL: 'warn', QUORUM_SUBMIT_RATE_PER_MIN: '1000000' };
    this.coordinator = execa('node', [join(ROOT, 'packages/coordinator/dist/bin.js')], {
      env: { ...common, QUORUM_REDIS_URL: adminRedisUrl, QUORUM_PORT: String(port), QUORUM_DATA_DIR: join(this.dir, 'coordinator'), QUORUM_BUILDERS: String(this.opts.builders), QUORUM_QUORUM: String(this.opts.quorum), QUORUM_ADMIN_TOKEN: this.adminToken },
      stdio: ['ignore', 'ignore', 'inherit'],
      reject: false,
    });
    await this.until(async () => (await fetch(`${this.url}/healthz`)).ok, 30_000);
    for (let i = 1; i <= this.opts.workers; i++) {
      const res = await fetch(`${this.url}/v1/admin/workers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.adminToken}` },
        body: JSON.stringify({ workerId: `bench-${i}`, operator: `operator-${i}` }),
      });
      const { token } = (await res.json()) as { token: string };
      this.workers.push(
        execa('node', [join(ROOT, 'packages/worker/dist/bin.js')], {
          env: { ...common, QUORUM_WORKER_ID: `bench-${i}`, QUORUM_OPERATOR: `operator-${i}`, QUORUM_ENROL_TOKEN: token, QUORUM_COORDINATOR_URL: this.url, QUORUM_DATA_DIR: join(this.dir, `worker-${i}`) },
          stdio: ['ignore', 'ignore', 'inherit'],
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

  /** Polls a release every 25 ms (a fine clock for the overhead) until it is decided. */
  async decided(id: string): Promise<ReleaseView> {
    let view!: ReleaseView;
    await this.until(async () => {
      view = (await (await fetch(`${this.url}/v1/releases/${id}`)).json()) as ReleaseView;
      return view.state === 'decided';
    }, 600_000, 25);
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

  async stop(): Promise<void> {
    for (const child of [...this.workers, this.coordinator]) {
      child.kill('SIGTERM');
      await Promise.race([child, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
    }
    await this.registry.close();
    await execa('bash', [join(ROOT, 'infra/redis.sh'), '--stop', String(this.redisPort), join(this.dir, 'redis')], { reject: false });
    await rm(this.dir, { recursive: true, force: true });
  }
}
