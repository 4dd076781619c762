import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyPair, type SignedBundle } from '@quorum/attest';
import { analyzeArtifact } from '@quorum/compare';
import { runCli } from './main.js';
import { keysDocument, makeTgz, rebuildBundle, testBuilder, testPackument, vsaBundle, type TestBuilder, type TestDigests } from './test-support/attestations.js';
import { Capture, FakeCoordinator, type FakeAnswer, type SeenRequest } from './test-support/fake-coordinator.js';

const PURL = 'pkg:npm/left-pad@1.3.0';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function quorum(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out = new Capture();
  const err = new Capture();
  const code = await runCli(argv, { stdout: out, stderr: err, env });
  return { code, stdout: out.text, stderr: err.text };
}

const fake = new FakeCoordinator();
let dir: string;
let coordinator: KeyPair;
let builders: TestBuilder[];
/** a builder the coordinator made up: its key is in no trust file */
let rogue: TestBuilder;
let tgz: string;
let digests: TestDigests;
/** the same package with one byte of index.js changed */
let tampered: string;
let trustFile: string;

/** What the fake coordinator serves for `GET /v1/attestations/:purl` and `GET /v1/keys`. */
let served: { vsa: SignedBundle | null; builders: Array<{ workerId: string; operator: string; bundle: SignedBundle }>; keys: unknown };

function route(req: SeenRequest): FakeAnswer {
  if (req.method === 'GET' && req.url === '/v1/keys') return { status: 200, json: served.keys };
  // the registry the consumer reads the package's own source from (never from the coordinator)
  if (req.method === 'GET' && req.url === '/registry/left-pad') return { status: 200, json: testPackument(`${fake.url}/registry/left-pad/-/left-pad-1.3.0.tgz`) };
  if (req.method === 'GET' && req.url === `/v1/attestations/${encodeURIComponent(PURL)}`) {
    return {
      status: 200,
      json: {
        purl: PURL,
        releaseId: 'rel-1',
        verdict: 'reproducible',
        published: { ...digests, size: 1, facets: {}, stabilizersApplied: [] },
        vsa: served.vsa,
        builders: served.builders.map((b, i) => ({ rebuildId: `rb-${i + 1}`, workerId: b.workerId, operator: b.operator, state: 'succeeded', bundle: b.bundle })),
      },
    };
  }
  return { status: 404, json: { error: { code: 'not-found', message: `no route ${req.method} ${req.url}` } } };
}

const bundleOf = (b: TestBuilder, i: number, artifact = digests) => rebuildBundle(b, { purl: PURL, artifact, rebuildId: `rb-${i + 1}` });

/** Serves `bundles` (signed by `signers`) and a VSA by the real coordinator key with `verdict`. */
async function serve(signers: TestBuilder[], verdict: 'reproducible' | 'failed' = 'reproducible', opts: { vsaKey?: KeyPair } = {}): Promise<void> {
  const bundles = await Promise.all(signers.map((b, i) => bundleOf(b, i)));
  served.builders = signers.map((b, i) => ({ workerId: b.workerId, operator: b.operator, bundle: bundles[i]! }));
  served.vsa = await vsaBundle(opts.vsaKey ?? coordinator, { purl: PURL, published: digests, verdict, inputs: bundles, agreeing: signers.map((b) => b.workerId) });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'quorum-verify-test-'));
  coordinator = generateKeyPair();
  builders = [testBuilder('worker-1', 'operator-1'), testBuilder('worker-2', 'operator-2'), testBuilder('worker-3', 'operator-3')];
  rogue = testBuilder('worker-9', 'operator-9');
  tgz = makeTgz(dir, 'left-pad-1.3.0.tgz', 'module.exports = leftPad;\n');
  tampered = makeTgz(dir, 'left-pad-1.3.0-tampered.tgz', 'module.exports = leftPaD;\n');
  const a = await analyzeArtifact('tgz', tgz);
  digests = { sha256: a.sha256, sha512: a.sha512, stabilizedSha256: a.stabilizedSha256 };
  trustFile = join(dir, 'quorum-trust.json');
  writeFileSync(trustFile, `${JSON.stringify(keysDocument(coordinator, builders), null, 2)}\n`);
  await fake.start();
  fake.handle = route;
});
afterAll(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.handle = route;
  served = { vsa: null, builders: [], keys: keysDocument(coordinator, builders) };
});

