import { createRequire } from 'node:module';
import { Queue, Worker, type Job } from 'bullmq';
import { Command, Redis, type RedisOptions } from 'ioredis';
import { ID_PATTERN, QuorumError, workerQueueName, type QueueCredentials, type RebuildJob } from '@quorum/core';

export type { RebuildJob } from '@quorum/core';

/** BullMQ's key prefix; every key of a worker's queue starts with `<prefix>:rebuilds-<workerId>:`. */
const KEY_PREFIX = 'bull';

/** BullMQ's Lua scripts, as its own connections define them (same package, same contents, same hashes). */
function bullScripts(): { name: string; content: string }[] {
  const all = createRequire(import.meta.url)('bullmq/dist/cjs/scripts/index.js') as Record<string, { name?: unknown; content?: unknown }>;
  return Object.values(all).filter((s): s is { name: string; content: string } => typeof s?.content === 'string' && typeof s.name === 'string');
}

/**
 * A connection that runs scripts by hash only (EVALSHA), never by sending their text (EVAL, which
 * ioredis does the first time on each socket). Workers' Redis users may not EVAL: arbitrary Lua
 * would let one operator block Redis for everyone. The coordinator loads BullMQ's scripts.
 */
class ScriptsByHashRedis extends Redis {
  override defineCommand(name: string, definition: { lua: string; numberOfKeys?: number; readOnly?: boolean }): void {
    super.defineCommand(name, definition);
    // a plain command sends `evalsha <sha>` as it is; a script's own command class would send EVAL first
    const script = (this as unknown as { scriptsSet: Record<string, { Command: unknown }> }).scriptsSet[name];
    if (script) script.Command = Command;
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new ScriptsByHashRedis({ ...this.options, ...override });
  }
}

/** Opens a Redis connection suitable for BullMQ (blocking commands need no request retry cap). */
function connect(redisUrl: string, credentials?: QueueCredentials, scriptsByHash = false): Redis {
  const options: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
    ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
  };
  return scriptsByHash ? new ScriptsByHashRedis(redisUrl, options) : new Redis(redisUrl, options);
}

/** How long one coordinator call to Redis may take before it counts as Redis being unavailable. @defaultValue 10 s */
export const REDIS_CALL_TIMEOUT_MS = 10_000;

