import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
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
    // gitHead pins the commit, so the coordinator need not reach the (local, refused) repository
    await publishFromGit(farm.registry, pkg, { how: 'host', manifest: { gitHead: pkg.commit } });
  }, 120_000);
  afterAll(() => farm.stop(), 60_000);

  const cases: { name: string; body: unknown; status: number; code: string; message: RegExp }[] = [
    { name: 'a malformed purl', body: { purl: 'npm:left-pad' }, status: 400, code: 'invalid-purl', message: /malformed purl/ },
    { name: 'a purl without version', body: { purl: 'pkg:npm/known' }, status: 400, code: 'missing-version', message: /no version/ },
    { name: 'an unknown ecosystem', body: { purl: 'pkg:pypi/requests@2.32.0' }, status: 400, code: 'unknown-ecosystem', message: /no builder for ecosystem "pypi"/ },
    { name: 'an unknown registry', body: { purl: 'pkg:npm/known@1.0.0?repository_url=https://evil.example/npm' }, status: 400, code: 'unknown-registry', message: /not served by this farm/ },
    { name: 'a malformed registry qualifier', body: { purl: 'pkg:npm/known@1.0.0?repository_url=http://[' }, status: 400, code: 'unknown-registry', message: /is not a registry URL/ },
    { name: 'an unknown qualifier', body: { purl: 'pkg:npm/known@1.0.0?arch=x64' }, status: 400, code: 'invalid-purl', message: /qualifiers "arch" is not supported/ },
    { name: 'a subpath', body: { purl: 'pkg:npm/known@1.0.0#lib' }, status: 400, code: 'invalid-purl', message: /subpath/ },
    { name: 'a package name that would climb the registry', body: { purl: 'pkg:npm/%2E%2E@1.0.0' }, status: 400, code: 'invalid-purl', message: /not an npm package name/ },
    { name: 'a package name that would add a query', body: { purl: 'pkg:npm/known%3Fwrite%3Dtrue@1.0.0' }, status: 400, code: 'invalid-purl', message: /not an npm package name/ },
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
    // the same release, spelled with the registry qualifier, is the same open release, not a second build
    const again = await farm.request('POST', '/v1/releases', { purl: `pkg:npm/known@1.0.0?repository_url=${encodeURIComponent(farm.registry.url)}` });
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).toBe(view.id);
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
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/worker request refused: missing x-quorum-auth header/);
    const hb = await farm.request('POST', '/v1/workers/intruder/heartbeat', { v: 1, workerId: 'intruder', operator: 'x', images: {}, running: [] });
    expect(hb.status).toBe(403);
  });

  it('refuses admin calls without the admin token', async () => {
    const res = await farm.request('POST', '/v1/admin/workers', { workerId: 'w', operator: 'o' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Bearer/);
  });

  it('refuses an unauthenticated artifact upload before reading its body, and writes nothing', async () => {
    const tmp = join(farm.dir, 'coordinator', 'tmp');
    const before = existsSync(tmp) ? readdirSync(tmp).length : 0;
    // a 256 MiB upload announced, 64 KiB sent: the answer must come without the rest
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${farm.url}/v1/rebuilds/00000000-0000-0000-0000-000000000000/artifact`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(256 * 2 ** 20), 'x-quorum-auth': `sha256:${'0'.repeat(64)} ${Date.now()} AAAA` },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', (e) => reject(e));
      req.write(Buffer.alloc(64 * 1024));
    });
    expect(status).toBe(403);
    expect(existsSync(tmp) ? readdirSync(tmp).length : 0).toBe(before);
  });

  it('keeps an unauthenticated report with a huge worker id out of the rejections', async () => {
    const res = await farm.request('POST', '/v1/rebuilds/00000000-0000-0000-0000-000000000000/report', {
      v: 1,
      rebuildId: 'x',
      workerId: 'w'.repeat(1024 * 1024),
      status: 'failed',
      timings: { totalMs: 1 },
    });
    expect(res.status).toBe(403);
    const rejections = await farm.admin<{ workerId?: string; detail: string }[]>('GET', '/v1/admin/rejections');
    expect(JSON.stringify(rejections).length).toBeLessThan(100_000);
  });

  it('answers malformed input anywhere with a 4xx, never a 5xx', async () => {
    const id = '00000000-0000-0000-0000-000000000000';
    const probes: [string, string, unknown?, Record<string, string>?][] = [
      ['POST', '/v1/releases', { purl: 'pkg:npm/known@1.0.0?repository_url=%' }],
      ['POST', '/v1/releases', { purl: 'pkg:npm/%E0%A4%A@1.0.0' }],
      ['POST', '/v1/releases', { purl: 'pkg:npm/known@1.0.0', repo: 'http://[' }],
      ['POST', '/v1/releases', { purl: 'pkg:npm/known@1.0.0', repo: 'ext::sh -c touch% /tmp/pwned' }],
      ['POST', '/v1/releases', { purl: 'pkg:npm/known@1.0.0', ref: 'v1..0' }],
      ['POST', '/v1/releases', { purl: 'pkg:npm/constructor@1.0.0' }],
      ['POST', '/v1/releases', { purl: 'pkg:npm/known@__proto__' }],
      ['POST', '/v1/releases', { purl: ['pkg:npm/known@1.0.0'] }],
      ['POST', '/v1/releases', 'null'],
      ['POST', '/v1/releases', '[]'],
      ['POST', '/v1/releases', { purl: 'pkg:npm/known@1.0.0' }, { authorization: 'Bearer ' }],
      ['POST', '/v1/releases', { purl: 'pkg:npm/known@1.0.0' }, { authorization: 'Basic abc' }],
      ['GET', `/v1/packages/${encodeURIComponent('pkg:npm/%')}`],
      ['GET', '/v1/packages/%E0%A4%A'],
      ['GET', `/v1/attestations/${encodeURIComponent('pkg:npm/known')}`],
      ['GET', `/v1/attestations/${encodeURIComponent('pkg:npm/known@1.0.0?repository_url=http://[')}`],
      ['GET', `/v1/releases/${'x'.repeat(5000)}`],
      ['GET', `/v1/releases/${id}/diff`],
      ['GET', `/v1/rebuilds/${id}/bundle`],
      ['GET', '/v1/rebuilds/../../etc/passwd/log'],
      ['POST', `/v1/workers/${'A'.repeat(300)}/enrol`, { token: 'x'.repeat(20), operator: 'o', publicKey: 'k'.repeat(60) }],
      ['POST', '/v1/workers/w1/enrol', { token: 'x'.repeat(20), operator: 'o', publicKey: `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(80)}\n-----END PUBLIC KEY-----\n` }],
      ['POST', '/v1/workers/w1/heartbeat', { v: 1 }, { 'x-quorum-auth': 'a b c d e' }],
      ['POST', `/v1/rebuilds/${id}/started`, undefined, { 'x-quorum-auth': `sha256:${'0'.repeat(64)} 99999999999999999999 AAAA` }],
      ['PUT', '/v1/admin/source-mappings', { purl: 'pkg:npm/x', repo: 'http://[', by: 'me' }, { authorization: `Bearer ${farm.adminToken}` }],
      ['PUT', '/v1/admin/source-mappings', { purl: 'pkg:npm/x', repo: 'https://example.test/x.git', directory: '../..', by: 'me' }, { authorization: `Bearer ${farm.adminToken}` }],
      ['POST', '/v1/admin/submitters', { name: '../../x' }, { authorization: `Bearer ${farm.adminToken}` }],
      ['DELETE', `/v1/admin/source-mappings/${encodeURIComponent('not a purl')}`, undefined, { authorization: `Bearer ${farm.adminToken}` }],
    ];
    for (const [method, path, body, headers] of probes) {
      const res = await farm.request(method, path, body, headers ?? {});
      expect(res.status, `${method} ${path.slice(0, 80)} ${JSON.stringify(body)?.slice(0, 80)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path.slice(0, 80)} ${JSON.stringify(body)?.slice(0, 80)}`).toBeLessThan(500);
    }
    expect(existsSync('/tmp/pwned')).toBe(false);
    // and the coordinator is still there
    expect((await farm.request('GET', '/healthz')).status).toBe(200);
  });
});

describe('anonymous submissions are rate-limited, authenticated ones are not', () => {
  const farm = new Farm({ workers: 0, submitRatePerMinute: 2 });
  beforeAll(async () => {
    await farm.start();
    for (const name of ['rl-a', 'rl-b', 'rl-c']) {
      const pkg = await makeGitPackage(join(farm.dir, 'src', name), { 'package.json': packageJson(name, '1.0.0'), 'index.js': '1;\n' }, 'v1.0.0');
      await publishFromGit(farm.registry, pkg, { how: 'host' });
    }
  }, 120_000);
  afterAll(() => farm.stop(), 60_000);

  it('answers 429 with a clear message past the limit, and lets a submit token through', async () => {
    expect((await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/rl-a@1.0.0' })).status).toBe(202);
    expect((await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/rl-b@1.0.0' })).status).toBe(202);
    const limited = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/rl-c@1.0.0' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeTruthy();
    expect(((await limited.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'rate-limited', message: expect.stringMatching(/at most 2 a minute.*submit token/) });
    const withToken = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/rl-c@1.0.0' }, { authorization: `Bearer ${farm.submitToken}` });
    expect(withToken.status).toBe(202);
    expect(((await withToken.json()) as { submittedBy?: string }).submittedBy).toBe('maintainer');
  });
});
