import type { ArtifactDigests } from './artifact.js';
import type { ResolvedSource, SourceOverrides, UpstreamArtifact } from './builder.js';
import type { QuorumPolicy } from './policy.js';
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

/** A release as stored and served. */
export interface ReleaseRecord {
  id: string;
  purl: string;
  ecosystem: string;
  state: ReleaseState;
  overrides: SourceOverrides;
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
};
