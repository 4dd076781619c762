import { randomUUID } from 'node:crypto';
import { decideVerdict, isQuorumError, type RebuildJob, type RebuildRecord, type RebuildReport, type ReleaseRecord } from '@quorum/core';
import { artifactFormat } from '@quorum/compare';
import { builderFor } from '@quorum/ecosystems';
import { isFarmRedisError } from '@quorum/queue';
import type { CoordinatorContext } from './context.js';
import { pinSource } from './pin-source.js';
import { preparePublished } from './prepare-release.js';
import { publishVerdict } from './publish-verdict.js';
import type { WorkerRecord } from './sqlite-store.js';

const OPEN = ['assigned', 'running'] as const;
const isOpen = (r: RebuildRecord) => r.state === 'assigned' || r.state === 'running';
const isTerminal = (r: RebuildRecord) => r.state === 'succeeded' || r.state === 'failed';

/** How often one worker may lose the same release (vanish, fault) before it is not asked again. */
export const MAX_LOST_PER_WORKER = 2;

/** How often a published artifact download is retried before the release is decided failed. */
export const MAX_PREPARE_ATTEMPTS = 5;

/** Rebuild attempts per release, as a multiple of N: past this nothing more is assigned, so every release ends. */
export const MAX_ATTEMPTS_PER_BUILDER = 3;

/** Failures before the first build that are facts about the release, not faults worth retrying. */
const DETERMINISTIC = ['integrity-mismatch', 'unsafe-archive', 'invalid-input', 'not-found', 'source-not-found', 'egress-refused'] as const;

