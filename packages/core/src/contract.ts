import type { SourceOverrides, UpstreamArtifact } from './builder.js';

/** Versioned payload of a rebuild job on a worker's queue. */
export interface RebuildJob {
  v: 1;
  rebuildId: string;
  releaseId: string;
  purl: string;
  ecosystem: string;
  overrides: SourceOverrides;
  /** the coordinator's view of the upstream artifact; the worker fetches and checks it independently */
  upstream?: UpstreamArtifact;
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

/** Name of the queue a worker consumes; one queue per worker makes N distinct builders exact. */
export function workerQueueName(workerId: string): string {
  return `rebuilds-${workerId}`;
}

/** Worker ids end up in queue names and URLs: keep them simple. */
export const WORKER_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
