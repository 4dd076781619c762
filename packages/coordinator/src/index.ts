import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { LocalKeySigner, loadOrCreateKeyPair } from '@quorum/attest';
import { egressPolicy } from '@quorum/net';
import { builderOriginsFrom } from '@quorum/ecosystems';
import { RebuildQueueProducer } from '@quorum/queue';
import { buildApp } from './app.js';
import { createMetrics } from './metrics.js';
import { BlobStore } from './blob-store.js';
import type { CoordinatorConfig } from './config.js';
import type { CoordinatorContext } from './context.js';
import { QueueUsers } from './queue-users.js';
import { CallbackSender } from './callbacks.js';
import { Scheduler } from './scheduler.js';
import { SqliteStore } from './sqlite-store.js';

export { buildApp } from './app.js';
export { loadCoordinatorConfig, DEFAULT_PORT, DEFAULT_REDIS_URL, type CoordinatorConfig } from './config.js';
export { SqliteStore, type WorkerRecord } from './sqlite-store.js';
export { BlobStore } from './blob-store.js';
export type { CoordinatorContext } from './context.js';

/** The admin token: from the config, else generated once into the data dir (mode 0600). */
async function adminTokenOf(config: Readonly<CoordinatorConfig>): Promise<string> {
  if (config.adminToken) return config.adminToken;
  const file = join(config.dataDir, 'admin-token');
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** A running coordinator. */
export interface RunningCoordinator {
  url: string;
  ctx: CoordinatorContext;
  close(): Promise<void>;
}

/** Starts store, scheduler and HTTP server; `close()` stops them in order. */
export async function startCoordinator(config: Readonly<CoordinatorConfig>, logger?: Logger): Promise<RunningCoordinator> {
  const log = logger ?? pino({ name: 'coordinator', level: config.logLevel, redact: ['req.headers.authorization'] });
  await mkdir(join(config.dataDir, 'blobs'), { recursive: true });
  const store = new SqliteStore(join(config.dataDir, 'quorum.sqlite'));
  const queue = new RebuildQueueProducer(config.redisUrl);
  const keyPair = await loadOrCreateKeyPair(join(config.dataDir, 'keys'));
  const adminToken = await adminTokenOf(config);
  const queueUsers = await QueueUsers.open(config.dataDir, queue, log, () => store.enrolments());
  // the context's kick() reaches the scheduler, which is made from the context
  // eslint-disable-next-line prefer-const
  let scheduler: Scheduler | undefined;
  const ctx: CoordinatorContext = {
    config,
    store,
    blobs: new BlobStore(join(config.dataDir, 'blobs')),
    queue,
    logger: log,
    signer: new LocalKeySigner(keyPair),
    kick: () => scheduler?.kick(),
    egress: egressPolicy({ allow: config.egressAllow, allowOrigins: [...Object.values(config.registries), ...builderOriginsFrom(config.builderSettings)], gitMirrors: config.gitMirrors }),
    queueUsers,
  };
  ctx.metrics = createMetrics(ctx);
  scheduler = new Scheduler(ctx);
  const callbacks = new CallbackSender(ctx);
  const app = buildApp(ctx, adminToken);
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  scheduler.start();
  callbacks.start();
  const url = `http://${config.host}:${port}`;
  log.info({ url, policy: config.policy, registries: config.registries, egressAllow: config.egressAllow, keyId: keyPair.keyId }, 'coordinator listening');
  return {
    url,
    ctx,
    async close() {
      await app.close();
      await scheduler.stop();
      await callbacks.stop();
      await queue.close();
      store.close();
    },
  };
}
