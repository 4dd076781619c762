import { diffArtifacts, openArtifactDiff, type ArchiveDiffReader } from '@quorum/compare';
import { MAX_RISK_TEXT_BYTES, riskSummaryProblems, type FileDifference, type ReleaseRecord, type RiskSummary, type VerdictDecision } from '@quorum/core';
import { findBuilder } from '@quorum/ecosystems';
import type { CoordinatorContext } from './context.js';

/** What explains a verdict: the stored file-level diff and, for a `mismatch`, how dangerous it is. */
export interface VerdictExplanation {
  /** digest of the diff blob, when there is a difference to explain and the artifacts are at hand */
  diffSha256?: string;
  /** the builder's risk summary of a mismatch's diff; absent when there is no diff or no assessment (never guessed) */
  risk?: RiskSummary;
}

/**
 * The file-level diff that explains a verdict, stored as a blob: the agreeing rebuild vs the
 * published artifact for `mismatch` and `equivalent`, one builder vs another for `unreproducible`.
 * For a mismatch, the ecosystem's builder also assesses the risk of the difference from that diff.
 * Returns nothing when there is nothing to explain or the artifacts are not at hand.
 */
export async function explainVerdict(ctx: CoordinatorContext, release: ReleaseRecord, decision: VerdictDecision): Promise<VerdictExplanation> {
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
  if (!pair) return {};
  const [a, b] = [await blobs.fileOf(pair.a.sha256), await blobs.fileOf(pair.b.sha256)];
  if (!a || !b) {
    logger.warn({ releaseId: release.id }, 'no diff: an artifact was not uploaded');
    return {};
  }
  const labels = { a: pair.a.label, b: pair.b.label };
  try {
    const format = findBuilder(release.ecosystem)?.artifactFormat;
    if (format === undefined) return {};
    if (decision.verdict !== 'mismatch') {
      const diff = await diffArtifacts(format, a, b, { labels });
      return { diffSha256: (await blobs.put(JSON.stringify(diff))).sha256 };
    }
    const reader = await openArtifactDiff(format, a, b, { labels });
    const diffSha256 = (await blobs.put(JSON.stringify(reader.diff))).sha256;
    const risk = await assessRisk(ctx, release, reader);
    return { diffSha256, ...(risk ? { risk } : {}) };
  } catch (err) {
    logger.warn({ err, releaseId: release.id }, 'no diff: the artifacts could not be compared');
    return {};
  }
}

/** The risk summary of a mismatch's diff by the release's builder, or undefined when it has no assessment or the assessment fails. */
async function assessRisk(ctx: CoordinatorContext, release: ReleaseRecord, reader: ArchiveDiffReader): Promise<RiskSummary | undefined> {
  const builder = findBuilder(release.ecosystem);
  // equal contents leave no file-level difference to assess: say nothing rather than guess
  if (!builder?.assessRisk || reader.diff.sameContent) return undefined;
  try {
    const risk = await builder.assessRisk(fileDifference(reader));
    const problems = riskSummaryProblems(risk);
    if (problems.length > 0) {
      ctx.logger.warn({ releaseId: release.id, problems }, 'no risk summary: the builder returned a malformed one');
      return undefined;
    }
    return risk;
  } catch (err) {
    ctx.logger.warn({ err, releaseId: release.id }, 'no risk summary: the difference could not be assessed');
    return undefined;
  }
}

/** A mismatch's diff (a = rebuilt, b = published) as a builder's `assessRisk` reads it. */
export function fileDifference(reader: ArchiveDiffReader): FileDifference {
  const entry = (e: { path: string; type: string }) => ({ path: e.path, type: e.type });
  return {
    onlyPublished: reader.diff.added.map(entry),
    onlyRebuilt: reader.diff.removed.map(entry),
    changed: reader.diff.changed.map((c) => ({ path: c.path, type: c.b.type })),
    modeChanged: reader.modeChanged.map(entry),
    readText: (side, path) => reader.readText(side === 'published' ? 'b' : 'a', path, MAX_RISK_TEXT_BYTES),
  };
}
