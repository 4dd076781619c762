import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, LocalKeySigner, rebuildStatement, vsaStatement, type KeyPair, type SignedBundle } from '@quorum/attest';
import type { RiskSummary, Verdict } from '@quorum/core';

/** The source the test packument declares, and test statements name by default. */
export const TEST_SOURCE = { origin: 'registry', repo: 'https://github.com/left-pad/left-pad.git', commit: 'a'.repeat(40) };

/** A packument for left-pad@1.3.0 declaring TEST_SOURCE, its tarball at `tarballUrl`. */
export function testPackument(tarballUrl: string, integrity = 'sha512-AAAA'): Record<string, unknown> {
  return {
    name: 'left-pad',
    versions: {
      '1.3.0': {
        name: 'left-pad',
        version: '1.3.0',
        repository: { type: 'git', url: 'git+https://github.com/left-pad/left-pad.git' },
        gitHead: TEST_SOURCE.commit,
        dist: { tarball: tarballUrl, integrity },
      },
    },
  };
}

/** A builder identity with a real signing key. */
export interface TestBuilder {
  workerId: string;
  operator: string;
  keys: KeyPair;
}

/** Digests of an artifact, as `analyzeArtifact` answers them. */
export interface TestDigests {
  sha256: string;
  sha512: string;
  stabilizedSha256: string;
}

/** A builder with a fresh ECDSA P-256 key. */
export function testBuilder(workerId: string, operator: string): TestBuilder {
  return { workerId, operator, keys: generateKeyPair() };
}

/** The `GET /v1/keys` answer (= trust file) listing `builders` and the coordinator key. */
export function keysDocument(coordinator: KeyPair, builders: readonly TestBuilder[], policy = { builders: 3, quorum: 2, distinctOperators: true }): Record<string, unknown> {
  return {
    v: 1,
    coordinator: { verifierId: 'urn:quorum:coordinator', keyId: coordinator.keyId, publicKeyPem: coordinator.publicKeyPem },
    builders: builders.map((b) => ({ workerId: b.workerId, operator: b.operator, keyId: b.keys.keyId, publicKeyPem: b.keys.publicKeyPem, enrolledAt: '2025-01-01T00:00:00.000Z' })),
    policy: { uri: 'urn:quorum:policy:m-of-n:v1', v: 1, counting: 'exact integer M-of-N over distinct builder identities', ...policy },
  };
}

/**
 * A real signed rebuild bundle: `signer` signs a statement in the name of `claimed` (itself unless
 * given) saying it rebuilt `purl` into `artifact`.
 */
export async function rebuildBundle(
  signer: TestBuilder,
  opts: {
    purl: string;
    artifact: TestDigests;
    rebuildId: string;
    claimed?: { workerId: string; operator: string };
    status?: 'succeeded' | 'failed';
    /** the source the statement names; @defaultValue TEST_SOURCE (what testPackument declares) */
    source?: { origin: string; repo: string; commit: string; ref?: string };
  },
): Promise<SignedBundle> {
  const status = opts.status ?? 'succeeded';
  const who = opts.claimed ?? { workerId: signer.workerId, operator: signer.operator };
  const statement = rebuildStatement({
    purl: opts.purl,
    releaseId: 'rel-1',
    rebuildId: opts.rebuildId,
    builder: { id: who.workerId, operator: who.operator },
    status,
    ...(status === 'succeeded'
      ? { artifact: { filename: 'left-pad-1.3.0.tgz', sha256: opts.artifact.sha256, sha512: opts.artifact.sha512, stabilizedSha256: opts.artifact.stabilizedSha256, stabilizersApplied: [] } }
      : { reason: 'build-error', message: 'npm ERR! missing script: build' }),
    published: { sha256: opts.artifact.sha256, sha512: opts.artifact.sha512 },
    source: { ...(opts.source ?? TEST_SOURCE), commitTime: 1_700_000_000 },
    recipe: { steps: ['npm pack'] },
    imageDigest: `sha256:${'b'.repeat(64)}`,
    stabilizers: ['gzip-time@1'],
    startedOn: '2025-01-01T00:00:00.000Z',
    finishedOn: '2025-01-01T00:00:42.000Z',
    log: { sha256: 'c'.repeat(64), bytes: 100 },
  });
  return new LocalKeySigner(signer.keys).signStatement(statement);
}

/** A real signed VSA by `coordinator` about `purl` and the published artifact `published`. */
export async function vsaBundle(
  coordinator: KeyPair,
  opts: { purl: string; published: TestDigests; verdict: Verdict; reason?: string; inputs: SignedBundle[]; agreeing?: string[]; risk?: RiskSummary },
): Promise<SignedBundle> {
  const statement = vsaStatement({
    verifierId: 'urn:quorum:coordinator',
    purl: opts.purl,
    releaseId: 'rel-1',
    published: { filename: 'left-pad-1.3.0.tgz', sha256: opts.published.sha256, sha512: opts.published.sha512 },
    policy: { uri: 'urn:quorum:policy:m-of-n:v1', body: { v: 1, builders: 3, quorum: 2, distinctOperators: true } },
    inputAttestations: opts.inputs.map((bundle, i) => ({ uri: `/v1/rebuilds/rb-${i + 1}/bundle`, bundle })),
    verdict: opts.verdict,
    reason: opts.reason ?? `reason for ${opts.verdict}`,
    agreeing: opts.agreeing ?? [],
    stabilizers: [],
    ...(opts.risk ? { risk: opts.risk } : {}),
    timeVerified: '2025-01-01T00:00:50.000Z',
  });
  return new LocalKeySigner(coordinator).signStatement(statement);
}

/** Writes a small npm-style `.tgz` (package/package.json, package/index.js) with `tar czf`; returns its path. */
export function makeTgz(dir: string, name: string, indexJs: string): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(join(src, 'package'), { recursive: true });
  writeFileSync(join(src, 'package', 'package.json'), '{"name":"left-pad","version":"1.3.0"}\n');
  writeFileSync(join(src, 'package', 'index.js'), indexJs);
  const file = join(dir, name);
  execFileSync('tar', ['czf', file, '--owner=0', '--group=0', '--mtime=@1700000000', '-C', src, 'package']);
  return file;
}
