// Shared fixtures of this package's tests; excluded from the build.
import { createHash } from 'node:crypto';
import type { RebuildStatementInput } from './rebuild-statement.js';

export const PURL = 'pkg:npm/left-pad@1.3.0';

/** Digests of some bytes, as the compare package reports them. */
export function digests(bytes: Buffer | string): { sha256: string; sha512: string } {
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sha512: createHash('sha512').update(bytes).digest('hex'),
  };
}

export const ARTIFACT_BYTES = Buffer.from('left-pad-1.3.0.tgz: the published tarball bytes');
export const ARTIFACT = { ...digests(ARTIFACT_BYTES), stabilizedSha256: digests('stabilized manifest').sha256 };
export const LOG = { sha256: digests('build log').sha256, bytes: 4096 };
export const IMAGE_DIGEST = `sha256:${digests('builder image').sha256}`;
export const COMMIT = createHash('sha1').update('commit').digest('hex');

/** A succeeded rebuild of PURL by `workerId`, producing ARTIFACT. */
export function rebuildInput(overrides: Partial<RebuildStatementInput> = {}): RebuildStatementInput {
  return {
    purl: PURL,
    releaseId: 'rel-1',
    rebuildId: 'reb-1',
    builder: { id: 'worker-a', operator: 'op-1' },
    status: 'succeeded',
    artifact: { filename: 'left-pad-1.3.0.tgz', ...ARTIFACT, stabilizersApplied: ['gzip-time@1'] },
    published: { sha256: ARTIFACT.sha256, sha512: ARTIFACT.sha512 },
    source: { origin: 'registry', repo: 'https://github.com/left-pad/left-pad', commit: COMMIT, ref: 'v1.3.0', commitTime: 1_525_000_000 },
    recipe: { builder: 'npm', script: 'npm pack', toolchain: { npm: '11.19.0' } },
    imageDigest: IMAGE_DIGEST,
    stabilizers: ['tar-order@1', 'gzip-time@1'],
    toolchain: { node: '20.20.0', npm: '11.19.0' },
    startedOn: '2026-11-21T10:00:00Z',
    finishedOn: '2026-11-21T10:01:30Z',
    log: LOG,
    ...overrides,
  };
}