const verifyArgs = (...extra: string[]) => ['verify', PURL, '--server', fake.url, '--trust', trustFile, '--artifact', tgz, '--registry', `${fake.url}/registry`, ...extra];

describe('quorum verify against signed bundles', () => {
  it('verifies an artifact three trusted builders rebuilt bit for bit, and the VSA agrees', async () => {
    await serve(builders);
    const r = await quorum(verifyArgs());
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^WORKER +OPERATOR +KEY +COUNTED +MATCH +PROBLEM$/m);
    for (const b of builders) {
      expect(r.stdout).toMatch(new RegExp(`^${b.workerId} +${b.operator} +${b.keys.keyId.slice(7, 19)} +yes +bitwise$`, 'm'));
    }
    expect(r.stdout).toMatch(/^recount: +VERIFIED: 3 independent builders agree with the artifact \(quorum 2; all bitwise\)$/m);
    expect(r.stdout).toMatch(/^vsa: +signature valid \(coordinator key [0-9a-f]{12}\); claims PASSED, verdict reproducible: reason for reproducible$/m);
    expect(r.stdout).toContain("the VSA's claim (PASSED) agrees with your recount");
    expect(r.stdout).toContain(`sha256 ${digests.sha256} (file ${tgz})`);
    // a pinned trust file: the coordinator's key list is never asked for
    expect(fake.requests.map((q) => q.url)).toEqual([`/v1/attestations/${encodeURIComponent(PURL)}`, '/registry/left-pad']);
  });

  it('prints the JSON summary with --json', async () => {
    await serve(builders);
    const r = await quorum(verifyArgs('--json'));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      purl: PURL,
      releaseId: 'rel-1',
      verified: true,
      counted: 3,
      quorum: 2,
      bitwise: 3,
      artifact: { sha256: digests.sha256, source: 'file' },
      trust: { source: 'file', location: trustFile },
      vsa: {
        present: true,
        signatureValid: true,
        claims: { result: 'PASSED', verdict: 'reproducible', purl: PURL, subjectSha256: digests.sha256, subjectSha512: digests.sha512 },
        agreesWithRecount: true,
        problems: [],
      },
      exitCode: 0,
    });
    expect(out.builders).toHaveLength(3);
    expect(out.builders[0]).toMatchObject({ rebuildId: 'rb-1', workerId: 'worker-1', operator: 'operator-1', keyId: builders[0]!.keys.keyId, counted: true, match: 'bitwise', identityVerified: true });
  });

  it('does not verify an artifact changed by one byte (exit 6)', async () => {
    await serve(builders);
    const r = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', trustFile, '--artifact', tampered]);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/^worker-1 +operator-1 +[0-9a-f]{12} +no +DIFFERS +rebuilt [0-9a-f]{12} \(stabilized [0-9a-f]{12}\) differs from the artifact [0-9a-f]{12}$/m);
    expect(r.stdout).toMatch(/^recount: +NOT VERIFIED: only 0 of the required 2 independent builders could be verified$/m);
    // the VSA is about the published artifact, not this one, and its PASSED does not hold for it
    expect(r.stdout).toContain('VSA claims PASSED but only 0 of the required 2 independent builders could be verified');
    expect(r.stdout).toMatch(/VSA problem: it is about the artifact sha256 [0-9a-f]{64}, not the one checked/);
  });

  it('does not verify a corrupted artifact that is no longer a valid tgz (exit 6), comparing its bytes', async () => {
    await serve(builders);
    const bytes = readFileSync(tgz);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff; // inside the deflate stream: the gzip check fails
    const corrupted = join(dir, 'left-pad-corrupted.tgz');
    writeFileSync(corrupted, bytes);
    const r = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', trustFile, '--artifact', corrupted, '--json']);
    expect(r.code).toBe(6);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verified: false, counted: 0, artifact: { sha256: createHash('sha256').update(bytes).digest('hex') } });
    expect(out.artifact).not.toHaveProperty('stabilizedSha256');
    expect(out.notes[0]).toMatch(/^the artifact is not a valid tgz \(.*\); it was compared byte for byte only$/);
  });

  it('counts a rebuild equal after stabilizers when only the gzip header time differs', async () => {
    await serve(builders);
    const bytes = readFileSync(tgz);
    bytes[4] = (bytes[4]! + 1) % 256; // gzip MTIME: a byte change outside the content
    const retimed = join(dir, 'left-pad-retimed.tgz');
    writeFileSync(retimed, bytes);
    const r = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', trustFile, '--artifact', retimed, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verified: true, counted: 3, bitwise: 0 });
    expect(out.builders.map((b: { match: string }) => b.match)).toEqual(['stabilized', 'stabilized', 'stabilized']);
  });

  it('rejects a forged PASSED verdict backed by one valid bundle and two from builders the consumer does not trust', async () => {
    // a compromised coordinator: it holds its own signing key and makes up two builders
    const fakeA = testBuilder('worker-2', 'operator-2'); // an enrolled name, but not the enrolled key
    const fakeB = rogue;
    await serve([builders[0]!, fakeA, fakeB], 'reproducible');
    const r = await quorum(verifyArgs());
    expect(r.code).toBe(6);
    expect(r.stdout).toContain('VSA claims PASSED but only 1 of the required 2 independent builders could be verified');
    expect(r.stdout).toMatch(/^vsa: +signature valid/m);
    expect(r.stdout).toMatch(/^worker-1 +operator-1 +[0-9a-f]{12} +yes +bitwise$/m);
    expect(r.stdout).toMatch(/^worker-2 \(unverified\) +operator-2 +[0-9a-f]{12} +no +- +signed by a key not in the trust file$/m);
    expect(r.stdout).toMatch(/^worker-9 \(unverified\) +operator-9 +[0-9a-f]{12} +no +- +signed by a key not in the trust file$/m);
    const json = JSON.parse((await quorum(verifyArgs('--json'))).stdout);
    expect(json).toMatchObject({
      verified: false,
      summary: 'not verified: only 1 of the required 2 independent builders could be verified',
      counted: 1,
      quorum: 2,
      vsa: { signatureValid: true, claims: { result: 'PASSED' }, agreesWithRecount: false, summary: 'VSA claims PASSED but only 1 of the required 2 independent builders could be verified' },
      exitCode: 6,
    });
  });

  it('does not count a bundle signed by a key missing from the trust file, and says why', async () => {
    await serve([builders[0]!, builders[1]!, rogue]);
    const r = await quorum(verifyArgs('--threshold', '3', '--json'));
    expect(r.code).toBe(6);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verified: false, counted: 2, quorum: 3 });
    expect(out.builders[2]).toMatchObject({ counted: false, keyId: rogue.keys.keyId, identityVerified: false });
    expect(out.builders[2].problem).toBe('signed by a key not in the trust file');
  });

  it('does not count a trusted key speaking for another worker', async () => {
    const impersonation = await rebuildBundle(builders[1]!, { purl: PURL, artifact: digests, rebuildId: 'rb-2', claimed: { workerId: 'worker-3', operator: 'operator-3' } });
    served.builders = [
      { workerId: 'worker-1', operator: 'operator-1', bundle: await bundleOf(builders[0]!, 0) },
      { workerId: 'worker-3', operator: 'operator-3', bundle: impersonation },
    ];
    const r = await quorum(verifyArgs('--json'));
    expect(r.code).toBe(6);
    const out = JSON.parse(r.stdout);
    expect(out.counted).toBe(1);
    expect(out.builders[1].problem).toBe(`key ${builders[1]!.keys.keyId} belongs to worker worker-2, but the statement speaks for worker worker-3`);
  });

  it('counts the same builder once, however often its bundle is served', async () => {
    const b1 = await bundleOf(builders[0]!, 0);
    const b2 = await bundleOf(builders[1]!, 1);
    served.builders = [
      { workerId: 'worker-1', operator: 'operator-1', bundle: b1 },
      { workerId: 'worker-1', operator: 'operator-1', bundle: b1 },
      { workerId: 'worker-2', operator: 'operator-2', bundle: b2 },
    ];
    served.vsa = await vsaBundle(coordinator, { purl: PURL, published: digests, verdict: 'reproducible', inputs: [b1, b1, b2] });
    const three = await quorum(verifyArgs('--threshold', '3'));
    expect(three.code).toBe(6);
    expect(three.stdout).toMatch(/^worker-1 +operator-1 +[0-9a-f]{12} +no +bitwise +duplicate builder: worker worker-1 is already counted$/m);
    expect(three.stdout).toContain('VSA claims PASSED but only 2 of the required 3 independent builders could be verified');
    const two = await quorum(verifyArgs('--threshold', '2', '--json'));
    expect(two.code).toBe(0);
    expect(JSON.parse(two.stdout)).toMatchObject({ verified: true, counted: 2 });
  });

  it('counts one builder per operator under the trust file policy', async () => {
    const sameOperator = [testBuilder('worker-1', 'acme'), testBuilder('worker-2', 'acme')];
    const file = join(dir, 'one-operator-trust.json');
    writeFileSync(file, JSON.stringify(keysDocument(coordinator, sameOperator)));
    await serve(sameOperator);
    const r = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', file, '--artifact', tgz, '--json']);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).builders[1].problem).toBe('operator acme is already counted (worker worker-1)');
    writeFileSync(file, JSON.stringify(keysDocument(coordinator, sameOperator, { builders: 2, quorum: 2, distinctOperators: false })));
    expect((await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', file, '--artifact', tgz])).code).toBe(0);
  });

  it('reports a VSA claiming FAILED that the recount contradicts, and goes by the recount', async () => {
    await serve(builders, 'failed');
    const r = await quorum(verifyArgs());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('VSA claims FAILED (failed) but your recount found 3 independent builders agree with the artifact');
  });

  it('reports a VSA not signed by the pinned coordinator key, and goes by the recount', async () => {
    await serve(builders, 'reproducible', { vsaKey: generateKeyPair() });
    const r = await quorum(verifyArgs('--json'));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.vsa).toMatchObject({ present: true, signatureValid: false, claims: null, agreesWithRecount: null });
    expect(out.vsa.problems[0]).toMatch(/^not signed by the trusted coordinator key sha256:[0-9a-f]{64}/);
    const human = await quorum(verifyArgs());
    expect(human.stdout).toMatch(/^vsa: +signature BAD: not signed by the trusted coordinator key/m);
  });

  it('mentions the risk a signed mismatch VSA states, and no risk of a VSA that does not verify', async () => {
    const t = await analyzeArtifact('tgz', tampered);
    const published = { sha256: t.sha256, sha512: t.sha512, stabilizedSha256: t.stabilizedSha256 };
    const risk = {
      level: 'high' as const,
      text: 'high risk: 1 JavaScript file changed (index.js)',
      onlyPublished: { count: 0, paths: [] },
      onlyRebuilt: { count: 0, paths: [] },
      changed: { count: 1, paths: ['package/index.js'] },
      modeChanged: { count: 0, paths: [] },
      flags: [{ code: 'executable-code', level: 'high' as const, message: '1 JavaScript file changed (index.js)' }],
    };
    await serve(builders);
    served.vsa = await vsaBundle(coordinator, { purl: PURL, published, verdict: 'mismatch', inputs: [], risk });
    const args = ['verify', PURL, '--server', fake.url, '--trust', trustFile, '--artifact', tampered, '--registry', `${fake.url}/registry`];
    const r = await quorum(args);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/^vsa: +signature valid \(coordinator key [0-9a-f]{12}\); claims FAILED, verdict mismatch: reason for mismatch$/m);
    expect(r.stdout).toMatch(/^ +risk \(signed\): HIGH — 1 JavaScript file changed \(index\.js\)$/m);
    expect(JSON.parse((await quorum([...args, '--json'])).stdout).vsa.claims.risk).toEqual({ level: 'high', text: risk.text });
    served.vsa = await vsaBundle(generateKeyPair(), { purl: PURL, published, verdict: 'mismatch', inputs: [], risk });
    const unsigned = await quorum(args);
    expect(unsigned.stdout).toMatch(/^vsa: +signature BAD/m);
    expect(unsigned.stdout).not.toMatch(/risk/);
  });

  it('reports a tampered VSA as a bad signature', async () => {
    await serve(builders);
    const vsa = structuredClone(served.vsa) as { dsseEnvelope: { payload: string } };
    const statement = JSON.parse(Buffer.from(vsa.dsseEnvelope.payload, 'base64').toString('utf8'));
    statement.predicate.quorum.reason = 'edited after signing';
    vsa.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    served.vsa = vsa as unknown as SignedBundle;
    const r = await quorum(verifyArgs('--json'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).vsa).toMatchObject({ signatureValid: false, claims: null });
  });

  it('reports a genuine VSA replayed from another package, and goes by the recount', async () => {
    await serve([builders[0]!]);
    served.vsa = await vsaBundle(coordinator, { purl: 'pkg:npm/right-pad@1.0.0', published: digests, verdict: 'reproducible', inputs: [] });
    const r = await quorum(verifyArgs());
    expect(r.code).toBe(6);
    expect(r.stdout).toContain('VSA claims PASSED but only 1 of the required 2 independent builders could be verified');
    expect(r.stdout).toMatch(/^ +VSA problem: it is about pkg:npm\/right-pad@1\.0\.0, not pkg:npm\/left-pad@1\.3\.0$/m);
  });

  it("reports an override's VSA (the purl with a vcs_url) as being about another resource", async () => {
    await serve(builders);
    const resource = 'pkg:npm/left-pad@1.3.0?vcs_url=git%2Bhttps://evil.example/left-pad.git';
    served.vsa = await vsaBundle(coordinator, { purl: resource, published: digests, verdict: 'reproducible', inputs: [] });
    const r = await quorum(verifyArgs());
    expect(r.stdout).toContain(`VSA problem: it is about ${resource}, not pkg:npm/left-pad@1.3.0`);
  });

  it('says when there is no VSA', async () => {
    await serve(builders);
    served.vsa = null;
    const r = await quorum(verifyArgs());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vsa: +none: the coordinator served no signed verdict$/m);
  });

  it("falls back to the coordinator's own key list with a warning, which a lying coordinator can abuse", async () => {
    await serve([builders[0]!, rogue]);
    served.keys = keysDocument(coordinator, [...builders, rogue]);
    const r = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--artifact', tgz, '--json']);
    expect(r.stderr).toMatch(/^warning: no --trust file: trusting the coordinator's own key list \(GET \/v1\/keys\)\..*defeats the purpose/m);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verified: true, counted: 2, trust: { source: 'server', location: `${fake.url}/v1/keys` } });
    // the same answers against the pinned trust file
    expect((await quorum(verifyArgs())).code).toBe(6);
  });

  it('fetches the published artifact from the registry and checks its integrity', async () => {
    await serve(builders);
    const bytes = readFileSync(tgz);
    let integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
    fake.handle = (req) => {
      if (req.url === '/registry/left-pad') {
        return { status: 200, json: testPackument(`${fake.url}/registry/left-pad/-/left-pad-1.3.0.tgz`, integrity) };
      }
      if (req.url === '/registry/left-pad/-/left-pad-1.3.0.tgz') return { status: 200, text: bytes, contentType: 'application/octet-stream' };
      return route(req);
    };
    const r = await quorum(['verify', PURL, '--server', fake.url, '--trust', trustFile, '--registry', `${fake.url}/registry`, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verified: true, artifact: { sha256: digests.sha256, source: 'registry', location: `${fake.url}/registry/left-pad/-/left-pad-1.3.0.tgz` } });

    // the registry setting of the environment works too
    const viaEnv = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', trustFile], { QUORUM_NPM_REGISTRY: `${fake.url}/registry` });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stdout).toContain(`(registry, ${fake.url}/registry/left-pad/-/left-pad-1.3.0.tgz)`);

    integrity = `sha512-${createHash('sha512').update('something else').digest('base64')}`;
    const bad = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', trustFile, '--registry', `${fake.url}/registry`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`quorum: the artifact downloaded from ${fake.url}/registry/left-pad/-/left-pad-1.3.0.tgz does not match the registry's integrity ${integrity}\n`);
  });

  it.each([
    ['a missing trust file', ['--trust', '/nonexistent/quorum-trust.json'], /^quorum: cannot read trust file \/nonexistent\/quorum-trust\.json: ENOENT$/m],
    ['a missing artifact', ['--artifact', '/nonexistent/left-pad.tgz'], /^quorum: cannot read artifact \/nonexistent\/left-pad\.tgz: ENOENT$/m],
    ['a bad threshold', ['--threshold', '0'], /^quorum: option '--threshold <m>' argument '0' is invalid/m],
    ['a purl without version', [], /^quorum: purl "pkg:npm\/left-pad" has no version/m, 'pkg:npm/left-pad'],
    ['an unknown ecosystem', [], /^quorum: no builder for ecosystem "pypi"/m, 'pkg:pypi/requests@2.0.0'],
  ])('exits 1 for %s', async (_name, extra, message, purl = PURL) => {
    const r = await quorum(['verify', purl, '--server', fake.url, '--registry', `${fake.url}/registry`, '--artifact', tgz, '--trust', trustFile, ...extra]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it('exits 1 for a trust file whose key id is not its key', async () => {
    const doc = keysDocument(coordinator, builders) as { builders: Array<{ keyId: string }> };
    doc.builders[1]!.keyId = rogue.keys.keyId;
    const file = join(dir, 'inconsistent-trust.json');
    writeFileSync(file, JSON.stringify(doc));
    const r = await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--artifact', tgz, '--trust', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^quorum: trust file ${file} is not a Quorum trust file: builder worker-2: its keyId sha256:[0-9a-f]{64} is not the id of its publicKeyPem`));
  });

  it('exits 1 when the coordinator has no decided release', async () => {
    fake.handle = () => ({ status: 404, json: { error: { code: 'not-found', message: `no decided release of ${PURL}` } } });
    const r = await quorum(verifyArgs());
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `quorum: no decided release of ${PURL}\n` });
  });
});

