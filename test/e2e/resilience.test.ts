import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm } from './farm.js';

describe('failures of the farm itself', () => {
  const farm = new Farm({ workers: 3, builders: 3, quorum: 2, workerTimeoutMs: 3000 });
  beforeAll(() => farm.start(), 120_000);
  afterAll(() => farm.stop(), 60_000);

  it('still reaches a verdict from the other workers when a worker is killed during a build', async () => {
    // the killed worker comes back under a new identity only after the verdict, so N-1 builders remain
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/slow'),
      {
        'package.json': packageJson('slow', '1.0.0', { scripts: { build: 'node build.js' } }),
        'build.js': `setTimeout(() => require('fs').writeFileSync('built.txt', 'done\\n'), 6000);\n`,
        'index.js': 'module.exports = 1;\n',
      },
      'v1.0.0',
    );
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const submitted = await farm.submit({ purl: 'pkg:npm/slow@1.0.0' });
    let victim: string | undefined;
    await farm.waitFor(async () => {
      const view = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
      victim = view.rebuilds.find((r) => r.state === 'running')?.workerId;
      return victim !== undefined;
    }, 60_000, 'a rebuild to start');
    await farm.killWorker(victim!);
    const view = await farm.decided(submitted.id);
    expect(view.verdict?.verdict).toBe('reproducible');
    expect(view.verdict?.agreeingCount).toBe(2);
    const lost = view.rebuilds.find((r) => r.workerId === victim);
    expect(lost?.state).toBe('lost');
    expect(lost?.reason).toBe('worker-vanished');
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
