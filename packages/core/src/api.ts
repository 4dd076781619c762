import type { RebuildReport, RebuildState, ReleaseRecord, VerdictRecord } from './records.js';
import type { PurlAnswer } from './answer.js';

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

/** One builder's attempt as served by the API: its state plus what its worker reported. */
export interface RebuildView extends Pick<RebuildReport, 'reason' | 'message' | 'source' | 'toolchain' | 'toolchainUsed' | 'imageDigest' | 'artifact' | 'exitCode'> {
  id: string;
  workerId: string;
  operator: string;
  state: RebuildState;
  attempt: number;
  /** does this builder's artifact equal the published one: bitwise, after stabilizers, or not */
  matchesPublished?: 'bitwise' | 'stabilized' | 'no';
  durations: { fetchMs?: number; buildMs?: number; totalMs?: number };
  /** relative URL of the full build log, when uploaded */
  logUrl?: string;
  logBytes?: number;
  createdAt: string;
  updatedAt: string;
}

/** A release as served by the API: the stored record plus its history, rebuilds and links. */
export interface ReleaseView extends ReleaseRecord {
  /** every verdict ever recorded for this release, oldest first (`verdict` is the latest) */
  verdictHistory: VerdictRecord[];
  rebuilds: RebuildView[];
  links: { self: string; package: string };
  /** what an auditor must not miss about the release's source (e.g. `WARNING: tag v1.2.3 moved: …`); absent when nothing */
  warnings?: string[];
}

/** Answer of `GET /v1/packages/:purl`: releases of the purl, newest first, and what answers for each version. */
export interface PackageView {
  purl: string;
  /** per version (newest release first): the verdict that answers for it, from canonical sources only */
  answers: PurlAnswer[];
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

/** Body of `POST /v1/admin/workers`: enrol a key directly, or ask for a one-time token. */
export interface EnrolWorkerRequest {
  workerId: string;
  operator: string;
  /** SPKI PEM of the worker's signing key, to enrol it directly */
  publicKey?: string;
}

/** Answer of `POST /v1/admin/workers`: the enrolled key id, or a one-time token for the worker's first start. */
export type EnrolWorkerAnswer = { workerId: string; operator: string; keyId: string } | { workerId: string; operator: string; token: string; expiresAt: string };

/** An operator's record of where a package's source lives (for packages whose registry entry declares none), as stored and served. */
export interface SourceMappingView {
  /** the package, without version */
  packagePurl: string;
  repo: string;
  directory?: string;
  /** who recorded it */
  by: string;
  note?: string;
  createdAt: string;
}

/** One refused worker report or enrolment, as `GET /v1/admin/rejections` lists it (newest first). */
export interface RejectionView {
  seq: number;
  at: string;
  /** false for a request no enrolled key signed: nothing in it is attributable to a worker */
  authenticated: boolean;
  workerId?: string;
  rebuildId?: string;
  reason: string;
  detail: string;
  bundleSha256?: string;
}
