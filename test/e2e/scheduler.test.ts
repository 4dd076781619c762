import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { workerQueueName, type ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, type StandIn } from './farm.js';

/**
 * The scheduler against real Redis and HTTP, with a stand-in worker that only heartbeats (it has
 * the image but never takes a job), so that queue states can be arranged exactly.
 */
describe('scheduler recovery of lost jobs', () => {
  const farm = new Farm({ workers: 0, builders: 1, quorum: 1, workerTimeoutMs: 1500 });
  let redis: Redis;
  let idleWorker: StandIn;
  const idle = 'idle-worker';
  beforeAll(async () => {
    await farm.start();
    redis = new Redis(farm.redisAdminUrl);
    idleWorker = await farm.standIn(idle, 'op-idle');
    const pkg = await makeGitPackage(join(farm.dir, 'src/queued'), { 'package.json': packageJson('queued', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
  }, 120_000);
  afterAll(async () => {
    idleWorker.stop();
    redis.disconnect();
    await farm.stop();
  }, 60_000);

  const assigned = async () => {
    const submitted = await farm.submit({ purl: 'pkg:npm/queued@1.0.0' });
    let view!: ReleaseView;
    await farm.waitFor(
      async () => {
        view = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
        return view.rebuilds.length === 1;
      },
      20_000,
      'the rebuild to be assigned',
    );
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
    expect((await idleWorker.send('POST', `/v1/rebuilds/${first}/started`, { workerId: idle })).status).toBe(200);
    await redis.flushdb();
    await farm.waitFor(
      async () => {
        const v = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
        return v.rebuilds.some((r) => r.id === first && r.state === 'lost');
      },
      20_000,
      'the rebuild to be marked lost',
    );
    const after = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
    expect(after.rebuilds.find((r) => r.id === first)?.reason).toBe('job-lost');
    // the same builder may take it again: it lost the job, it did not build anything
    await farm.waitFor(async () => (await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`)).rebuilds.length === 2, 20_000, 'a replacement rebuild');
    const replaced = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
    expect(replaced.rebuilds.find((r) => r.id !== first)).toMatchObject({ workerId: idle, state: 'assigned', attempt: 2 });
  });
});

describe('choosing builders', () => {
  const farm = new Farm({ workers: 0, builders: 3, quorum: 2 });
  const standIns: StandIn[] = [];
  beforeAll(async () => {
    await farm.start();
    // one operator runs three workers, another runs one; ids put the big operator first
    for (const [id, op] of [
      ['a1', 'acme'],
      ['a2', 'acme'],
      ['a3', 'acme'],
      ['z1', 'zeta'],
    ] as const)
      standIns.push(await farm.standIn(id, op));
    const pkg = await makeGitPackage(join(farm.dir, 'src/spread'), { 'package.json': packageJson('spread', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
  }, 120_000);
  afterAll(async () => {
    for (const s of standIns) s.stop();
    await farm.stop();
  }, 60_000);

  it('spreads a release over operators before giving one operator a second builder', async () => {
    const submitted = await farm.submit({ purl: 'pkg:npm/spread@1.0.0' });
    let view!: ReleaseView;
    await farm.waitFor(
      async () => {
        view = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
        return view.rebuilds.length === 3;
      },
      20_000,
      'three builders to be assigned',
    );
    const operators = view.rebuilds.map((r) => r.operator);
    expect(operators).toContain('zeta');
    expect(operators.filter((o) => o === 'acme')).toHaveLength(2);
  });
});
