import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm } from './farm.js';

/** Publishes a package whose build takes a few seconds, so that a worker can be killed during it. */
async function publishSlow(farm: Farm, name: string) {
  const pkg = await makeGitPackage(
    join(farm.dir, 'src', name),
    {
      'package.json': packageJson(name, '1.0.0', { scripts: { build: 'node build.js' } }),
      'build.js': `setTimeout(() => require('fs').writeFileSync('built.txt', 'done\\n'), 5000);\n`,
      'index.js': 'module.exports = 1;\n',
    },
    'v1.0.0',
  );
  await publishFromGit(farm.registry, pkg, { how: 'image' });
}

/** Submits, waits until some builder runs it, kills that worker; returns the victim and the decided view. */
async function killDuringBuild(farm: Farm, purl: string): Promise<{ victim: string; view: ReleaseView }> {
  const submitted = await farm.submit({ purl });
  let victim: string | undefined;
  await farm.waitFor(
    async () => {
      const view = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
      victim = view.rebuilds.find((r) => r.state === 'running')?.workerId;
      return victim !== undefined;
    },
    60_000,
    'a rebuild to start',
  );
  await farm.killWorker(victim!);
  return { victim: victim!, view: await farm.decided(submitted.id) };
}

describe('failures of the farm itself', () => {
  // four workers for N=3: the first kill leaves a spare to reassign to, the second does not
  const farm = new Farm({ workers: 4, builders: 3, quorum: 2, workerTimeoutMs: 3000 });
  beforeAll(() => farm.start(), 120_000);
  afterAll(() => farm.stop(), 60_000);

  it('reassigns the rebuild of a worker killed during a build to a spare worker', async () => {
    await publishSlow(farm, 'slow-a');
    const { victim, view } = await killDuringBuild(farm, 'pkg:npm/slow-a@1.0.0');
    expect(view.verdict?.verdict).toBe('reproducible');
    expect(view.verdict?.agreeingCount).toBe(3);
    const lost = view.rebuilds.find((r) => r.workerId === victim);
    expect(lost?.state).toBe('lost');
    expect(lost?.reason).toBe('worker-vanished');
    const succeeded = view.rebuilds.filter((r) => r.state === 'succeeded');
    expect(succeeded).toHaveLength(3);
    expect(succeeded.map((r) => r.workerId)).not.toContain(victim);
    expect(Math.max(...view.rebuilds.map((r) => r.attempt))).toBe(4);
  });

  it('still reaches a verdict from the other workers when a killed worker has no replacement', async () => {
    await publishSlow(farm, 'slow-b');
    const { victim, view } = await killDuringBuild(farm, 'pkg:npm/slow-b@1.0.0');
    expect(view.verdict?.verdict).toBe('reproducible');
    expect(view.verdict?.agreeingCount).toBe(2);
    expect(view.rebuilds.find((r) => r.workerId === victim)?.state).toBe('lost');
    expect(view.rebuilds.filter((r) => r.state === 'succeeded')).toHaveLength(2);
  });

  it('loses no accepted release when the coordinator restarts before building it', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/restart'), { 'package.json': packageJson('restart', '1.0.0'), 'index.js': 'module.exports = 2;\n' }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const submitted = await farm.submit({ purl: 'pkg:npm/restart@1.0.0' });
    expect(submitted.state).toBe('queued');
    await farm.coordinator.close();
    await farm.startCoordinator();
    const view = await farm.decided(submitted.id);
    expect(view.id).toBe(submitted.id);
    expect(view.verdict?.verdict).toBe('reproducible');
  });
});
