import { diffTgz } from '@quorum/compare';
import type { ReleaseRecord, VerdictDecision } from '@quorum/core';
import type { CoordinatorContext } from './context.js';

/**
 * The file-level diff that explains a verdict, stored as a blob: the agreeing rebuild vs the
 * published artifact for `mismatch` and `equivalent`, one builder vs another for `unreproducible`. Returns its digest,
 * or undefined when there is nothing to explain or the artifacts are not at hand.
 */
export async function explainVerdict(ctx: CoordinatorContext, release: ReleaseRecord, decision: VerdictDecision): Promise<string | undefined> {
  const { store, blobs, logger } = ctx;
  const built = store.rebuildsOf(release.id).filter((r) => r.state === 'succeeded' && r.report?.artifact);
  let pair: { a: { sha256: string; label: string }; b: { sha256: string; label: string } } | undefined;
  if ((decision.verdict === 'mismatch' || decision.verdict === 'equivalent') && release.published && decision.rebuiltSha256) {
    const builder = built.find((r) => r.report!.artifact!.sha256 === decision.rebuiltSha256);
    // rebuilt → published: what the published artifact has beyond its source shows as added lines
    pair = { a: { sha256: decision.rebuiltSha256, label: `rebuilt by ${builder?.workerId ?? 'the builders'}` }, b: { sha256: release.published.sha256, label: 'published' } };
  } else if (decision.verdict === 'unreproducible') {
    const [first, other] = [built[0], built.find((r) => r.report!.artifact!.stabilizedSha256 !== built[0]?.report!.artifact!.stabilizedSha256)];
    if (first && other) {
      pair = { a: { sha256: first.report!.artifact!.sha256, label: `rebuilt by ${first.workerId}` }, b: { sha256: other.report!.artifact!.sha256, label: `rebuilt by ${other.workerId}` } };
    }
  }
  if (!pair) return undefined;
  const [a, b] = [await blobs.fileOf(pair.a.sha256), await blobs.fileOf(pair.b.sha256)];
  if (!a || !b) {
    logger.warn({ releaseId: release.id }, 'no diff: an artifact was not uploaded');
    return undefined;
  }
  try {
    const diff = await diffTgz(a, b, { labels: { a: pair.a.label, b: pair.b.label } });
    return (await blobs.put(JSON.stringify(diff))).sha256;
  } catch (err) {
    logger.warn({ err, releaseId: release.id }, 'no diff: the artifacts could not be compared');
    return undefined;
  }
}
