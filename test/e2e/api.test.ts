import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm } from './farm.js';

describe('API input validation over real HTTP', () => {
  // no workers: validation happens before anything is scheduled
  const farm = new Farm({ workers: 0, allowLocalRepos: false });
  beforeAll(async () => {
    await farm.start();
    const pkg = await makeGitPackage(join(farm.dir, 'src/known'), { 'package.json': packageJson('known', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
  }, 120_000);
  afterAll(() => farm.stop(), 60_000);

  const cases: { name: string; body: unknown; status: number; code: string; message: RegExp }[] = [
    { name: 'a malformed purl', body: { purl: 'npm:left-pad' }, status: 400, code: 'invalid-purl', message: /malformed purl/ },
    { name: 'a purl without version', body: { purl: 'pkg:npm/known' }, status: 400, code: 'missing-version', message: /no version/ },
    { name: 'an unknown ecosystem', body: { purl: 'pkg:cargo/serde@1.0.0' }, status: 400, code: 'unknown-ecosystem', message: /no builder for ecosystem "cargo"/ },
    { name: 'an unknown registry', body: { purl: 'pkg:npm/known@1.0.0?repository_url=https://evil.example/npm' }, status: 400, code: 'unknown-registry', message: /not served by this farm/ },
    { name: 'a version the registry does not have', body: { purl: 'pkg:npm/known@9.9.9' }, status: 404, code: 'not-found', message: /known@9.9.9 is not in the registry/ },
    { name: 'a package the registry does not have', body: { purl: 'pkg:npm/nothing-here@1.0.0' }, status: 404, code: 'not-found', message: /not found in the registry/ },
    { name: 'a local repository on a farm that refuses them', body: { purl: 'pkg:npm/known@1.0.0', repo: 'file:///etc' }, status: 400, code: 'invalid-input', message: /QUORUM_ALLOW_LOCAL_REPOS/ },
    { name: 'a ref that looks like an option', body: { purl: 'pkg:npm/known@1.0.0', ref: '--upload-pack=evil' }, status: 400, code: 'invalid-input', message: /not a valid tag/ },
    { name: 'a body without purl', body: { repo: 'https://example.test/x.git' }, status: 400, code: 'invalid-input', message: /purl/ },
    { name: 'unknown fields', body: { purl: 'pkg:npm/known@1.0.0', extra: 1 }, status: 400, code: 'invalid-input', message: /additional properties/ },
    { name: 'malformed JSON', body: '{"purl": ', status: 400, code: 'invalid-input', message: /JSON/i },
  ];

  for (const c of cases) {
    it(`rejects ${c.name} with ${c.status} and a message`, async () => {
      const res = await farm.request('POST', '/v1/releases', c.body);
      expect(res.status).toBe(c.status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(c.code);
      expect(body.error.message).toMatch(c.message);
    });
  }

  it('answers 404 with a message for an unknown release, rebuild log and package', async () => {
    for (const path of ['/v1/releases/00000000-0000-0000-0000-000000000000', '/v1/rebuilds/nope/log', `/v1/packages/${encodeURIComponent('pkg:npm/never-submitted@1.0.0')}`, '/v1/nothing']) {
      const res = await farm.request('GET', path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message.length).toBeGreaterThan(5);
    }
  });

  it('rejects a malformed purl in a package query with 400', async () => {
    const res = await farm.request('GET', `/v1/packages/${encodeURIComponent('not a purl')}`);
    expect(res.status).toBe(400);
  });

  it('accepts a valid submission with 202 and keeps it queued while no worker is alive', async () => {
    const res = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/known@1.0.0' });
    expect(res.status).toBe(202);
    const view = (await res.json()) as { id: string; state: string; upstream: { integrity: string } };
    expect(res.headers.get('location')).toBe(`/v1/releases/${view.id}`);
    expect(view.upstream.integrity).toMatch(/^sha512-/);
    await new Promise((r) => setTimeout(r, 1500));
    const later = await farm.json<{ state: string; rebuilds: unknown[] }>('GET', `/v1/releases/${view.id}`);
    expect(later.state).toBe('building');
    expect(later.rebuilds).toHaveLength(0);
  });

  it('decides a release whose tarball does not match the registry integrity failed, without building', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/swapped'), { 'package.json': packageJson('swapped', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    const { tarball } = await publishFromGit(farm.registry, pkg, { how: 'host' });
    farm.registry.publish({ tarball, manifest: { name: 'swapped', version: '1.0.1', repository: pkg.url }, integrity: `sha512-${Buffer.alloc(64, 7).toString('base64')}` });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/swapped@1.0.1' });
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(/integrity-mismatch/);
    expect(view.rebuilds).toHaveLength(0);
    const att = await farm.json<{ vsa: { dsseEnvelope: { payload: string } } }>('GET', `/v1/attestations/${encodeURIComponent('pkg:npm/swapped@1.0.1')}`);
    const vsa = JSON.parse(Buffer.from(att.vsa.dsseEnvelope.payload, 'base64').toString('utf8'));
    expect(vsa.predicate.verificationResult).toBe('FAILED');
    // the subject is what the registry declared, since what it served was not that
    expect(vsa.subject[0].digest).toEqual({ sha512: Buffer.alloc(64, 7).toString('hex') });
  });

  it('decides a release that declares no source repository failed with source-not-found, about the published bytes', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/sourceless'), { 'package.json': packageJson('sourceless', '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
    const { tarball } = await publishFromGit(farm.registry, pkg, { how: 'host', manifest: { repository: undefined } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/sourceless@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(/^source-not-found: .*--repo/);
    expect(view.published?.sha256).toBe(createHash('sha256').update(tarball).digest('hex'));
  });

  it('refuses a published tarball that escapes its root, without extracting anything', async () => {
    // a hand-made tar whose entry climbs out of the archive root
    const pack = tar.pack();
    pack.entry({ name: 'package/package.json' }, packageJson('escape', '1.0.0'));
    pack.entry({ name: 'package/../../../../tmp/quorum-escape-probe' }, 'owned\n');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack.pipe(createGzip())) chunks.push(c as Buffer);
    farm.registry.publish({ tarball: Buffer.concat(chunks), manifest: { name: 'escape', version: '1.0.0', repository: 'https://example.test/escape.git' } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/escape@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(/^unsafe-archive: .*\.\./);
    expect(existsSync('/tmp/quorum-escape-probe')).toBe(false);
  });

  it('refuses worker calls from a worker that is not enrolled', async () => {
    const res = await farm.request('POST', '/v1/rebuilds/whatever/report', { v: 1, rebuildId: 'whatever', workerId: 'intruder', status: 'succeeded', timings: { totalMs: 1 } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/intruder is not enrolled/);
    const hb = await farm.request('POST', '/v1/workers/intruder/heartbeat', { v: 1, workerId: 'intruder', operator: 'x', images: {}, running: [] });
    expect(hb.status).toBe(403);
  });

  it('refuses admin calls without the admin token', async () => {
    const res = await farm.request('POST', '/v1/admin/workers', { workerId: 'w', operator: 'o' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Bearer/);
  });
});
