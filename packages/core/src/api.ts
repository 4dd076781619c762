import type { ArtifactDigests } from './artifact.js';
import type { ResolvedSource, SourceOverrides, UpstreamArtifact } from './builder.js';
import type { QuorumPolicy } from './policy.js';
import type { RebuildState, ReleaseState, VerdictRecord } from './records.js';

/** Body of `POST /v1/releases`. */
export interface SubmitReleaseRequest {
  purl: string;
  repo?: string;
  ref?: string;
}

/** Error body of every 4xx/5xx answer. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** One builder's attempt as served by the API. */
export interface RebuildView {
  id: string;
  workerId: string;
  operator: string;
  state: RebuildState;
  attempt: number;
  /** build-level failure reason (e.g. build-error, timeout, source-not-found) or fault reason */
  reason?: string;
  message?: string;
  source?: ResolvedSource;
  toolchain?: Record<string, string>;
  imageDigest?: string;
  artifact?: ArtifactDigests & { filename: string };
  /** does this builder's artifact equal the published one: bitwise, after stabilizers, or not */
  matchesPublished?: 'bitwise' | 'stabilized' | 'no';
  durations: { fetchMs?: number; buildMs?: number; totalMs?: number };
  exitCode?: number;
  /** relative URL of the full build log, when uploaded */
  logUrl?: string;
  logBytes?: number;
  createdAt: string;
  updatedAt: string;
}

/** A release as served by the API. */
export interface ReleaseView {
  id: string;
  purl: string;
  ecosystem: string;
  state: ReleaseState;
  overrides: SourceOverrides;
  policy: QuorumPolicy;
  upstream?: UpstreamArtifact;
  published?: ArtifactDigests;
  problem?: { code: string; message: string };
  /** latest verdict; absent until decided */
  verdict?: VerdictRecord;
  /** every verdict ever recorded for this release, oldest first */
  verdictHistory: VerdictRecord[];
  rebuilds: RebuildView[];
  links: { self: string; package: string };
  createdAt: string;
  updatedAt: string;
}

/** Answer of `GET /v1/packages/:purl`: releases of the purl, newest first. */
export interface PackageView {
  purl: string;
  releases: ReleaseView[];
}

/** A worker as served by `GET /v1/workers`. */
export interface WorkerView {
  id: string;
  operator: string;
  alive: boolean;
  lastSeenAt: string;
  images: Record<string, string>;
  running: string[];
}