/**
 * Drives releases from queued to decided. Every step reads durable state from the store, so a
 * restarted coordinator simply carries on: nothing accepted is lost, and every step is idempotent.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly preparing = new Map<string, Promise<void>>();
  private readonly prepareFailures = new Map<string, number>();

  constructor(private readonly ctx: CoordinatorContext) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.ctx.config.tickMs);
    this.timer.unref();
    this.kick();
  }

  /** Runs a pass soon; passes never overlap, and a kick during a pass causes one more. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: unknown) => this.ctx.logger.error({ err }, 'scheduler pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Waits for the current pass and pending downloads (for shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await Promise.allSettled(this.preparing.values());
  }

  /**
   * Runs an operation on one worker's queue. That queue's keys are the worker's to write, so a
   * malformed one must cost only that rebuild: when Redis itself answers, a failing operation makes
   * the rebuild lost (replaced elsewhere) instead of stopping the pass for every release.
   */
  private async onWorkerQueue<T>(r: { id: string; workerId: string }, what: string, op: () => Promise<T>): Promise<T | undefined> {
    try {
      return await op();
    } catch (err) {
      // Redis down, full, busy or slow is a fault of the farm, retried next pass: never the worker's doing
      if (isFarmRedisError(err) || !(await this.ctx.queue.ping())) throw err;
      const report: RebuildReport = {
        v: 1,
        rebuildId: r.id,
        workerId: r.workerId,
        status: 'error',
        reason: 'queue-error',
        message: `${what} on ${r.workerId}'s queue failed; rebuild reassigned`,
        timings: { totalMs: 0 },
      };
      if (this.ctx.store.transitionRebuild(r.id, [...OPEN], 'lost', report)) {
        this.ctx.logger.warn({ err: (err as Error).message, rebuildId: r.id, workerId: r.workerId }, `${what} failed on a worker's queue; rebuild lost`);
      }
      return undefined;
    }
  }

  private async pass(): Promise<void> {
    const { store } = this.ctx;
    this.reapOverdue();
    const alive = this.reapDeadWorkers();
    await this.enqueueUnsent();
    await this.reapLostJobs(alive);
    for (const release of store.releasesInState('queued')) this.prepare(release);
    for (const release of store.releasesInState('building')) await this.advance(release, alive);
  }

  /**
   * Gives up on open rebuilds past their deadline, whatever their worker says (a heartbeat cannot
   * keep a rebuild open): they are lost and replaced, within the release's attempt budget.
   */
  private reapOverdue(): void {
    const { store, logger } = this.ctx;
    const now = Date.now();
    for (const r of store.overdueRebuilds(now)) {
      const report: RebuildReport = {
        v: 1,
        rebuildId: r.id,
        workerId: r.workerId,
        status: 'error',
        reason: 'deadline',
        message: `no result within ${Math.round((r.deadlineMs! - Date.parse(r.createdAt)) / 1000)} s of assignment; rebuild given up and reassigned`,
        timings: { totalMs: now - Date.parse(r.createdAt) },
      };
      if (store.transitionRebuild(r.id, [...OPEN], 'lost', report)) {
        logger.warn({ rebuildId: r.id, releaseId: r.releaseId, workerId: r.workerId }, 'rebuild past its deadline; lost');
        void this.ctx.queue.withdraw(r.workerId, r.id).catch(() => undefined);
      }
    }
  }

  /** Marks silent workers' open rebuilds lost (they get replaced) and returns the live workers. */
  private reapDeadWorkers(): WorkerRecord[] {
    const { store, config, logger } = this.ctx;
    const cutoff = Date.now() - config.workerTimeoutMs;
    const alive: WorkerRecord[] = [];
    for (const w of store.workers()) {
      if (w.lastSeenMs >= cutoff) {
        alive.push(w);
        continue;
      }
      for (const r of store.openRebuildsOf(w.id)) {
        const report: RebuildReport = {
          v: 1,
          rebuildId: r.id,
          workerId: w.id,
          status: 'error',
          reason: 'worker-vanished',
          message: `worker ${w.id} sent no heartbeat for ${Math.round((Date.now() - w.lastSeenMs) / 1000)} s; rebuild reassigned`,
          timings: { totalMs: Date.now() - Date.parse(r.createdAt) },
        };
        if (store.transitionRebuild(r.id, [...OPEN], 'lost', report)) {
          logger.warn({ rebuildId: r.id, releaseId: r.releaseId, workerId: w.id }, 'worker vanished; rebuild lost');
          void this.ctx.queue.withdraw(w.id, r.id).catch(() => undefined);
        }
      }
    }
    return alive;
  }

  /**
   * Finds open rebuilds whose job no longer exists or ended without a report (Redis lost it, or the
   * queue gave up after its retries) while their worker is alive and not running them. An assigned
   * rebuild whose job vanished is enqueued again; any other such rebuild is lost and replaced.
   */
  private async reapLostJobs(alive: WorkerRecord[]): Promise<void> {
    const { store, queue, config, logger } = this.ctx;
    const byId = new Map(alive.map((w) => [w.id, w]));
    for (const r of store.staleOpenRebuilds(new Date(Date.now() - config.workerTimeoutMs).toISOString())) {
      const worker = byId.get(r.workerId);
      if (!worker || worker.running.includes(r.id)) continue;
      const state = await this.onWorkerQueue(r, 'reading the job state', () => queue.jobState(r.workerId, r.id));
      if (state === undefined) continue;
      if (state === 'waiting' || state === 'delayed' || state === 'active') {
        store.touchRebuild(r.id);
        continue;
      }
      const release = store.getRelease(r.releaseId);
      if (state === 'missing' && r.state === 'assigned' && release) {
        logger.warn({ rebuildId: r.id, workerId: r.workerId }, 'job vanished from the queue; enqueuing it again');
        await this.onWorkerQueue(r, 'enqueuing', () => queue.enqueue(r.workerId, this.jobOf(release, r.id)));
        store.touchRebuild(r.id);
        continue;
      }
      const report: RebuildReport = {
        v: 1,
        rebuildId: r.id,
        workerId: r.workerId,
        status: 'error',
        reason: 'job-lost',
        message: `the job of this rebuild is ${state} on ${r.workerId}'s queue without a report; rebuild reassigned`,
        timings: { totalMs: Date.now() - Date.parse(r.createdAt) },
      };
      if (store.transitionRebuild(r.id, [...OPEN], 'lost', report)) logger.warn({ rebuildId: r.id, workerId: r.workerId, state }, 'rebuild job lost');
    }
  }

  /** A queue payload: ids only; the worker fetches the spec from the coordinator over its signed channel. */
  private jobOf(release: ReleaseRecord, rebuildId: string): RebuildJob {
    return { v: 2, rebuildId, releaseId: release.id };
  }

  /** Hands rebuilds to the queue that were stored but not yet enqueued (e.g. before a crash). */
  private async enqueueUnsent(): Promise<void> {
    const { store, queue } = this.ctx;
    for (const r of store.unenqueuedRebuilds()) {
      const release = store.getRelease(r.releaseId);
      if (!release) continue;
      const sent = await this.onWorkerQueue(r, 'enqueuing', () => queue.enqueue(r.workerId, this.jobOf(release, r.id)).then(() => true));
      if (sent) store.markEnqueued(r.id);
    }
  }

  /** Downloads and digests the published artifact once per release, in the background. */
  private prepare(release: ReleaseRecord): void {
    // downloads and digests of large artifacts, a few at a time: the rest wait for the next pass
    if (this.preparing.has(release.id) || this.preparing.size >= this.ctx.config.maxPreparing) return;
    const job = this.fetchPublished(release)
      .catch((err: unknown) => this.ctx.logger.error({ err, releaseId: release.id }, 'cannot prepare release'))
      .finally(() => {
        this.preparing.delete(release.id);
        this.kick();
      });
    this.preparing.set(release.id, job);
  }

  /** Decides a release failed before any build, with a signed VSA saying why. */
  private async failEarly(release: ReleaseRecord, problem: { code: string; message: string }): Promise<void> {
    const decision = { verdict: 'failed' as const, reason: `${problem.code}: ${problem.message}`, agreeing: [], agreeingCount: 0, stabilizers: [] };
    await publishVerdict(this.ctx, release, decision).catch((err: unknown) => {
      // nothing to sign about (no digest of the artifact at all): record the verdict unsigned rather than retry forever
      this.ctx.logger.error({ err, releaseId: release.id }, 'cannot sign the verdict; recording it unsigned');
      this.ctx.store.appendVerdict(release.id, { ...decision, decidedAt: new Date().toISOString() });
    });
  }

  /**
   * Before any build: the published artifact (downloaded, checked against the registry's integrity,
   * digested) and, when only tags are known, the commit the source is pinned to.
   */
  private fetchPublished(release: ReleaseRecord): Promise<void> {
    const { store, logger } = this.ctx;
    let published: ReleaseRecord['published'];
    return preparePublished(this.ctx, release)
      .then(async (digests) => {
        published = digests;
        if (!release.problem) {
          const pinned = await pinSource(this.ctx, release);
          if (pinned) store.setReleaseSource(release.id, pinned);
        }
        // a release known to be unbuildable (e.g. no source) is still judged about the artifact it names
        store.setReleasePublished(release.id, digests, !release.problem);
        logger.info({ releaseId: release.id, purl: release.purl, sha256: digests.sha256 }, 'published artifact fetched');
        if (release.problem) await this.failEarly({ ...release, published: digests }, release.problem);
      })
      .catch((err: unknown) => {
        const failures = (this.prepareFailures.get(release.id) ?? 0) + 1;
        this.prepareFailures.set(release.id, failures);
        const final = isQuorumError(err, ...DETERMINISTIC) || failures >= MAX_PREPARE_ATTEMPTS;
        logger.warn({ err, releaseId: release.id, failures, final }, 'cannot prepare the release');
        if (!final) return;
        const code = isQuorumError(err) ? err.code : 'upstream-unavailable';
        const problem = release.problem ?? { code, message: (err as Error).message };
        store.setReleaseProblem(release.id, problem);
        if (published) store.setReleasePublished(release.id, published, false);
        return this.failEarly({ ...release, problem, ...(published ? { published } : {}) }, problem);
      });
  }

  /** Assigns missing rebuilds to distinct live workers, and decides when nothing more can come. */
  private async advance(release: ReleaseRecord, alive: WorkerRecord[]): Promise<void> {
    const { store, config } = this.ctx;
    const rebuilds = store.rebuildsOf(release.id);
    const live = rebuilds.filter((r) => r.state !== 'lost');
    const budget = release.policy.builders * MAX_ATTEMPTS_PER_BUILDER - rebuilds.length;
    const missing = Math.min(release.policy.builders - live.length, budget);
    const building = new Set(live.map((r) => r.workerId));
    const lostBy = (id: string) => rebuilds.filter((r) => r.workerId === id && r.state === 'lost').length;
    const eligible = alive.filter((w) => !building.has(w.id) && lostBy(w.id) < MAX_LOST_PER_WORKER && w.images[release.ecosystem]);
    if (missing > 0) {
      const load = new Map(eligible.map((w) => [w.id, store.openRebuildsOf(w.id).length]));
      // one at a time, so that each choice counts the operators chosen before it: a worker that has
      // not lost this release yet first, then a new operator (more independence), then the least busy
      const operators = new Set(live.map((r) => r.operator));
      const pool = [...eligible];
      const chosen: WorkerRecord[] = [];
      while (chosen.length < missing && pool.length > 0) {
        pool.sort(
          (a, b) => lostBy(a.id) - lostBy(b.id) || Number(operators.has(a.operator)) - Number(operators.has(b.operator)) || (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || a.id.localeCompare(b.id),
        );
        const w = pool.shift()!;
        chosen.push(w);
        operators.add(w.operator);
      }
      for (const w of chosen) await this.assign(release, w, rebuilds.length + 1);
      if (chosen.length > 0) return; // wait for what was just assigned
    }
    if (!live.some(isOpen) && release.policy.distinctOperators && budget > 0) {
      // enough builds agreed, but too few operators did them (a quorum counts operators): ask one more
      // operator, while there is one, rather than decide on builders who count as one
      const succeeded = live.filter((r) => r.state === 'succeeded');
      const used = new Set(live.map((r) => r.operator));
      const fresh = eligible.filter((w) => !used.has(w.operator)).sort((a, b) => a.id.localeCompare(b.id));
      if (succeeded.length >= release.policy.quorum && new Set(succeeded.map((r) => r.operator)).size < release.policy.quorum && fresh.length > 0) {
        await this.assign(release, fresh[0]!, rebuilds.length + 1);
        return;
      }
    }
    if (live.some(isOpen)) return;
    const finished = live.filter(isTerminal);
    if (finished.length === 0) {
      // nobody could take the release yet: wait a while for an eligible worker, then say so
      const since = Math.max(Date.parse(release.updatedAt), ...rebuilds.map((r) => Date.parse(r.updatedAt)));
      if (budget > 0 && Date.now() - since < config.noBuilderGraceMs) return;
      const why =
        budget > 0
          ? `no eligible worker (alive, with the ${release.ecosystem} builder image, not already used for this release) took it within ${Math.round(config.noBuilderGraceMs / 1000)} s`
          : `all ${rebuilds.length} rebuild attempts were lost (workers vanished, faulted or ran past their deadline)`;
      await publishVerdict(this.ctx, release, { verdict: 'failed', reason: `no-builders: ${why}`, agreeing: [], agreeingCount: 0, stabilizers: [] });
      return;
    }
    const outcomes = finished.map((r) => ({
      builderId: r.workerId,
      operator: r.operator,
      status: r.state === 'succeeded' ? ('success' as const) : ('failed' as const),
      ...(r.report?.artifact ? { artifact: r.report.artifact } : {}),
    }));
    const format = artifactFormat(builderFor(release.ecosystem).artifactFormat);
    await publishVerdict(this.ctx, release, decideVerdict(release.published!, outcomes, release.policy, format));
  }

  private async assign(release: ReleaseRecord, worker: WorkerRecord, attempt: number): Promise<void> {
    const { store, queue, logger } = this.ctx;
    const rebuildId = randomUUID();
    store.insertRebuild({ id: rebuildId, releaseId: release.id, workerId: worker.id, operator: worker.operator, attempt, deadlineMs: Date.now() + this.ctx.config.rebuildDeadlineMs });
    const sent = await this.onWorkerQueue({ id: rebuildId, workerId: worker.id }, 'enqueuing', () => queue.enqueue(worker.id, this.jobOf(release, rebuildId)).then(() => true));
    if (!sent) return;
    store.markEnqueued(rebuildId);
    logger.info({ releaseId: release.id, rebuildId, workerId: worker.id, purl: release.purl }, 'rebuild assigned');
  }
}
