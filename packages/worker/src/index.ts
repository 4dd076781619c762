import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalKeySigner, loadOrCreateKeyPair } from '@quorum/attest';
import { pino, type Logger } from 'pino';
import { isQuorumError, QuorumError, type Sandbox } from '@quorum/core';
import { ALL_BUILDERS, builderOriginsFrom } from '@quorum/ecosystems';
import { egressPolicy } from '@quorum/net';
import { RebuildQueueConsumer } from '@quorum/queue';
import { DiskScratch, DockerSandbox } from '@quorum/sandbox';
import { BuildSlots } from './build-slots.js';
import { CoordinatorClient } from './coordinator-client.js';
import type { WorkerConfig } from './config.js';
import { FetchCache } from './fetch-cache.js';
import { loadOrCreateInstanceId } from './instance-id.js';
import { runRebuild } from './rebuild.js';

export { loadWorkerConfig, type WorkerConfig } from './config.js';
export { fetchSource } from './fetch-source.js';
export { fetchInputs, readPlanFiles } from './fetch-inputs.js';
export { FetchCache } from './fetch-cache.js';

/** Calls `fn` until it succeeds, every 2 s (the coordinator may be starting, or the worker not enrolled yet). */
async function retry<T>(fn: () => Promise<T>, onFailure: (err: unknown, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      onFailure(err, attempt);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** Disk scratch for builds, after removing what a crashed run left; a clear error when this machine cannot give it. */
async function scratchFor(config: Readonly<WorkerConfig>, logger: Logger): Promise<{ scratch?: DiskScratch }> {
  if (config.scratch === 'memory') return {};
  const scratch = new DiskScratch(join(config.dataDir, 'scratch'));
  const stale = await scratch.removeStale();
  if (stale > 0) logger.warn({ stale }, 'removed build scratch left by a previous run');
  await scratch.probe().catch((e: unknown) => {
    throw new QuorumError(
      'internal',
      `builds need disk scratch (a loop-mounted file per build, which needs root and loop devices): ${(e as Error).message}. Run the worker as root, or set QUORUM_BUILD_SCRATCH=memory for a tmpfs`,
    );
  });
  return { scratch };
}

/** A running worker. */
export interface RunningWorker {
  close(): Promise<void>;
}

/** Starts heartbeats and the job consumer; removes containers a previous run of this worker left. */
export async function startWorker(config: Readonly<WorkerConfig>, opts: { logger?: Logger; sandbox?: Sandbox } = {}): Promise<RunningWorker> {
  const logger = opts.logger ?? pino({ name: `worker-${config.workerId}`, level: config.logLevel });
  await mkdir(config.dataDir, { recursive: true });
  process.umask(0o022);
  const sandbox = opts.sandbox ?? new DockerSandbox({ ...(config.dockerHost ? { host: config.dockerHost } : {}), ...(await scratchFor(config, logger)) });
  // only this instance's leftovers: another farm's worker of the same id keeps its running builds
  const instanceId = await loadOrCreateInstanceId(config.dataDir);
  const orphans = await sandbox.removeOrphans({ 'quorum.worker': config.workerId, 'quorum.instance': instanceId });
  if (orphans > 0) logger.warn({ orphans }, 'removed containers left by a previous run');
  // registry-view sockets of resolutions a crashed run left
  await rm(join(config.dataDir, 'views'), { recursive: true, force: true });
  const egress = egressPolicy({ allow: config.egressAllow, allowOrigins: [...Object.values(config.registries), ...builderOriginsFrom(config.builderSettings)], gitMirrors: config.gitMirrors });
  // the worker's identity: its key never leaves this process (never mounted into a build)
  const keyPair = await loadOrCreateKeyPair(join(config.dataDir, 'keys'));
  if (keyPair.created) logger.info({ keyId: keyPair.keyId }, 'created a signing key');
  const client = new CoordinatorClient(config.coordinatorUrl, config.workerId, keyPair);
  if (config.enrolToken) {
    await client.enrol(config.enrolToken, config.operator, keyPair.publicKeyPem).catch((err: unknown) => {
      // a used token is expected on restarts; heartbeats tell whether the key is enrolled
      logger.warn({ err: (err as Error).message }, 'enrolment failed');
    });
  }
  const signer = new LocalKeySigner(keyPair);
  const slots = new BuildSlots(config.buildSlots);
  const running = new Set<string>();
  const cache = new FetchCache(config.fetchCacheDir, config.fetchCacheBytes);

  const images: Record<string, string> = {};
  const refreshImages = async () => {
    for (const b of ALL_BUILDERS) {
      const digest = await sandbox.imageDigest(b.imageTag).catch(() => undefined);
      if (digest) images[b.ecosystem] = digest;
      else delete images[b.ecosystem];
    }
  };
  await refreshImages();
  if (Object.keys(images).length === 0) logger.warn('no builder image on this Docker engine: this worker will get no jobs (run infra/provision.sh)');

  const beat = async () => {
    try {
      await client.heartbeat({ v: 1, workerId: config.workerId, operator: config.operator, images, running: [...running] });
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  };
  await beat();
  let beats = 0;
  const timer = setInterval(() => {
    if (++beats % 12 === 0) void refreshImages();
    void beat();
  }, config.heartbeatMs);

  // the worker's own Redis user reaches its own queue only; credentials in the URL (an operator's
  // own arrangement) take precedence
  const urlHasCredentials = new URL(config.redisUrl).password !== '';
  const credentials = urlHasCredentials
    ? undefined
    : await retry(
        () => client.queueCredentials(),
        (err, attempt) => {
          if (attempt === 1 || attempt % 30 === 0) logger.warn({ err: (err as Error).message, attempt }, 'cannot get queue credentials from the coordinator yet; retrying');
        },
      );
  // a Redis refusal repeats at the polling rate: log it once a minute, not thousands of times
  let lastQueueError = 0;
  const consumer = new RebuildQueueConsumer({
    redisUrl: config.redisUrl,
    ...(credentials ? { credentials } : {}),
    workerId: config.workerId,
    concurrency: config.concurrency,
    lockDurationMs: config.lockDurationMs,
    onError: (err) => {
      if (Date.now() - lastQueueError < 60_000) return;
      lastQueueError = Date.now();
      logger.error({ err: err.message }, 'queue error (repeats are not logged for a minute)');
    },
    onMalformed: (jobId) => logger.warn({ jobId }, 'dropped a queue payload that is not a rebuild job'),
    handler: async (job, signal) => {
      running.add(job.rebuildId);
      try {
        await runRebuild(job, { config, sandbox, client, logger, signer, slots, egress, instanceId, cache }, signal);
      } catch (err) {
        // the coordinator reassigned or refused it: nothing to retry
        if (isQuorumError(err, 'conflict', 'forbidden', 'not-found')) {
          logger.info({ rebuildId: job.rebuildId, err: (err as Error).message }, 'rebuild dropped');
          return;
        }
        throw err;
      } finally {
        running.delete(job.rebuildId);
      }
    },
  });
  logger.info({ workerId: config.workerId, operator: config.operator, images, coordinator: config.coordinatorUrl }, 'worker started');
  return {
    async close() {
      clearInterval(timer);
      await consumer.close(config.stopGraceMs);
    },
  };
}
