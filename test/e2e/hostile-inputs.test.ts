import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, freePort } from './farm.js';

/** An HTTP service on the operator's network that no fetch of a build may reach; it counts what reaches it. */
async function internalService(): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"secret":"internal"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Issue items "host files leak through build outputs", "repository.directory traversal",
 * "requests to internal addresses" and "releases that never end", each as the attack.
 */
describe('hostile builds, packuments and lockfiles', () => {
  // what downloads refuse is tested here: nothing may already be in a worker's cache
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2, ownFetchCaches: true });
  let internal: Awaited<ReturnType<typeof internalService>>;
  let secretJson: string;
  let secretTgz: string;
  beforeAll(async () => {
    await farm.start();
    internal = await internalService();
    secretJson = join(farm.dir, 'host-secret.json');
    await writeFile(secretJson, JSON.stringify({ node: 'HOST-SECRET-VALUE', npm: 'HOST-SECRET-VALUE' }));
    secretTgz = join(farm.dir, 'host-secret.tgz');
    await writeFile(secretTgz, 'HOST-SECRET-TARBALL');
  }, 120_000);
  afterAll(async () => {
    await internal?.close();
    await farm.stop();
  }, 60_000);

  /** Publishes a package from git (files, manifest extras), submits it and waits for the verdict. */
  async function release(
    name: string,
    files: Record<string, string>,
    manifest: Record<string, unknown> = {},
    patch?: (doc: Record<string, any>) => void,
  ): Promise<{ view: ReleaseView; text: string }> {
    const pkg = await makeGitPackage(join(farm.dir, 'src', name), { 'package.json': packageJson(name, '1.0.0', manifest), 'index.js': '1;\n', ...files }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    if (patch) farm.registry.patch(name, '1.0.0', patch);
    const view = await farm.submitAndDecide({ purl: `pkg:npm/${name}@1.0.0` });
    const logs = await Promise.all(view.rebuilds.filter((r) => r.logUrl).map(async (r) => (await farm.request('GET', r.logUrl!)).text()));
    return { view, text: JSON.stringify(view) + logs.join('\n') };
  }

  const building = (script: string) => ({ 'build.js': script });
  const withBuild = { scripts: { build: 'node build.js' } };

  it('fails a build that leaves its toolchain record as a symlink to a host file, without reading it', async () => {
    const { view, text } = await release(
      'links-toolchain',
      building(`const fs = require('fs'); fs.rmSync('/out/toolchain.json'); fs.symlinkSync(${JSON.stringify(secretJson)}, '/out/toolchain.json');`),
      withBuild,
    );
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'unsafe-output' });
    expect(text).toMatch(/toolchain\.json.*symbolic link/);
    expect(text).not.toContain('HOST-SECRET-VALUE');
  });

  it('fails a build that leaves a FIFO as its toolchain record, and the release still ends', async () => {
    const { view } = await release('fifo-toolchain', building(`require('fs').rmSync('/out/toolchain.json'); require('child_process').execSync('mkfifo /out/toolchain.json');`), withBuild);
    expect(view.state).toBe('decided');
    for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'unsafe-output' });
  });

  it('fails a build that leaves a symlink to a host tarball as an artifact, and uploads nothing of it', async () => {
    const { view, text } = await release('links-artifact', building(`require('fs').symlinkSync(${JSON.stringify(secretTgz)}, '/out/aaa-1.0.0.tgz');`), withBuild);
    for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'unsafe-output' });
    expect(text).not.toContain('HOST-SECRET-TARBALL');
    expect((await farm.request('GET', `/v1/releases/${view.id}/diff`)).status).toBe(404);
  });

  it('refuses a repository.directory that leaves the repository, before any build', async () => {
    const { view } = await release('climbs-out', {}, {}, (doc) => (doc.repository = { type: 'git', url: doc.repository.url, directory: '../../../../etc' }));
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(/^source-refused: .*leaves the repository/);
    expect(view.rebuilds).toHaveLength(0);
  });

  it('refuses a package directory reached through a symlink committed in the repository, without reading what it points at', async () => {
    // a host directory with a lockfile that would make workers fetch from the internal service
    const hostDir = join(farm.dir, 'host-dir');
    await mkdir(hostDir, { recursive: true });
    await writeFile(join(hostDir, 'package.json'), packageJson('x', '1.0.0', { scripts: { build: 'true' }, dependencies: { dep: '1.0.0' } }));
    await writeFile(
      join(hostDir, 'package-lock.json'),
      JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/dep': { version: '1.0.0', resolved: `${internal.url}/from-host-dir.tgz`, integrity: 'sha512-AAAA' } } }),
    );
    const dir = join(farm.dir, 'src', 'via-symlink');
    await mkdir(dir, { recursive: true });
    await symlink(hostDir, join(dir, 'pkg'));
    const before = internal.hits.length;
    const { view, text } = await release('via-symlink', {}, {}, (doc) => (doc.repository = { type: 'git', url: doc.repository.url, directory: 'pkg' }));
    for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'source-refused' });
    expect(text).toMatch(/symbolic link/);
    expect(text).not.toContain(hostDir);
    expect(internal.hits.length).toBe(before);
  });

  it('never fetches a published artifact the registry places on an internal address', async () => {
    const before = internal.hits.length;
    const { view } = await release('inside-tarball', {}, {}, (doc) => (doc.dist.tarball = `${internal.url}/inside-tarball-1.0.0.tgz`));
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(/^egress-refused: 127\.0\.0\.1 is refused by this farm's egress policy/);
    expect(internal.hits.length).toBe(before);
  });

  it('never fetches a locked dependency from an internal address, and says the same for an open and a closed port', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const before = internal.hits.length;
    const outcomes: string[] = [];
    for (const [name, base] of [
      ['dep-open', internal.url],
      ['dep-closed', closed],
    ] as const) {
      const lock = {
        lockfileVersion: 3,
        packages: { '': {}, 'node_modules/dep': { version: '1.0.0', resolved: `${base}/dep-1.0.0.tgz`, integrity: `sha512-${createHash('sha512').update('x').digest('base64')}` } },
      };
      const { view } = await release(name, { 'package-lock.json': JSON.stringify(lock) }, { scripts: { build: 'true' }, dependencies: { dep: '1.0.0' } });
      expect(view.verdict?.verdict).toBe('failed');
      for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'egress-refused' });
      outcomes.push(view.rebuilds[0]!.message!);
    }
    expect(internal.hits.length).toBe(before);
    // nothing in the answer tells an open port from a closed one
    expect(outcomes[0]).toBe(outcomes[1]);
  });

  it("refuses an npm the registry substitutes for the publisher's, checking it against the builder's own pin", async () => {
    // the registry serves its own "npm@6.14.18" (with a matching integrity of its own)
    farm.registry.publish({ tarball: Buffer.from('a trojaned npm'), manifest: { name: 'npm', version: '6.14.18' } });
    const { view } = await release('packed-by-npm6', {}, {}, (doc) => (doc._npmVersion = '6.14.18'));
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'integrity-mismatch' });
  });

  it('decides a release whose lockfile has a malformed resolved URL, instead of retrying it forever', async () => {
    const lock = { lockfileVersion: 3, packages: { '': {}, 'node_modules/dep': { version: '1.0.0', resolved: 'http://[', integrity: 'sha512-AAAA' } } };
    const { view } = await release('bad-url', { 'package-lock.json': JSON.stringify(lock) }, { scripts: { build: 'true' }, dependencies: { dep: '1.0.0' } });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'unpinned-dependency', attempt: 1 });
  });

  it('decides a release whose locked dependency is gone from the registry (404) as failed, once', async () => {
    const lock = { lockfileVersion: 3, packages: { '': {}, 'node_modules/gone': { version: '1.0.0', resolved: `${farm.registry.url}/gone/-/gone-1.0.0.tgz`, integrity: 'sha512-AAAA' } } };
    const { view } = await release('needs-gone', { 'package-lock.json': JSON.stringify(lock) }, { scripts: { build: 'true' }, dependencies: { gone: '1.0.0' } });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'dependency-not-found', attempt: 1 });
  });
});
