import type { Static } from 'typebox';
import type { SourceFoundSchema } from './api-schemas.js';
import type { SourceMapping, SourceOrigin, SourceOverrides, UpstreamArtifact } from './builder.js';

/**
 * Versioned payload of a rebuild job on a worker's queue: ids only. Anyone who can write to the
 * queue can at most ask a worker to fetch a spec it is not assigned, which the coordinator refuses.
 */
export interface RebuildJob {
  v: 2;
  rebuildId: string;
  releaseId: string;
}

/**
 * How a pinned commit was found: named by the registry or the submitter (`commit`), the commit a
 * tag points at (`tag`), or, when no tag of the release exists, the newest commit that set the
 * release's version in its manifest (`history`), which a worker accepts only after checking that
 * manifest at that commit itself.
 */
export type SourceFound = Static<typeof SourceFoundSchema>;

/**
 * How much later than the registry's publish time a commit found by history search may have been
 * committed (clocks that disagree); a commit setting the version after that (a revert of a later
 * bump, a CI branch of built files) is not what was published. @defaultValue 1 hour
 */
export const PUBLISH_TIME_SLACK_MS = 60 * 60_000;

/**
 * The latest committer time (seconds since the epoch) of a commit that may stand for a release
 * published at `publishedAt` (ISO 8601), found by history search; undefined when no publish time is
 * known.
 */
export function latestCommitTimeFor(publishedAt: string | undefined): number | undefined {
  const at = publishedAt === undefined ? NaN : Date.parse(publishedAt);
  return Number.isNaN(at) ? undefined : Math.floor((at + PUBLISH_TIME_SLACK_MS) / 1000);
}

/** The source a release is pinned to, as a worker needs it to check its own resolution. */
export interface PinnedSourceRef {
  origin: SourceOrigin;
  repo: string;
  directory?: string;
  /** set when the registry, the submitter or the coordinator's first resolution of a tag fixed it */
  commit?: string;
  /** how `commit` was found (absent on releases pinned before this was recorded) */
  found?: SourceFound;
}

/**
 * Why a source someone names differs from the one a release pinned, if it does: origin, repository,
 * directory, and the commit when both name one. `says` starts the message, e.g. "the statement names".
 */
export function pinnedSourceProblem(pinned: PinnedSourceRef & { ref?: string }, named: { origin?: string; repo: string; directory?: string; commit?: string }, says: string): string | undefined {
  if (named.origin !== pinned.origin) return `${says} a ${named.origin ?? 'unlabelled'} source, the release pinned a ${pinned.origin} source`;
  if (named.repo !== pinned.repo) return `${says} repository ${named.repo}, the release pinned ${pinned.repo}`;
  if ((named.directory ?? '') !== (pinned.directory ?? '')) return `${says} directory "${named.directory ?? ''}", the release pinned "${pinned.directory ?? ''}"`;
  if (named.commit && pinned.commit && named.commit !== pinned.commit) {
    return `${says} commit ${named.commit}, the release pinned ${pinned.commit}${pinned.ref ? ` (${pinned.ref})` : ''}`;
  }
  return undefined;
}

/**
 * What a worker needs to run one rebuild, served by the coordinator over the worker's signed HTTP
 * channel to the assigned worker only (answer of `POST /v1/rebuilds/:id/started`).
 */
export interface RebuildSpec {
  v: 1;
  rebuildId: string;
  releaseId: string;
  purl: string;
  ecosystem: string;
  /** the submitter's overrides (override releases only) */
  overrides: SourceOverrides;
  /** the operator's source mapping (mapping releases only) */
  mapping?: SourceMapping;
  /** what every statement about this release must name; the worker resolves its own and compares */
  pinned: PinnedSourceRef;
  /** the coordinator's view of the upstream artifact; the worker fetches and checks it independently */
  upstream?: UpstreamArtifact;
  /** when the coordinator stops waiting for this rebuild (ISO 8601) */
  deadline: string;
}

/** Heartbeat body a worker posts to register and stay alive. */
export interface WorkerHeartbeat {
  v: 1;
  workerId: string;
  operator: string;
  /** builder image digests this worker has, by ecosystem */
  images: Record<string, string>;
  /** rebuild ids the worker is executing now */
  running: string[];
}

/** Credentials of a worker's own Redis user, which reaches only its own queue. */
export interface QueueCredentials {
  username: string;
  password: string;
}

/** Name of the queue a worker consumes; one queue per worker makes N distinct builders exact. */
export function workerQueueName(workerId: string): string {
  return `rebuilds-${workerId}`;
}

/** Worker ids end up in queue names, Redis ACL key patterns and URLs: keep them simple (no glob characters). */
/** Most notes one rebuild report carries. */
export const MAX_REPORT_NOTES = 32;
/** Longest note of a rebuild report, in characters. */
export const MAX_NOTE_CHARS = 500;

/**
 * A report's notes within what the coordinator accepts: a note built from a tool's error output
 * can be long, and a refused report would leave the rebuild to be run again and again.
 */
export function clipNotes(notes: readonly string[]): string[] {
  return notes.slice(0, MAX_REPORT_NOTES).map((n) => (n.length > MAX_NOTE_CHARS ? `${n.slice(0, MAX_NOTE_CHARS - 1)}…` : n));
}

export const WORKER_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Release and rebuild ids are UUIDs; anything else is refused before a store lookup. */
export const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
