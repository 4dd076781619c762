import type { FastifyInstance } from 'fastify';
import { QuorumError, WORKER_ID_PATTERN, type RebuildReport, type WorkerHeartbeat } from '@quorum/core';
import type { CoordinatorContext } from './context.js';

const heartbeatSchema = {
  body: {
    type: 'object',
    required: ['v', 'workerId', 'operator', 'images', 'running'],
    properties: {
      v: { const: 1 },
      workerId: { type: 'string', pattern: WORKER_ID_PATTERN.source },
      operator: { type: 'string', minLength: 1, maxLength: 100 },
      images: { type: 'object', additionalProperties: { type: 'string' } },
      running: { type: 'array', items: { type: 'string' } },
    },
  },
} as const;

const reportSchema = {
  body: {
    type: 'object',
    required: ['v', 'rebuildId', 'workerId', 'status', 'timings'],
    properties: {
      v: { const: 1 },
      rebuildId: { type: 'string' },
      workerId: { type: 'string' },
      status: { enum: ['succeeded', 'failed', 'error'] },
      reason: { type: 'string', maxLength: 200 },
      message: { type: 'string', maxLength: 10_000 },
      timings: { type: 'object', required: ['totalMs'], properties: { totalMs: { type: 'number' } } },
      artifact: {
        type: 'object',
        required: ['sha256', 'sha512', 'stabilizedSha256', 'size', 'facets', 'filename'],
        properties: {
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          sha512: { type: 'string', pattern: '^[0-9a-f]{128}$' },
          stabilizedSha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        },
      },
    },
  },
} as const;

/** The small versioned contract workers use: heartbeat, start, log upload, report. */
export function registerWorkerRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store } = ctx;

  /** The rebuild, if the calling worker is the one it was assigned to. */
  const ownRebuild = (rebuildId: string, workerId: string | undefined) => {
    const rebuild = store.getRebuild(rebuildId);
    if (!rebuild) throw new QuorumError('not-found', `no rebuild with id ${rebuildId}`);
    if (!workerId || rebuild.workerId !== workerId) throw new QuorumError('forbidden', `rebuild ${rebuildId} is not assigned to worker ${workerId ?? '(none)'}`);
    return rebuild;
  };

  app.post<{ Params: { id: string }; Body: WorkerHeartbeat }>('/v1/workers/:id/heartbeat', { schema: heartbeatSchema }, async (req) => {
    if (req.params.id !== req.body.workerId) throw new QuorumError('invalid-input', 'worker id in path and body differ');
    store.upsertWorker(req.body);
    return { ok: true, workerTimeoutMs: ctx.config.workerTimeoutMs };
  });

  app.post<{ Params: { id: string }; Body: { workerId: string } }>(
    '/v1/rebuilds/:id/started',
    { schema: { body: { type: 'object', required: ['workerId'], properties: { workerId: { type: 'string' } } } } },
    async (req) => {
      const rebuild = ownRebuild(req.params.id, req.body.workerId);
      if (rebuild.state === 'lost') throw new QuorumError('conflict', `rebuild ${rebuild.id} was reassigned; do not build it`);
      store.transitionRebuild(rebuild.id, ['assigned'], 'running');
      return { ok: true };
    },
  );

  app.put<{ Params: { id: string }; Body: string }>(
    '/v1/rebuilds/:id/log',
    { bodyLimit: ctx.config.maxLogBytes },
    async (req) => {
      const rebuild = ownRebuild(req.params.id, req.headers['x-quorum-worker'] as string | undefined);
      if (typeof req.body !== 'string') throw new QuorumError('invalid-input', 'the log is sent as text/plain');
      const { sha256, bytes } = await ctx.blobs.put(req.body);
      store.setRebuildLog(rebuild.id, sha256, bytes);
      return { ok: true, sha256, bytes };
    },
  );

  app.post<{ Params: { id: string }; Body: RebuildReport }>('/v1/rebuilds/:id/report', { schema: reportSchema, bodyLimit: 4 * 1024 * 1024 }, async (req) => {
    const report = req.body;
    if (report.rebuildId !== req.params.id) throw new QuorumError('invalid-input', 'rebuild id in path and body differ');
    const rebuild = ownRebuild(req.params.id, report.workerId);
    const target = report.status === 'succeeded' ? 'succeeded' : report.status === 'failed' ? 'failed' : 'lost';
    if (report.status === 'succeeded' && !report.artifact) throw new QuorumError('invalid-input', 'a succeeded report must carry the artifact digests');
    const moved = store.transitionRebuild(rebuild.id, ['assigned', 'running'], target, report);
    if (!moved) {
      // at-least-once delivery: the same report again is fine, anything else conflicts
      const same = rebuild.state === target && JSON.stringify(rebuild.report) === JSON.stringify(report);
      if (!same) throw new QuorumError('conflict', `rebuild ${rebuild.id} is already ${rebuild.state}; report not accepted`);
    }
    req.log.info({ rebuildId: rebuild.id, releaseId: rebuild.releaseId, workerId: report.workerId, status: report.status, reason: report.reason }, 'rebuild reported');
    ctx.kick();
    return { ok: true, state: target };
  });
}
