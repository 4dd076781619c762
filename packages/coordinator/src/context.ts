import type { Logger } from 'pino';
import type { StatementSigner } from '@quorum/attest';
import type { EgressPolicy } from '@quorum/net';
import type { RebuildQueueProducer } from '@quorum/queue';
import type { BlobStore } from './blob-store.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { CoordinatorConfig } from './config.js';
import type { QueueUsers } from './queue-users.js';
import type { SqliteStore } from './sqlite-store.js';

/** Everything the coordinator's parts share, passed in explicitly. */
export interface CoordinatorContext {
  config: Readonly<CoordinatorConfig>;
  store: SqliteStore;
  blobs: BlobStore;
  queue: RebuildQueueProducer;
  logger: Logger;
  /** signs the coordinator's verdict attestations (VSAs) */
  signer: StatementSigner;
  /** asks the scheduler to run soon (after a submission or a report) */
  kick: () => void;
  /** what the coordinator's own fetches (registry metadata, published artifacts, tag resolution) may reach */
  egress: EgressPolicy;
  /** every worker's own Redis user */
  queueUsers: QueueUsers;
  /** Prometheus metrics, served at /metrics when present */
  metrics?: CoordinatorMetrics;
}
