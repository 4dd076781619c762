import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { generateKeyPair, LocalKeySigner, rebuildStatement, validateStatement, verifyBundle, vsaStatement, type KeyPair, type SignedBundle } from '@quorum/attest';
import { analyzeArtifact } from '@quorum/compare';
import type { ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { TEST_NODE, TEST_NPM } from '../fixtures/registry-server.js';
import { Farm, ROOT, type StandIn } from './farm.js';

const QUORUM = join(ROOT, 'packages/cli/bin/quorum.js');
const INDEX = `'use strict';\nmodule.exports = (a, b) => a * b;\n`;

interface Attestations {
  purl: string;
  releaseId: string;
  verdict: string;
  vsa: SignedBundle;
  builders: { rebuildId: string; workerId: string; operator: string; bundle: SignedBundle }[];
}
interface VerifyJson {
  verified: boolean;
  counted: number;
  quorum: number;
  vsa: { signatureValid: boolean; claims?: { result?: string; verdict?: string; reason?: string } | null; agreesWithRecount: boolean };
  builders: { workerId?: string; counted: boolean; match?: string; problem?: string }[];
}

/** The statement inside a bundle, unverified (to read what a bundle claims). */
function statementOf(bundle: SignedBundle): Record<string, any> {
  const env = (bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope;
  return JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Record<string, any>;
}

describe('signed attestations that a consumer recounts offline', () => {
  const farm = new Farm({ workers: 3, builders: 3, quorum: 2 });
  let trustFile: string;
  let tarball: string;
  let honest: ReleaseView;
  beforeAll(async () => {
    await farm.start();
    const pkg = await makeGitPackage(join(farm.dir, 'src/mul'), { 'package.json': packageJson('mul', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    const published = await publishFromGit(farm.registry, pkg, { how: 'image' });
    tarball = join(farm.dir, 'mul-1.0.0.tgz');
    await writeFile(tarball, published.tarball);
    honest = await farm.submitAndDecide({ purl: 'pkg:npm/mul@1.0.0' });
    trustFile = join(farm.dir, 'trust.json');
    const exported = await execa('node', [QUORUM, 'keys', 'export', '--server', farm.url, '--out', trustFile]);
    expect(exported.exitCode).toBe(0);
  }, 240_000);
  afterAll(() => farm.stop(), 60_000);

  const verify = async (purl: string, ...args: string[]) => {
    // the registry says what the package's own source is; verify reads it from there, never from the coordinator
    const res = await execa('node', [QUORUM, 'verify', purl, '--trust', trustFile, '--json', '--server', farm.url, '--registry', farm.registry.url, ...args], { reject: false });
    return { code: res.exitCode, out: (res.stdout ? JSON.parse(res.stdout) : {}) as VerifyJson, stderr: res.stderr };
  };
  const attestations = (purl: string) => farm.json<Attestations>('GET', `/v1/attestations/${encodeURIComponent(purl)}`);

  it('publishes three builder bundles and one VSA for a release verified by three workers', async () => {
    expect(honest.verdict?.verdict).toBe('reproducible');
    const att = await attestations('pkg:npm/mul@1.0.0');
    expect(att.builders).toHaveLength(3);
    expect(att.vsa).toBeTruthy();
    const keys = await farm.json<{ coordinator: { keyId: string; publicKeyPem: string }; builders: { workerId: string; keyId: string; publicKeyPem: string }[] }>('GET', '/v1/keys');
    expect(keys.builders.map((b) => b.workerId).sort()).toEqual([1, 2, 3].map((i) => farm.workerId(i)).sort());
    const vsa = await verifyBundle(att.vsa, [keys.coordinator]);
    expect(vsa.statement.predicateType).toBe('https://slsa.dev/verification_summary/v1');
    const predicate = vsa.statement.predicate as Record<string, any>;
    expect(predicate.verificationResult).toBe('PASSED');
    expect(predicate.verifiedLevels).toContain('SLSA_BUILD_REPRODUCED');
    expect(predicate.resourceUri).toBe('pkg:npm/mul@1.0.0');
    expect(predicate.inputAttestations).toHaveLength(3);
    expect((vsa.statement.subject as { digest: { sha256: string } }[])[0]!.digest.sha256).toBe(honest.published!.sha256);
  });

  it('lets quorum verify pass against the published tarball and fail against one with a byte changed', async () => {
    const ok = await verify('pkg:npm/mul@1.0.0', '--artifact', tarball);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.out.verified).toBe(true);
    expect(ok.out.counted).toBe(3);
    expect(ok.out.vsa.signatureValid).toBe(true);
    // the registry's copy, checked against its integrity, works the same
    const viaRegistry = await verify('pkg:npm/mul@1.0.0', '--registry', farm.registry.url);
    expect(viaRegistry.code, viaRegistry.stderr).toBe(0);
    const bytes = await readFile(tarball);
    bytes[bytes.length - 20] ^= 0xff;
    const changed = join(farm.dir, 'changed.tgz');
    await writeFile(changed, bytes);
    const bad = await verify('pkg:npm/mul@1.0.0', '--artifact', changed);
    expect(bad.code).toBe(6);
    expect(bad.out.verified).toBe(false);
    expect(bad.out.counted).toBe(0);
  });

  it('gives statements and the VSA every field in-toto and SLSA require', async () => {
    const att = await attestations('pkg:npm/mul@1.0.0');
    for (const b of att.builders) {
      const s = statementOf(b.bundle);
      expect(validateStatement(s)).toEqual([]);
      expect(s._type).toBe('https://in-toto.io/Statement/v1');
      expect(s.predicateType).toBe('https://slsa.dev/provenance/v1');
      expect(s.predicate.runDetails.builder.id).toContain(b.workerId);
      expect(s.subject[0].digest.sha256).toBe(honest.published!.sha256);
    }
    expect(validateStatement(statementOf(att.vsa))).toEqual([]);
  });

  it('signs a mismatch with a FAILED VSA that carries the reason, verifiable the same way', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/mul-bad'), { 'package.json': packageJson('mul-bad', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image', tamper: { file: 'index.js', append: '// injected\n' } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/mul-bad@1.0.0' });
    expect(view.verdict?.verdict).toBe('mismatch');
    const predicate = statementOf((await attestations('pkg:npm/mul-bad@1.0.0')).vsa).predicate as Record<string, any>;
    expect(predicate.verificationResult).toBe('FAILED');
    expect(predicate.verifiedLevels).not.toContain('SLSA_BUILD_REPRODUCED');
    const res = await verify('pkg:npm/mul-bad@1.0.0', '--registry', farm.registry.url);
    expect(res.code).toBe(6);
    expect(res.out.vsa.signatureValid).toBe(true);
    expect(res.out.vsa.claims?.result).toBe('FAILED');
    expect(res.out.vsa.claims?.reason).toMatch(/published artifact differs/);
    expect(res.out.vsa.agreesWithRecount).toBe(true);
  });

  it('catches a coordinator that serves a forged PASSED VSA with too few valid builder bundles', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/mul-forged'), { 'package.json': packageJson('mul-forged', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image', tamper: { file: 'index.js', append: '// injected too\n' } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/mul-forged@1.0.0' });
    expect(view.verdict?.verdict).toBe('mismatch');
    // a compromised coordinator signs whatever it likes with its own key, and stores it
    const { ctx } = farm.coordinator;
    const forged = await ctx.signer.signStatement(
      vsaStatement({
        verifierId: 'urn:quorum:coordinator',
        purl: view.purl,
        releaseId: view.id,
        published: { filename: 'mul-forged-1.0.0.tgz', sha256: view.published!.sha256, sha512: view.published!.sha512 },
        policy: { uri: 'urn:quorum:policy:m-of-n:v1', body: { quorum: 2 } },
        inputAttestations: [],
        verdict: 'reproducible',
        reason: 'trust me',
        agreeing: [],
        stabilizers: [],
        timeVerified: new Date().toISOString(),
      }),
    );
    const { sha256 } = await ctx.blobs.put(JSON.stringify(forged));
    ctx.store.appendVerdict(view.id, { verdict: 'reproducible', reason: 'trust me', agreeing: [], agreeingCount: 3, stabilizers: [], decidedAt: new Date().toISOString() }, sha256);
    const res = await verify('pkg:npm/mul-forged@1.0.0', '--registry', farm.registry.url);
    expect(res.code).toBe(6);
    expect(res.out.vsa.claims?.result).toBe('PASSED');
    expect(res.out.vsa.agreesWithRecount).toBe(false);
    expect(res.stderr + JSON.stringify(res.out)).toMatch(/claims PASSED/);
  });

  it('does not count bundles a lying coordinator adds: tampered, by an unknown key, replayed, or duplicated', async () => {
    const { ctx } = farm.coordinator;
    const att = await attestations('pkg:npm/mul@1.0.0');
    const [first, second] = att.builders;
    // tampered: one byte of the signed payload changed
    const tampered = structuredClone(first!.bundle) as { dsseEnvelope: { payload: string } };
    const payload = Buffer.from(tampered.dsseEnvelope.payload, 'base64');
    payload[payload.length - 3] ^= 0x01;
    tampered.dsseEnvelope.payload = payload.toString('base64');
    // by a key no consumer trusts, claiming to be a real worker
    const rogue = new LocalKeySigner(generateKeyPair());
    const rogueBundle = await rogue.signStatement(statementOf(second!.bundle) as never);
    // replayed: a genuine bundle of another release (another purl)
    const other = (await attestations('pkg:npm/mul-bad@1.0.0')).builders[0]!;
    const plant = async (bundle: unknown, workerId: string) => {
      const id = `forged-${Math.random().toString(16).slice(2)}`;
      ctx.store.insertRebuild({ id, releaseId: att.releaseId, workerId, operator: 'nobody', attempt: 9, deadlineMs: Date.now() + 60_000 });
      ctx.store.transitionRebuild(id, ['assigned'], 'succeeded');
      ctx.store.setRebuildBundle(id, (await ctx.blobs.put(JSON.stringify(bundle))).sha256);
    };
    // replace the first builder's bundle by the tampered copy; the duplicate goes in as another rebuild
    ctx.store.setRebuildBundle(first!.rebuildId, (await ctx.blobs.put(JSON.stringify(tampered))).sha256);
    await plant(rogueBundle, 'rogue-1');
    await plant(other.bundle, 'replayer-1');
    await plant(second!.bundle, 'dup-1');
    const res = await verify('pkg:npm/mul@1.0.0', '--artifact', tarball);
    // only the second and third genuine builders count: still a quorum of 2
    expect(res.out.counted).toBe(2);
    expect(res.code).toBe(0);
    const problems = res.out.builders.filter((b) => !b.counted).map((b) => b.problem ?? '');
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/signature/i);
    expect(problems.join('\n')).toMatch(/untrusted|not in the trust/i);
    expect(problems.join('\n')).toMatch(/mul-bad|other purl|another purl/i);
    expect(problems.join('\n')).toMatch(/duplicate|already counted|twice/i);
  });
});

describe('the coordinator refuses results it cannot trust, and records them for auditors', () => {
  // one stand-in builder under the test's control: N = M = 1
  const farm = new Farm({ workers: 0, builders: 1, quorum: 1 });
  const worker = 'probe-worker';
  let probe: StandIn;
  let key: KeyPair;
  let view: ReleaseView;
  let artifact: Awaited<ReturnType<typeof analyzeArtifact>>;
  let source: { origin: string; repo: string; commit: string; ref: string; commitTime: number };
  const send = (k: KeyPair, method: string, path: string, body: unknown) => probe.send(method, path, body, k);
  beforeAll(async () => {
    await farm.start();
    probe = await farm.standIn(worker, 'op-probe', 500);
    key = probe.key;
    const pkg = await makeGitPackage(join(farm.dir, 'src/probe'), { 'package.json': packageJson('probe', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    source = { origin: 'registry', repo: pkg.url, commit: pkg.commit, ref: 'v1.0.0', commitTime: 1_711_713_600 };
    const published = await publishFromGit(farm.registry, pkg, { how: 'host' });
    const file = join(farm.dir, 'probe.tgz');
    await writeFile(file, published.tarball);
    artifact = await analyzeArtifact('tgz', file);
    const submitted = await farm.submit({ purl: 'pkg:npm/probe@1.0.0' });
    await farm.waitFor(
      async () => {
        view = await farm.json<ReleaseView>('GET', `/v1/releases/${submitted.id}`);
        return view.rebuilds.length === 1;
      },
      30_000,
      'the rebuild to be assigned',
    );
  }, 120_000);
  afterAll(async () => {
    probe.stop();
    await farm.stop();
  }, 60_000);

  const statement = (over: { releaseId?: string; rebuildId?: string; purl?: string; sha256?: string } = {}) =>
    rebuildStatement({
      purl: over.purl ?? 'pkg:npm/probe@1.0.0',
      releaseId: over.releaseId ?? view.id,
      rebuildId: over.rebuildId ?? view.rebuilds[0]!.id,
      builder: { id: worker, operator: 'op-probe' },
      status: 'succeeded',
      artifact: { filename: 'probe-1.0.0.tgz', sha256: over.sha256 ?? artifact.sha256, sha512: artifact.sha512, stabilizedSha256: artifact.stabilizedSha256, stabilizersApplied: [] },
      source,
      recipe: { toolchain: { node: TEST_NODE, npm: TEST_NPM } },
      stabilizers: [],
      startedOn: new Date().toISOString(),
      finishedOn: new Date().toISOString(),
      log: { sha256: 'a'.repeat(64), bytes: 1 },
    });
  const report = (bundle: unknown) => ({
    v: 1,
    rebuildId: view.rebuilds[0]!.id,
    workerId: worker,
    status: 'succeeded',
    timings: { totalMs: 10 },
    artifact: { ...artifact, filename: 'probe-1.0.0.tgz' },
    bundle,
  });
  const post = (k: KeyPair, bundle: unknown) => send(k, 'POST', `/v1/rebuilds/${view.rebuilds[0]!.id}/report`, report(bundle));
  const rejections = () =>
    fetch(`${farm.url}/v1/admin/rejections`, { headers: { authorization: `Bearer ${farm.adminToken}` } }).then((r) => r.json() as Promise<{ reason: string; workerId?: string; rebuildId?: string }[]>);

  it('rejects a tampered bundle payload', async () => {
    const bundle = (await new LocalKeySigner(key).signStatement(statement())) as { dsseEnvelope: { payload: string } };
    const p = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    p[10] ^= 0x01;
    bundle.dsseEnvelope.payload = p.toString('base64');
    const res = await post(key, bundle);
    expect(res.status).toBe(403);
    expect((await rejections())[0]).toMatchObject({ reason: 'bad-signature', workerId: worker });
  });

  it('rejects a statement signed by another key than the enrolled one', async () => {
    const res = await post(key, await new LocalKeySigner(generateKeyPair()).signStatement(statement()));
    expect(res.status).toBe(403);
    expect((await rejections())[0]?.reason).toBe('untrusted-key');
  });

  it('rejects a genuine statement replayed from another release', async () => {
    const res = await post(key, await new LocalKeySigner(key).signStatement(statement({ releaseId: 'another-release', rebuildId: 'another-rebuild' })));
    expect(res.status).toBe(403);
    expect((await rejections())[0]?.reason).toBe('replayed');
  });

  it('rejects a statement whose subject is not the reported artifact', async () => {
    const res = await post(key, await new LocalKeySigner(key).signStatement(statement({ sha256: 'f'.repeat(64) })));
    expect(res.status).toBe(403);
    expect((await rejections())[0]?.reason).toBe('subject-mismatch');
  });

  it('rejects a report from a worker whose key was never enrolled', async () => {
    const stranger = generateKeyPair();
    const res = await send(stranger, 'POST', `/v1/rebuilds/${view.rebuilds[0]!.id}/report`, { ...report(await new LocalKeySigner(stranger).signStatement(statement())), workerId: 'stranger' });
    expect(res.status).toBe(403);
    // refused from its headers alone: its body (and the worker id it claims) is never read
    // kept apart from the refusals of enrolled workers: nobody authenticated it
    const unauthenticated = await fetch(`${farm.url}/v1/admin/rejections?unauthenticated=1`, { headers: { authorization: `Bearer ${farm.adminToken}` } }).then(
      (r) => r.json() as Promise<{ reason: string; detail: string; authenticated: boolean }[]>,
    );
    expect(unauthenticated[0]).toMatchObject({ reason: 'unenrolled', authenticated: false, detail: expect.stringMatching(/signed by a key no worker is enrolled with/) });
    expect((await rejections()).some((r) => r.reason === 'unenrolled')).toBe(false);
  });

  it('accepts the genuine signed result after all that, and decides on it', async () => {
    const res = await post(key, await new LocalKeySigner(key).signStatement(statement()));
    expect(res.status, await res.clone().text()).toBe(200);
    const decided = await farm.decided(view.id, 30_000);
    expect(decided.verdict?.verdict).toBe('reproducible');
    const bundle = await farm.request('GET', `/v1/rebuilds/${view.rebuilds[0]!.id}/bundle`);
    expect(bundle.status).toBe(200);
    expect(
      createHash('sha256')
        .update(await bundle.text())
        .digest('hex'),
    ).toMatch(/^[0-9a-f]{64}$/);
  });
});
