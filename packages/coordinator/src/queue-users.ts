import { createHmac, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { QuorumError, type QueueCredentials } from '@quorum/core';
import { workerRedisUser, type RebuildQueueProducer } from '@quorum/queue';

/** File in the coordinator's data dir holding the secret worker Redis passwords derive from (mode 0600). */
export const QUEUE_SECRET_FILE = 'queue-secret';

/**
 * Gives every enrolled worker its own Redis user, which reaches only that worker's queue. Passwords
 * derive from a secret kept in the data dir, so nothing per worker is stored and the users can be
 * recreated as they were after Redis restarts empty.
 */
export class QueueUsers {
  private constructor(
    private readonly secret: Buffer,
    private readonly queue: RebuildQueueProducer,
    private readonly logger: Logger,
  ) {}

  /** Loads (or creates) the secret and recreates the users of `enrolled()` whenever Redis (re)connects. */
  static async open(dataDir: string, queue: RebuildQueueProducer, logger: Logger, enrolled: () => { workerId: string; keyId: string }[]): Promise<QueueUsers> {
    const file = join(dataDir, QUEUE_SECRET_FILE);
    let secret = Buffer.from((await readFile(file, 'utf8').catch(() => '')).trim(), 'base64url');
    if (secret.length < 32) {
      secret = randomBytes(32);
      await writeFile(file, `${secret.toString('base64url')}\n`, { mode: 0o600 });
    }
    const users = new QueueUsers(secret, queue, logger);
    queue.onReady(() => {
      // workers may run scripts by hash only: load BullMQ's (again, after a Redis restart)
      void queue.loadScripts().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'cannot load the queue scripts into Redis; workers cannot run jobs'));
      void Promise.all(enrolled().map((e) => users.grant(e.workerId, e.keyId))).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, "cannot recreate worker Redis users (does the coordinator's Redis user have ACL rights?)"),
      );
    });
    return users;
  }

  /** A worker's password follows its enrolled key: enrolling a new key invalidates the old password. */
  private password(workerId: string, keyId: string): string {
    return createHmac('sha256', this.secret).update(`quorum-queue-user\n${workerId}\n${keyId}`).digest('base64url');
  }

  /** Ends every Redis connection of a worker (after its key changed: the old password no longer works, its sessions must not either). */
  async disconnect(workerId: string): Promise<void> {
    await this.queue.disconnectWorker(workerId);
  }

  /** Creates or refreshes a worker's Redis user (for its enrolled key) and returns its credentials. */
  async grant(workerId: string, keyId: string): Promise<QueueCredentials> {
    const credentials = { username: workerRedisUser(workerId), password: this.password(workerId, keyId) };
    try {
      await this.queue.grantWorker(workerId, credentials.password);
    } catch (e) {
      this.logger.error({ err: (e as Error).message, workerId }, 'cannot create a worker Redis user');
      throw new QuorumError('unavailable', 'the coordinator cannot create Redis users; give this worker Redis credentials of its own in QUORUM_REDIS_URL', { cause: e });
    }
    return credentials;
  }
}
