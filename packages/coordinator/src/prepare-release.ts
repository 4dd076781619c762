import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { analyzeArtifact } from '@quorum/compare';
import { downloadPinned } from '@quorum/net';
import { QuorumError, type ArtifactDigests, type ReleaseRecord } from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import type { CoordinatorContext } from './context.js';

/**
 * Downloads the published artifact, checks it against the registry's integrity and computes its
 * digests, keeping a copy in the blob store. The coordinator's own copy is the reference
 * every rebuild is compared with.
 */
export async function preparePublished(ctx: CoordinatorContext, release: ReleaseRecord): Promise<ArtifactDigests> {
  const upstream = release.upstream;
  if (!upstream) throw new QuorumError('internal', `release ${release.id} has no upstream artifact`);
  const builder = builderFor(release.ecosystem);
  const tmpDir = join(ctx.config.dataDir, 'tmp');
  await mkdir(tmpDir, { recursive: true });
  const file = join(tmpDir, `${randomUUID()}.download`);
  try {
    await downloadPinned(upstream.url, builder.artifactIntegrity === 'none' ? undefined : upstream.integrity, file, { policy: ctx.egress });
    const digests = await analyzeArtifact(builder.artifactFormat, file, { stabilizers: builder.stabilizers });
    const problem = builder.integrityProblem?.(upstream.integrity, digests);
    if (problem) throw new QuorumError('integrity-mismatch', problem);
    await ctx.blobs.adopt(file, digests.sha256);
    return digests;
  } finally {
    await rm(file, { force: true });
  }
}
