import type { Static } from 'typebox';
import type { PinnedSourceSchema, RebuildStateSchema, ReleaseRecordSchema, ReleaseStateSchema, VerdictRecordSchema } from './api-schemas.js';
import type { ArtifactDigests } from './artifact.js';
import type { ResolvedSource, SourceOverrides, UpstreamArtifact } from './builder.js';
import type { PinnedSourceRef } from './contract.js';
import type { QuorumPolicy } from './policy.js';
import type { RiskSummary } from './risk.js';
import type { VerdictDecision } from './verdict.js';

/** Release lifecycle: queued → building → decided. */
export type ReleaseState = Static<typeof ReleaseStateSchema>;

/** Lifecycle of one rebuild (one worker's attempt). `lost` = its worker vanished or faulted; it is replaced. */
export type RebuildState = Static<typeof RebuildStateSchema>;

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
export type PinnedSource = Static<typeof PinnedSourceSchema>;

/**
 * The loud line about a tag that moved after the farm first saw it, for verdict notes, views and
 * the terminal; undefined when the source has not moved.
 */
export function movedTagWarning(source: Pick<PinnedSource, 'moved' | 'commit' | 'firstSeenAt'>): string | undefined {
  const moved = source.moved;
  if (!moved) return undefined;
  if (moved.registryCommit) {
    return `WARNING: tag ${moved.ref} moved: the registry recorded it at ${moved.registryCommit} when the release was published, it now points at ${moved.commit} (seen ${moved.seenAt}); the release is built from ${source.commit ?? 'the tag as it is now'}`;
  }
  const first = `${source.commit ?? 'an unrecorded commit'}${source.firstSeenAt ? ` on ${source.firstSeenAt}` : ''}`;
  return `WARNING: tag ${moved.ref} moved: first seen at ${first}, now ${moved.commit} (seen ${moved.seenAt}); the release stays pinned to the commit first seen`;
}

/** What a verdict says about a source commit that no tag and no registry record named, when it was found by history search. */
export function historyFoundNote(source: Pick<PinnedSource, 'found' | 'commit' | 'repo'>): string | undefined {
  if (source.found !== 'history' || !source.commit) return undefined;
  return `source commit ${source.commit} was found by searching the history of ${source.repo}: no tag of the release exists, and the registry names no commit`;
}

/** A release as stored and served. */
export type ReleaseRecord = Static<typeof ReleaseRecordSchema>;

/** A recorded verdict: the decision and when it was made. Appended, never overwritten. */
export type VerdictRecord = Static<typeof VerdictRecordSchema>;
