import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { AUTH_HEADER, signRequest, workerQueueName, type ReleaseView } from '@quorum/core';
import { generateKeyPair, type KeyPair } from '@quorum/attest';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm } from './farm.js';

/**
 * The scheduler against real Redis and HTTP, with a stand-in worker that only heartbeats (it has
 * the image but never takes a job), so that queue states can be arranged exactly.
 */
describe('scheduler recovery of lost jobs', () => {
  const farm = new Farm({ workers: 0, builders: 1, quorum: 1, workerTimeoutMs: 1500 });
  let beat: NodeJS.Timeout;
  let redis: Redis;
  let key: KeyPair;
  const idle = 'idle-worker';
  /** A request as the enrolled stand-in worker makes it: signed with its key. */
  const signed = (method: string, path: string, body: unknown) => {
    const text = JSON.stringify(body);
    return fetch(`${farm.url}${path}`, { method, body: text, headers: { 'content-type': 'application/json', [AUTH_HEADER]: signRequest(key, method, path, text) } });
  };
  beforeAll(async () => {
    await farm.start();
    redis = new Redis(`redis://127.0.0.1:${farm.redisPort}`);
    key = generateKeyPair();
    const enrolled = await fetch(`${farm.url}/v1/admin/workers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${farm.adminToken}` },
      body: JSON.stringify({ workerId: idle, operator: 'op-idle', publicKey: key.publicKeyPem }),
    });
    expect(enrolled.status).toBe(201);
    const heartbeat = () =>
      signed('POST', `/v1/workers/${idle}/heartbeat`, { v: 1, workerId: idle, operator: 'op-idle', images: { npm: `sha256:${'0'.repeat(64)}` }, running: [] }).catch(() => undefined);
    await heartbeat();
    beat = setInterval(() => void heartbeat(), 300);
    const pkg = await makeGitPackage(join(farm.dir, 'src/queued'), { 'package.json': packageJson('queued', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
  }, 120_000);
  afterAll(async () => {
    clearInterval(beat);
    redis.disconnect();
    await farm.stop();
  }, 60_000);

  const assigned = async () => {
    const submitted = await farm.submit({ purl: 'pkg:npm/queued@1.0.0' });
    let view!: ReleaseView;
    await farm.waitFor(async () => {
      view = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
      return view.rebuilds.length === 1;
    }, 20_000, 'the rebuild to be assigned');
    return view;
  };

  it('enqueues an assigned rebuild again when Redis lost its job', async () => {
    const view = await assigned();
    const rebuildId = view.rebuilds[0]!.id;
    const queue = new Queue(workerQueueName(idle), { connection: redis });
    expect(await (await queue.getJob(rebuildId))?.getState()).toBe('waiting');
    await redis.flushdb();
    expect(await queue.getJob(rebuildId)).toBeUndefined();
    await farm.waitFor(async () => (await queue.getJob(rebuildId)) !== undefined, 20_000, 'the job to be enqueued again');
    expect(await (await queue.getJob(rebuildId))!.getState()).toBe('waiting');
    const later = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
    expect(later.rebuilds.map((r) => [r.id, r.state])).toEqual([[rebuildId, 'assigned']]);
    await queue.close();
  });

  it('replaces a started rebuild whose job is gone while its worker is not running it', async () => {
    const view = await assigned();
    const first = view.rebuilds[0]!.id;
    // the stand-in worker says it started, then the queue loses the job (Redis restarted empty)
    expect((await signed('POST', `/v1/rebuilds/${first}/started`, { workerId: idle })).status).toBe(200);
    await redis.flushdb();
    await farm.waitFor(async () => {
      const v = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
      return v.rebuilds.some((r) => r.id === first && r.state === 'lost');
    }, 20_000, 'the rebuild to be marked lost');
    const after = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
    expect(after.rebuilds.find((r) => r.id === first)?.reason).toBe('job-lost');
    // the same builder may take it again: it lost the job, it did not build anything
    await farm.waitFor(async () => (await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`)).rebuilds.length === 2, 20_000, 'a replacement rebuild');
    const replaced = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
    expect(replaced.rebuilds.find((r) => r.id !== first)).toMatchObject({ workerId: idle, state: 'assigned', attempt: 2 });
  });
});
