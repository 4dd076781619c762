import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, type StandIn } from './farm.js';

/** Issue item "releases that never end": every release ends, whatever its workers do. */
describe('every release ends', () => {
  it('gives up on rebuilds past their deadline, however alive their worker claims to be, and decides failed', async () => {
    // stand-in workers heartbeat forever but never build anything
    const farm = new Farm({ workers: 0, builders: 1, quorum: 1, env: { QUORUM_REBUILD_DEADLINE_MS: '1500' } });
    const zombies: StandIn[] = [];
    try {
      await farm.start();
      zombies.push(await farm.standIn('zombie-1', 'op-z1'), await farm.standIn('zombie-2', 'op-z2'));
      const pkg = await makeGitPackage(join(farm.dir, 'src/stuck'), { 'package.json': packageJson('stuck', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
      await publishFromGit(farm.registry, pkg, { how: 'host' });
      const view = await farm.submitAndDecide({ purl: 'pkg:npm/stuck@1.0.0' }, {});
      expect(view.verdict?.verdict).toBe('failed');
      expect(view.verdict?.reason).toMatch(/^no-builders: all 3 rebuild attempts were lost/);
      expect(view.rebuilds.map((r) => [r.state, r.reason])).toEqual([
        ['lost', 'deadline'],
        ['lost', 'deadline'],
        ['lost', 'deadline'],
      ]);
    } finally {
      for (const z of zombies) z.stop();
      await farm.stop();
    }
  }, 180_000);

  it('decides failed (no-builders) when no eligible worker takes a release within the grace period', async () => {
    const farm = new Farm({ workers: 0, builders: 2, quorum: 2, env: { QUORUM_NO_BUILDER_GRACE_MS: '1000' } });
    try {
      await farm.start();
      const pkg = await makeGitPackage(join(farm.dir, 'src/orphan'), { 'package.json': packageJson('orphan', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
      await publishFromGit(farm.registry, pkg, { how: 'host' });
      const view = await farm.submitAndDecide({ purl: 'pkg:npm/orphan@1.0.0' });
      expect(view.verdict?.verdict).toBe('failed');
      expect(view.verdict?.reason).toMatch(/^no-builders: no eligible worker/);
      // the decision is signed like any other
      const att = await farm.json<{ vsa: unknown }>('GET', `/v1/attestations/${encodeURIComponent('pkg:npm/orphan@1.0.0')}`);
      expect(att.vsa).toBeTruthy();
    } finally {
      await farm.stop();
    }
  }, 180_000);
});

describe('a worker stops on SIGTERM even with a job that is stuck', () => {
  const farm = new Farm({ workers: 0, builders: 1, quorum: 1 });
  let hanging: Server;
  beforeAll(async () => {
    await farm.start();
    // the registry this worker reads never answers: its fetch phase hangs
    hanging = createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
  }, 120_000);
  afterAll(async () => {
    hanging.closeAllConnections();
    await new Promise<void>((r) => hanging.close(() => r()));
    await farm.stop();
  }, 60_000);

  it('stops promptly on SIGTERM while its job waits on a registry that never answers', async () => {
    const port = (hanging.address() as AddressInfo).port;
    await farm.startWorker('stuck-w', 'op-stuck', { QUORUM_NPM_REGISTRY: `http://127.0.0.1:${port}`, QUORUM_STOP_GRACE_MS: '1000' });
    await farm.waitFor(async () => (await farm.json<{ id: string; alive: boolean }[]>('GET', '/v1/workers')).some((w) => w.id === 'stuck-w' && w.alive), 30_000, 'the worker');
    const pkg = await makeGitPackage(join(farm.dir, 'src/hangs'), { 'package.json': packageJson('hangs', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    const submitted = await farm.submit({ purl: 'pkg:npm/hangs@1.0.0' });
    await farm.waitFor(async () => (await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`)).rebuilds.some((r) => r.state === 'running'), 30_000, 'the rebuild to start');
    const child = farm.workers.get('stuck-w')!;
    child.kill('SIGTERM');
    // it ends on its own (the farm's own stop would SIGKILL it after 10 s)
    const result = await Promise.race([child, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000))]);
    expect(result).not.toBe('still running');
    farm.workers.delete('stuck-w');
  }, 180_000);
});

describe("orphan clean-up touches only this worker instance's containers", () => {
  const farm = new Farm({ workers: 0 });
  beforeAll(() => farm.start(), 120_000);
  afterAll(() => farm.stop(), 60_000);

  it("leaves a running build of another farm's worker with the same id alone", async () => {
    const image = (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', 'quorum/npm-builder:bookworm'])).stdout.trim();
    const id = farm.workerId(1);
    // another farm's worker of the same id is building (another data dir, so another instance)
    const other = (await execa('docker', ['run', '-d', '--network', 'none', '--label', `quorum.worker=${id}`, '--label', 'quorum.instance=another-farm', image, 'sleep', '300'])).stdout.trim();
    try {
      await farm.startWorker(id, 'operator-1');
      await farm.waitFor(async () => (await farm.json<{ id: string; alive: boolean }[]>('GET', '/v1/workers')).some((w) => w.id === id && w.alive), 30_000, 'the worker');
      const state = (await execa('docker', ['inspect', '--format', '{{.State.Running}}', other])).stdout.trim();
      expect(state).toBe('true');
    } finally {
      await execa('docker', ['rm', '-f', other], { reject: false });
    }
  });
});