/** A Redis call that gives up after `ms`: with no retry cap, a call to a Redis that is down would wait forever. */
async function bounded<T>(what: string, call: Promise<T>, ms = REDIS_CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QuorumError('unavailable', `Redis did not answer ${what} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([call, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * True for a Redis error that says something about Redis or the farm (memory full, busy, loading,
 * refused, unreachable), not about the one queue an operation touched.
 */
export function isFarmRedisError(e: unknown): boolean {
  if (e instanceof QuorumError) return e.code === 'unavailable';
  const message = (e as Error)?.message ?? '';
  return /^(OOM|BUSY|LOADING|NOPERM|NOAUTH|WRONGPASS|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|MISCONF)\b/.test(message) || /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/.test(message);
}

/** The Redis ACL user of a worker. */
export function workerRedisUser(workerId: string): string {
  return `quorum-worker-${workerId}`;
}

/**
 * Redis ACL rules of a worker's own user: its queue's keys only, no pub/sub channels, every command
 * but the dangerous ones (FLUSHALL, KEYS, CONFIG, CLIENT KILL, ACL, …), plus INFO, which ioredis and
 * BullMQ read at connect. Worker ids cannot hold glob characters (WORKER_ID_PATTERN), so the key
 * pattern matches exactly one queue.
 */
export function workerAclRules(workerId: string, password: string): string[] {
  return ['reset', 'on', `>${password}`, `~${KEY_PREFIX}:${workerQueueName(workerId)}:*`, 'resetchannels', '+@all', '-@dangerous', '-@scripting', '+evalsha', '+evalsha_ro', '+info'];
}

/** Reads a queue payload; anything but ids is refused (the spec comes from the coordinator over HTTP). */
export function parseRebuildJob(data: unknown): RebuildJob | undefined {
  const d = data as Partial<RebuildJob> | null;
  if (!d || typeof d !== 'object' || d.v !== 2) return undefined;
  if (typeof d.rebuildId !== 'string' || !ID_PATTERN.test(d.rebuildId)) return undefined;
  if (typeof d.releaseId !== 'string' || !ID_PATTERN.test(d.releaseId)) return undefined;
  return { v: 2, rebuildId: d.rebuildId, releaseId: d.releaseId };
}

/** Attempts of one job before BullMQ gives up on it; the coordinator then reassigns the rebuild. */
export const MAX_ATTEMPTS = 60;

/** Delay before retry n (1-based): doubling from 1 s, capped at one minute. */
export function retryDelayMs(attemptsMade: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attemptsMade - 1), 60_000);
}

/** Where a rebuild's job is in its worker's queue; `missing` when the queue no longer has it. */
export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'missing';

/** Producer side: the coordinator puts each rebuild on its chosen worker's own queue. */
export class RebuildQueueProducer {
  private readonly connection: Redis;
  private readonly queues = new Map<string, Queue<RebuildJob>>();

  constructor(redisUrl: string) {
    this.connection = connect(redisUrl);
  }

  /** Runs `fn` whenever the connection (re)becomes ready, e.g. to recreate worker users after a Redis restart. */
  onReady(fn: () => void): void {
    this.connection.on('ready', fn);
    if (this.connection.status === 'ready') fn();
  }

  /** Loads BullMQ's scripts into Redis, so that workers can run them by hash without being allowed EVAL. */
  async loadScripts(): Promise<number> {
    const scripts = bullScripts();
    for (const s of scripts) await bounded('SCRIPT LOAD', this.connection.call('SCRIPT', 'LOAD', s.content));
    return scripts.length;
  }

  /** Creates or updates a worker's own Redis user, which reaches only that worker's queue. */
  async grantWorker(workerId: string, password: string): Promise<void> {
    await bounded('ACL SETUSER', this.connection.call('ACL', 'SETUSER', workerRedisUser(workerId), ...workerAclRules(workerId, password)));
  }

  /** Closes every connection of a worker's Redis user (a new password does not end them by itself). */
  async disconnectWorker(workerId: string): Promise<void> {
    await bounded('CLIENT KILL', this.connection.call('CLIENT', 'KILL', 'USER', workerRedisUser(workerId))).catch(() => undefined);
  }

  /** Removes a worker's Redis user and closes its connections. */
  async revokeWorker(workerId: string): Promise<void> {
    await bounded('ACL DELUSER', this.connection.call('ACL', 'DELUSER', workerRedisUser(workerId)));
    await this.disconnectWorker(workerId);
  }

  private queue(workerId: string): Queue<RebuildJob> {
    let q = this.queues.get(workerId);
    if (!q) {
      q = new Queue<RebuildJob>(workerQueueName(workerId), { connection: this.connection });
      this.queues.set(workerId, q);
    }
    return q;
  }

  /** Enqueues a rebuild; idempotent, because the job id is the rebuild id. */
  async enqueue(workerId: string, job: RebuildJob): Promise<void> {
    await bounded(
      'an enqueue',
      this.queue(workerId).add('rebuild', job, {
        jobId: job.rebuildId,
        // faults are retried for a long while (the coordinator may be restarting); see retryDelayMs
        attempts: MAX_ATTEMPTS,
        backoff: { type: 'capped' },
        removeOnComplete: { count: 1000 },
        removeOnFail: { count: 1000 },
      }),
    );
  }

  /** Drops a rebuild that has not started (e.g. reassigned elsewhere); a started one is left to finish. */
  async withdraw(workerId: string, rebuildId: string): Promise<void> {
    const state = await bounded('a job state', this.queue(workerId).getJobState(rebuildId));
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await bounded('a removal', this.queue(workerId).remove(rebuildId)).catch(() => undefined);
  }

  /** The state of a rebuild's job on a worker's queue. */
  async jobState(workerId: string, rebuildId: string): Promise<JobState> {
    // by list membership only: the job's hash is the worker's to write, so it is never parsed here
    const state = await bounded('a job state', this.queue(workerId).getJobState(rebuildId));
    if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'completed' || state === 'failed') return state;
    // prioritized and waiting-children are kinds of waiting
    return state === 'unknown' ? 'missing' : 'waiting';
  }

  /** Whether the connection to Redis is up now (commands sent otherwise wait in its offline queue). */
  get connected(): boolean {
    return this.connection.status === 'ready';
  }

  /** Jobs on a worker's queue: waiting (delayed and prioritized included) and running; list lengths only. */
  async depth(workerId: string): Promise<{ waiting: number; active: number }> {
    const c = await bounded('job counts', this.queue(workerId).getJobCounts('waiting', 'delayed', 'prioritized', 'active'));
    return { waiting: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0 };
  }

  /** Is Redis answering? */
  async ping(): Promise<boolean> {
    try {
      return (await bounded('PING', this.connection.ping(), 2000)) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.connection.disconnect();
  }
}

/** Options of a worker's consumer. */
export interface RebuildConsumerOptions {
  redisUrl: string;
  /** the worker's own Redis user; absent when the URL carries credentials */
  credentials?: QueueCredentials;
  workerId: string;
  /** @defaultValue 1 */
  concurrency?: number;
  /** how long a job's lock lives without renewal; @defaultValue 30000 */
  lockDurationMs?: number;
  /** runs one job; the signal fires when the consumer shuts down. Payloads that are not a RebuildJob never reach it. */
  handler: (job: RebuildJob, signal: AbortSignal, attempt: number) => Promise<void>;
  /** a payload that is not a RebuildJob (dropped) */
  onMalformed?: (jobId: string | undefined) => void;
  onError?: (err: Error) => void;
}

/** Consumer side: a worker takes rebuilds from its own queue, at least once. */
export class RebuildQueueConsumer {
  private readonly worker: Worker<RebuildJob>;
  private readonly connection: Redis;
  private readonly running = new Set<AbortController>();

  constructor(opts: RebuildConsumerOptions) {
    // a worker's own Redis user may not EVAL: scripts run by hash, loaded by the coordinator
    this.connection = connect(opts.redisUrl, opts.credentials, true);
    this.worker = new Worker<RebuildJob>(
      workerQueueName(opts.workerId),
      async (job: Job<RebuildJob>) => {
        const payload = parseRebuildJob(job.data);
        // the queue is only a doorbell: whatever else lands on it is dropped, not retried
        if (!payload) return opts.onMalformed?.(job.id);
        const ac = new AbortController();
        this.running.add(ac);
        try {
          await opts.handler(payload, ac.signal, job.attemptsMade + 1);
        } finally {
          this.running.delete(ac);
        }
      },
      {
        connection: this.connection,
        concurrency: opts.concurrency ?? 1,
        lockDuration: opts.lockDurationMs ?? 30_000,
        settings: { backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade) },
        stalledInterval: opts.lockDurationMs ?? 30_000,
      },
    );
    this.worker.on('error', (err) => opts.onError?.(err));
  }

  /**
   * Stops taking jobs; running ones are aborted (their handlers report and return). A handler that
   * does not return within `graceMs` is abandoned: its job's lock expires and the coordinator
   * reassigns the rebuild, so a stuck job never keeps a worker from stopping.
   */
  async close(graceMs = 15_000): Promise<void> {
    for (const ac of this.running) ac.abort(new Error('worker shutting down'));
    let timer: NodeJS.Timeout | undefined;
    const gave = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    const outcome = await Promise.race([this.worker.close().then(() => 'closed' as const), gave]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.worker.close(true).catch(() => undefined);
    this.connection.disconnect();
  }
}