describe("quorum verify binds statements to the package's own source", () => {
  const EVIL = { origin: 'override', repo: 'https://evil.example/left-pad.git', commit: 'e'.repeat(40), ref: 'v1.3.0' };
  /** Serves bundles whose statements name `source`, and a PASSED VSA over them. */
  async function serveFrom(source: { origin: string; repo: string; commit: string; ref?: string }): Promise<void> {
    const bundles = await Promise.all(builders.map((b, i) => rebuildBundle(b, { purl: PURL, artifact: digests, rebuildId: `rb-${i + 1}`, source })));
    served.builders = builders.map((b, i) => ({ workerId: b.workerId, operator: b.operator, bundle: bundles[i]! }));
    served.vsa = await vsaBundle(coordinator, { purl: PURL, published: digests, verdict: 'equivalent', inputs: bundles });
  }

  it("does not verify an artifact that trusted builders rebuilt from a submitter's override source, whatever the VSA claims", async () => {
    await serveFrom(EVIL);
    const r = await quorum(verifyArgs('--json'));
    expect(r.code).toBe(6);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verified: false, counted: 0, source: { from: 'registry', repo: 'https://github.com/left-pad/left-pad.git', commit: 'a'.repeat(40) } });
    for (const b of out.builders) expect(b.problem).toMatch(/override source https:\/\/evil\.example\/left-pad\.git/);
  });

  it('does not count statements that call another repository or commit the registry source', async () => {
    await serveFrom({ origin: 'registry', repo: 'https://github.com/left-pad/left-pad.git', commit: 'f'.repeat(40) });
    const r = await quorum(verifyArgs());
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/built from commit f{12}/);
  });

  it('counts an override source only with --allow-source, and says so loudly', async () => {
    await serveFrom(EVIL);
    const r = await quorum(verifyArgs('--allow-source', EVIL.repo));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: --allow-source ${EVIL.repo}`);
    expect(r.stdout).toMatch(/^WARNING: +--allow-source: statements about https:\/\/evil\.example\/left-pad\.git count/m);
    expect(r.stdout).toContain("3 of the counted builders built such a source: this is not a verdict about the package's own source");
  });

  it("counts an operator's mapped source only when the trust file pins the mapping", async () => {
    const MAPPED = { origin: 'mapping', repo: 'https://git.example/left-pad.git', commit: 'a'.repeat(40), ref: 'v1.3.0' };
    await serveFrom(MAPPED);
    // a packument that declares no repository (and no gitHead): only a mapping can say where the source is
    const bare = { name: 'left-pad', versions: { '1.3.0': { name: 'left-pad', version: '1.3.0', dist: { tarball: `${fake.url}/x.tgz`, integrity: 'sha512-AAAA' } } } };
    fake.handle = (req) => (req.url === '/registry/left-pad' ? { status: 200, json: bare } : route(req));
    const without = await quorum(verifyArgs('--json'));
    expect(without.code).toBe(6);
    expect(JSON.parse(without.stdout).source.from).toBe('none');
    const pinned = join(dir, 'trust-with-mapping.json');
    writeFileSync(
      pinned,
      JSON.stringify({ ...keysDocument(coordinator, builders), sourceMappings: [{ packagePurl: 'pkg:npm/left-pad', repo: MAPPED.repo, by: 'alice', createdAt: '2026-01-01T00:00:00Z' }] }),
    );
    const withMapping = await quorum(['verify', PURL, '--server', fake.url, '--trust', pinned, '--artifact', tgz, '--registry', `${fake.url}/registry`]);
    expect(withMapping.code).toBe(0);
    expect(withMapping.stdout).toMatch(/^source: +https:\/\/git\.example\/left-pad\.git at one of the tags v1\.3\.0.*as mapped by alice/m);
  });
});

describe('quorum keys export', () => {
  it('writes the key list as pretty JSON with a trailing newline to stdout', async () => {
    const r = await quorum(['keys', 'export', '--server', fake.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify(served.keys, null, 2)}\n`);
    expect(fake.requests.map((q) => q.url)).toEqual(['/v1/keys']);
  });

  it('writes a trust file that verify accepts with --out', async () => {
    await serve(builders);
    const out = join(dir, 'exported-trust.json');
    const r = await quorum(['keys', 'export', '--server', fake.url, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        `^wrote trust file ${out}: coordinator key sha256:[0-9a-f]{12}, 3 builder keys \\(worker-1/operator-1, worker-2/operator-2, worker-3/operator-3\\), policy quorum 2 of 3, no source mappings$`,
        'm',
      ),
    );
    expect(readFileSync(out, 'utf8')).toBe(`${JSON.stringify(served.keys, null, 2)}\n`);
    expect((await quorum(['verify', PURL, '--server', fake.url, '--registry', `${fake.url}/registry`, '--trust', out, '--artifact', tgz])).code).toBe(0);
  });

  it('refuses to export an answer that is not a trust file', async () => {
    served.keys = { v: 1, builders: [{ workerId: 'worker-1' }] };
    const r = await quorum(['keys', 'export', '--server', fake.url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/is not a Quorum trust file: builders\[0\] needs workerId, operator, keyId and publicKeyPem/);
  });
});
