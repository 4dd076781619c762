import type { ArtifactDigests } from './artifact.js';
import type { ResolvedSource, SourceOverrides, UpstreamArtifact } from './builder.js';
import type { PinnedSourceRef } from './contract.js';
import type { QuorumPolicy } from './policy.js';
import type { RiskSummary } from './risk.js';
import type { VerdictDecision } from './verdict.js';

/** Release lifecycle: queued → building → decided. */
export type ReleaseState = 'queued' | 'building' | 'decided';

/** Lifecycle of one rebuild (one worker's attempt). `lost` = its worker vanished or faulted; it is replaced. */
export type RebuildState = 'assigned' | 'running' | 'succeeded' | 'failed' | 'lost';

/** What a worker reports for a rebuild; versioned, sent over HTTP. */
export interface RebuildReport {
  v: 1;
  rebuildId: string;
  workerId: string;
  /** succeeded = produced an artifact; failed = build-level failure (a result); error = a fault (retry elsewhere) */
  status: 'succeeded' | 'failed' | 'error';
  /** machine-readable failure reason, e.g. build-error, timeout, source-not-found */
  reason?: string;
  /** human message */
  message?: string;
  source?: ResolvedSource;
  toolchain?: Record<string, string>;
  /** the exact tool versions the build ran (e.g. node and npm), as it recorded them */
  toolchainUsed?: Record<string, string>;
  imageDigest?: string;
  artifact?: ArtifactDigests & { filename: string };
  /** the published artifact as this worker fetched and hashed it */
  upstream?: ArtifactDigests;
  timings: { fetchMs?: number; buildMs?: number; totalMs: number };
  exitCode?: number;
  /** facts about the rebuild the verdict should carry (e.g. the dependency set was not pinned) */
  notes?: string[];
}

/** A rebuild as stored and served. */
export interface RebuildRecord {
  id: string;
  releaseId: string;
  workerId: string;
  operator: string;
  state: RebuildState;
  attempt: number;
  createdAt: string;
  updatedAt: string;
  report?: RebuildReport;
  /** sha256 of the stored log, when uploaded */
  logSha256?: string;
  logBytes?: number;
}

/**
 * The source and recipe a release is pinned to at submission (commit resolved before any build when
 * only tags were known). Every builder statement must name exactly this source and toolchain.
 */
export interface PinnedSource extends PinnedSourceRef {
  /** the ref that resolved to `commit`, when a tag was resolved */
  ref?: string;
  /** candidate refs, in order, when the registry declared no commit */
  refs: string[];
  /** the toolchain the recipe asks for (e.g. the publisher's npm and node versions) */
  toolchain: Record<string, string>;
  /** how each field was found, for the record */
  steps: string[];
  /** for a mapping: who recorded it and when */
  mapping?: { by: string; createdAt: string };
  /** when a tag resolved for this package was first seen pointing at `commit` */
  firstSeenAt?: string;
  /** the tag now points elsewhere than when first seen (a moved tag is worth an auditor's look) */
  moved?: { ref: string; commit: string; seenAt: string };
  /** when the registry says the release was published (ISO 8601): a history search looks no later than this (plus `PUBLISH_TIME_SLACK_MS`) */
  publishedAt?: string;
}

/**
 * The loud line about a tag that moved after the farm first saw it, for verdict notes, views and
 * the terminal; undefined when the source has not moved.
 */
export function movedTagWarning(source: Pick<PinnedSource, 'moved' | 'commit' | 'firstSeenAt'>): string | undefined {
  const moved = source.moved;
  if (!moved) return undefined;
  const first = `${source.commit ?? 'an unrecorded commit'}${source.firstSeenAt ? ` on ${source.firstSeenAt}` : ''}`;
  return `WARNING: tag ${moved.ref} moved: first seen at ${first}, now ${moved.commit} (seen ${moved.seenAt}); the release stays pinned to the commit first seen`;
}

/** What a verdict says about a source commit that no tag and no registry record named, when it was found by history search. */
export function historyFoundNote(source: Pick<PinnedSource, 'found' | 'commit' | 'repo'>): string | undefined {
  if (source.found !== 'history' || !source.commit) return undefined;
  return `source commit ${source.commit} was found by searching the history of ${source.repo}: no tag of the release exists, and the registry names no commit`;
}

/** A release as stored and served. */
export interface ReleaseRecord {
  id: string;
  purl: string;
  ecosystem: string;
  state: ReleaseState;
  overrides: SourceOverrides;
  /** the pinned source; absent only when the registry declared none and no mapping exists */
  source?: PinnedSource;
  /** true when the source is what the registry declares (or an operator's mapping): only such verdicts answer for the purl */
  canonical: boolean;
  /** the authenticated submitter, when the submission carried a token */
  submittedBy?: string;
  policy: QuorumPolicy;
  upstream?: UpstreamArtifact;
  /** the published artifact's digests, computed by the coordinator from its own download */
  published?: ArtifactDigests;
  /** a problem found before any build (e.g. source-not-found), decided as failed */
  problem?: { code: string; message: string };
  createdAt: string;
  updatedAt: string;
  verdict?: VerdictRecord;
}

/** A recorded verdict: the decision and when it was made. Appended, never overwritten. */
export type VerdictRecord = VerdictDecision & {
  decidedAt: string;
  /** facts the builders reported that qualify the verdict (e.g. the dependency set was not pinned) */
  notes?: string[];
  /** for a `mismatch` whose file-level diff could be computed: how dangerous the difference is */
  risk?: RiskSummary;
};
