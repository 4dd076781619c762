import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LocalKeySigner, rebuildStatement } from '@quorum/attest';
import { workerQueueName, type QueueCredentials, type RebuildSpec, type ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, type StandIn } from './farm.js';

/**
 * Issue "verdict laundering through Redis": one operator's worker must not reach another
 * worker's queue, payloads carry no instructions, and a statement about another source than the
 * release pinned is refused however it came about.
 */
describe("workers cannot touch each other's work", () => {
  const farm = new Farm({ workers: 0, builders: 2, quorum: 2, workerTimeoutMs: 3000, env: { QUORUM_MAX_ARTIFACT_MB: '1' } });
  let alice: StandIn;
  let bob: StandIn;
  let aliceCreds: QueueCredentials;
  let aliceRedis: Redis;
  let admin: Redis;
  let view: ReleaseView;
  let pinnedCommit: string;
  beforeAll(async () => {
    await farm.start();
    alice = await farm.standIn('alice-w', 'alice');
    bob = await farm.standIn('bob-w', 'bob');
    const res = await alice.send('POST', '/v1/workers/alice-w/queue-credentials', undefined);
    expect(res.status).toBe(200);
    aliceCreds = (await res.json()) as QueueCredentials;
    aliceRedis = new Redis({ port: farm.redisPort, host: '127.0.0.1', username: aliceCreds.username, password: aliceCreds.password, maxRetriesPerRequest: null });
    admin = new Redis(farm.redisAdminUrl, { maxRetriesPerRequest: null });
    const pkg = await makeGitPackage(join(farm.dir, 'src/iso'), { 'package.json': packageJson('iso', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    pinnedCommit = pkg.commit;
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    const submitted = await farm.submit({ purl: 'pkg:npm/iso@1.0.0' });
    await farm.waitFor(
      async () => {
        view = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
        return view.rebuilds.length === 2;
      },
      30_000,
      'both stand-ins to be assigned',
    );
  }, 180_000);
  afterAll(async () => {
    alice?.stop();
    bob?.stop();
    aliceRedis?.disconnect();
    admin?.disconnect();
    await farm.stop();
  }, 60_000);

  const rebuildOf = (workerId: string) => view.rebuilds.find((r) => r.workerId === workerId)!;

  it('gives a worker Redis credentials that reach only its own queue (NOPERM elsewhere)', async () => {
    expect(aliceCreds.username).toBe('quorum-worker-alice-w');
    // its own queue works
    const ownKey = `bull:${workerQueueName('alice-w')}:${rebuildOf('alice-w').id}`;
    expect(JSON.parse((await aliceRedis.hget(ownKey, 'data'))!)).toMatchObject({ rebuildId: rebuildOf('alice-w').id });
    // bob's queue: read, rewrite, add, remove are all refused by Redis itself
    const bobKey = `bull:${workerQueueName('bob-w')}:${rebuildOf('bob-w').id}`;
    await expect(aliceRedis.hget(bobKey, 'data')).rejects.toThrow(/NOPERM/);
    await expect(aliceRedis.hset(bobKey, 'data', JSON.stringify({ v: 1, overrides: { repo: 'https://evil.example/x.git' } }))).rejects.toThrow(/NOPERM/);
    const bobs = new Queue(workerQueueName('bob-w'), { connection: aliceRedis });
    await expect(bobs.add('rebuild', { v: 2, rebuildId: rebuildOf('bob-w').id, releaseId: view.id })).rejects.toThrow(/NOPERM/);
    // nothing that spans queues either
    await expect(aliceRedis.flushall()).rejects.toThrow(/NOPERM/);
    await expect(aliceRedis.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(aliceRedis.call('ACL', 'LIST')).rejects.toThrow(/NOPERM/);
    // no Lua of its own: a busy script would block Redis for every other worker and the coordinator
    await expect(aliceRedis.eval('while true do end', 0)).rejects.toThrow(/NOPERM/);
    await expect(aliceRedis.call('SCRIPT', 'LOAD', 'return 1')).rejects.toThrow(/NOPERM/);
    await expect(aliceRedis.call('SCRIPT', 'FLUSH')).rejects.toThrow(/NOPERM/);
    await expect(aliceRedis.call('FUNCTION', 'FLUSH')).rejects.toThrow(/NOPERM/);
    // and Redis refuses anyone without a password
    const anonymous = new Redis({ port: farm.redisPort, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null, enableReadyCheck: false });
    anonymous.on('error', () => undefined);
    await expect(anonymous.get(bobKey)).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
    await bobs.close();
  });

  it('puts ids only on the queue: the spec comes from the coordinator, to the assigned worker only', async () => {
    const job = await new Queue(workerQueueName('bob-w'), { connection: admin }).getJob(rebuildOf('bob-w').id);
    expect(job!.data).toEqual({ v: 2, rebuildId: rebuildOf('bob-w').id, releaseId: view.id });
    const stolen = await alice.send('POST', `/v1/rebuilds/${rebuildOf('bob-w').id}/started`, undefined);
    expect(stolen.status).toBe(403);
    const own = await alice.send('POST', `/v1/rebuilds/${rebuildOf('alice-w').id}/started`, undefined);
    expect(own.status).toBe(200);
    const spec = ((await own.json()) as { spec: RebuildSpec }).spec;
    expect(spec).toMatchObject({ v: 1, rebuildId: rebuildOf('alice-w').id, purl: 'pkg:npm/iso@1.0.0', overrides: {}, pinned: { origin: 'registry', commit: pinnedCommit } });
  });

  it('refuses a signed statement about another source than the release pinned, and replaces that rebuild', async () => {
    const rebuild = rebuildOf('bob-w');
    const statement = rebuildStatement({
      purl: 'pkg:npm/iso@1.0.0',
      releaseId: view.id,
      rebuildId: rebuild.id,
      builder: { id: 'bob-w', operator: 'bob' },
      status: 'succeeded',
      artifact: { filename: 'iso-1.0.0.tgz', sha256: view.published!.sha256, sha512: view.published!.sha512, stabilizedSha256: view.published!.stabilizedSha256, stabilizersApplied: [] },
      // what a rewritten job would have made an honest worker build
      source: { origin: 'registry', repo: 'https://evil.example/iso.git', commit: 'e'.repeat(40), ref: 'v1.0.0', commitTime: 1 },
      recipe: { toolchain: {} },
      stabilizers: [],
      startedOn: new Date().toISOString(),
      finishedOn: new Date().toISOString(),
      log: { sha256: 'a'.repeat(64), bytes: 1 },
    });
    const bundle = await new LocalKeySigner(bob.key).signStatement(statement);
    const res = await bob.send('POST', `/v1/rebuilds/${rebuild.id}/report`, {
      v: 1,
      rebuildId: rebuild.id,
      workerId: 'bob-w',
      status: 'succeeded',
      source: { origin: 'registry', repo: 'https://evil.example/iso.git', commit: 'e'.repeat(40), ref: 'v1.0.0', commitTime: 1 },
      artifact: { ...view.published!, filename: 'iso-1.0.0.tgz' },
      timings: { totalMs: 1 },
      bundle,
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/source-mismatch.*evil\.example.*the release pinned/);
    const after = await farm.json<ReleaseView>('GET', `/v1/releases/${view.id}`);
    expect(after.rebuilds.find((r) => r.id === rebuild.id)).toMatchObject({ state: 'lost', reason: 'source-mismatch' });
    // nothing of it is served as an attestation, and auditors see the refusal
    expect((await farm.request('GET', `/v1/rebuilds/${rebuild.id}/bundle`)).status).toBe(404);
    const rejections = await farm.admin<{ reason: string; workerId?: string }[]>('GET', '/v1/admin/rejections');
    expect(rejections.some((r) => r.reason === 'source-mismatch' && r.workerId === 'bob-w')).toBe(true);
  });

  it('refuses an artifact upload over the size limit from its signed length, and a second upload for the same rebuild', async () => {
    const own = rebuildOf('alice-w').id;
    // a signed request for more bytes than the farm keeps (1 MiB here): refused from its signed length
    const { signRequest } = await import('@quorum/core');
    const path = `/v1/rebuilds/${own}/artifact`;
    const big = Buffer.alloc(2 * 2 ** 20, 1);
    const tooBig = await fetch(`${farm.url}${path}`, { method: 'PUT', body: big, headers: { 'content-type': 'application/octet-stream', ...signRequest(alice.key, 'PUT', path, big) } });
    expect(tooBig.status).toBe(413);
    // a real one, then another: one upload per rebuild
    const bytes = Buffer.from('not much of an artifact');
    const first = await fetch(`${farm.url}${path}`, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream', ...signRequest(alice.key, 'PUT', path, bytes) } });
    expect(first.status).toBe(200);
    const again = Buffer.from('another artifact, to fill the disk');
    const second = await fetch(`${farm.url}${path}`, { method: 'PUT', body: again, headers: { 'content-type': 'application/octet-stream', ...signRequest(alice.key, 'PUT', path, again) } });
    expect(second.status).toBe(409);
  });

  it("keeps going when a worker corrupts its own queue: that worker's rebuild is replaced, other releases go on", async () => {
    // the worker may write its own queue's keys: it turns BullMQ's metadata into garbage
    await aliceRedis.del(`bull:${workerQueueName('alice-w')}:meta`);
    await aliceRedis.set(`bull:${workerQueueName('alice-w')}:meta`, 'garbage');
    const pkg = await makeGitPackage(join(farm.dir, 'src/iso2'), { 'package.json': packageJson('iso2', '1.0.0'), 'index.js': '2;\n' }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    const submitted = await farm.submit({ purl: 'pkg:npm/iso2@1.0.0' });
    let later!: ReleaseView;
    await farm.waitFor(
      async () => {
        later = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
        return later.rebuilds.some((r) => r.workerId === 'alice-w' && r.state === 'lost' && r.reason === 'queue-error');
      },
      30_000,
      "the rebuild on alice's corrupted queue to be replaced",
    );
    expect(later.rebuilds.some((r) => r.workerId === 'bob-w' && r.state !== 'lost')).toBe(true);
    await aliceRedis.del(`bull:${workerQueueName('alice-w')}:meta`);
  });

  it("records a request with a forged signature under no worker's name", async () => {
    const res = await fetch(`${farm.url}/v1/workers/bob-w/heartbeat`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', 'x-quorum-auth': `${bob.key.keyId} ${Date.now()} AAAA`, 'x-quorum-content-sha256': createHash('sha256').update('{}').digest('hex') },
    });
    expect(res.status).toBe(403);
    const newest = (await farm.admin<{ reason: string; workerId?: string; authenticated: boolean; detail: string }[]>('GET', '/v1/admin/rejections?unauthenticated=1'))[0]!;
    expect(newest).toMatchObject({ reason: 'bad-request-signature', authenticated: false });
    expect(newest.workerId).toBeUndefined();
  });

  it('refuses worker requests signed by a key that is not enrolled before reading their body', async () => {
    const res = await alice.send('POST', `/v1/rebuilds/${rebuildOf('alice-w').id}/report`, { v: 1 }, (await import('@quorum/attest')).generateKeyPair());
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/not enrolled/);
  });
});
