import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyIdOf, parseRebuildStatement, verifyBundle } from '@quorum/attest';
import { AUTH_HEADER, QuorumError, requestSignatureProblem, WORKER_ID_PATTERN, type RebuildReport, type WorkerHeartbeat } from '@quorum/core';
import type { CoordinatorContext } from './context.js';
import type { Enrolment, StoredRebuild } from './sqlite-store.js';

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

const enrolSchema = {
  body: {
    type: 'object',
    required: ['token', 'operator', 'publicKey'],
    additionalProperties: false,
    properties: {
      token: { type: 'string', minLength: 16, maxLength: 200 },
      operator: { type: 'string', minLength: 1, maxLength: 100 },
      publicKey: { type: 'string', minLength: 50, maxLength: 5000 },
    },
  },
} as const;

const digestProps = {
  sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  sha512: { type: 'string', pattern: '^[0-9a-f]{128}$' },
  stabilizedSha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
};

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
      artifact: { type: 'object', required: ['sha256', 'sha512', 'stabilizedSha256', 'size', 'facets', 'filename'], properties: digestProps },
      bundle: { type: 'object' },
    },
  },
} as const;

/** The request body exactly as received: request signatures cover these bytes. */
function rawBody(req: FastifyRequest): string {
  return (req as FastifyRequest & { rawBody?: string }).rawBody ?? (typeof req.body === 'string' ? req.body : '');
}

/** The small versioned contract workers use: enrol, heartbeat, start, log upload, signed report. */
export function registerWorkerRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store } = ctx;

  // keep the raw JSON text: worker requests are signed over their exact bytes
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    (req as FastifyRequest & { rawBody?: string }).rawBody = body as string;
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(Object.assign(new Error(`body is not valid JSON: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });

  // artifacts stream to disk: their signature covers the digest computed on the way
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  /** The enrolment of a worker whose request carries a valid signature by its enrolled key. */
  const authenticated = (req: FastifyRequest, workerId: string | undefined, body: string | { sha256: string } = rawBody(req)): Enrolment => {
    const enrolment = workerId ? store.enrolment(workerId) : undefined;
    if (!enrolment) throw new QuorumError('forbidden', `worker ${workerId ?? '(none)'} is not enrolled; an operator must enrol it (quorum admin enrol)`);
    const problem = requestSignatureProblem(req.headers[AUTH_HEADER] as string | undefined, enrolment, req.method, req.url, body);
    if (problem) throw new QuorumError('forbidden', `request of worker ${workerId} refused: ${problem}`);
    return enrolment;
  };

  /** The rebuild, if the authenticated worker is the one it was assigned to. */
  const ownRebuild = (rebuildId: string, workerId: string): StoredRebuild => {
    const rebuild = store.getRebuild(rebuildId);
    if (!rebuild) throw new QuorumError('not-found', `no rebuild with id ${rebuildId}`);
    if (rebuild.workerId !== workerId) throw new QuorumError('forbidden', `rebuild ${rebuildId} is not assigned to worker ${workerId}`);
    return rebuild;
  };

  app.post<{ Params: { id: string }; Body: { token: string; operator: string; publicKey: string } }>('/v1/workers/:id/enrol', { schema: enrolSchema }, async (req) => {
    const workerId = req.params.id;
    if (!WORKER_ID_PATTERN.test(workerId)) throw new QuorumError('invalid-input', `worker id must match ${WORKER_ID_PATTERN.source}`);
    let keyId: string;
    try {
      keyId = keyIdOf(req.body.publicKey);
    } catch (e) {
      throw new QuorumError('invalid-input', `publicKey is not a PEM public key: ${(e as Error).message}`);
    }
    const existing = store.enrolment(workerId);
    if (existing) {
      if (existing.keyId === keyId) return { workerId, operator: existing.operator, keyId };
      throw new QuorumError('conflict', `worker ${workerId} is already enrolled with another key`);
    }
    const tokenSha256 = createHash('sha256').update(req.body.token).digest('hex');
    const operator = req.body.operator;
    if (!store.enrol(workerId, operator, keyId, req.body.publicKey, tokenSha256)) {
      store.recordRejection({ workerId, reason: 'bad-enrolment-token', detail: `enrolment of ${workerId} (operator ${operator}) with an unknown, used or expired token` });
      throw new QuorumError('forbidden', `enrolment token for ${workerId} is unknown, used, expired or for another operator`);
    }
    const enrolled = store.enrolment(workerId)!;
    if (enrolled.operator !== operator) throw new QuorumError('forbidden', `worker ${workerId} was enrolled for operator ${enrolled.operator}`);
    req.log.info({ workerId, operator, keyId }, 'worker enrolled');
    return { workerId, operator, keyId };
  });

  app.post<{ Params: { id: string }; Body: WorkerHeartbeat }>('/v1/workers/:id/heartbeat', { schema: heartbeatSchema }, async (req) => {
    if (req.params.id !== req.body.workerId) throw new QuorumError('invalid-input', 'worker id in path and body differ');
    const enrolment = authenticated(req, req.params.id);
    if (enrolment.operator !== req.body.operator) throw new QuorumError('forbidden', `worker ${enrolment.workerId} is enrolled for operator ${enrolment.operator}`);
    store.upsertWorker(req.body);
    return { ok: true, workerTimeoutMs: ctx.config.workerTimeoutMs };
  });

  app.post<{ Params: { id: string }; Body: { workerId: string } }>(
    '/v1/rebuilds/:id/started',
    { schema: { body: { type: 'object', required: ['workerId'], properties: { workerId: { type: 'string' } } } } },
    async (req) => {
      authenticated(req, req.body.workerId);
      const rebuild = ownRebuild(req.params.id, req.body.workerId);
      if (rebuild.state === 'lost') throw new QuorumError('conflict', `rebuild ${rebuild.id} was reassigned; do not build it`);
      store.transitionRebuild(rebuild.id, ['assigned'], 'running');
      return { ok: true };
    },
  );

  app.put<{ Params: { id: string }; Body: string }>('/v1/rebuilds/:id/log', { bodyLimit: ctx.config.maxLogBytes }, async (req) => {
    const workerId = req.headers['x-quorum-worker'] as string | undefined;
    authenticated(req, workerId);
    const rebuild = ownRebuild(req.params.id, workerId!);
    if (typeof req.body !== 'string') throw new QuorumError('invalid-input', 'the log is sent as text/plain');
    const { sha256, bytes } = await ctx.blobs.put(req.body);
    store.setRebuildLog(rebuild.id, sha256, bytes);
    return { ok: true, sha256, bytes };
  });

  app.put<{ Params: { id: string }; Body: NodeJS.ReadableStream }>('/v1/rebuilds/:id/artifact', { bodyLimit: ctx.config.maxArtifactBytes }, async (req) => {
    const workerId = req.headers['x-quorum-worker'] as string | undefined;
    if (!workerId || !store.enrolment(workerId)) throw new QuorumError('forbidden', `worker ${workerId ?? '(none)'} is not enrolled`);
    ownRebuild(req.params.id, workerId);
    const tmpDir = join(ctx.config.dataDir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const file = join(tmpDir, `${randomUUID()}.upload`);
    const hash = createHash('sha256');
    try {
      await pipeline(req.body, new Transform({ transform: (chunk: Buffer, _e, cb) => (hash.update(chunk), cb(null, chunk)) }), createWriteStream(file));
      const sha256 = hash.digest('hex');
      authenticated(req, workerId, { sha256 });
      if (!(await ctx.blobs.has(sha256))) await ctx.blobs.adopt(file, sha256);
      return { ok: true, sha256 };
    } finally {
      await rm(file, { force: true });
    }
  });

  app.post<{ Params: { id: string }; Body: RebuildReport & { bundle?: unknown } }>('/v1/rebuilds/:id/report', { schema: reportSchema, bodyLimit: 4 * 1024 * 1024 }, async (req) => {
    const report = req.body;
    if (report.rebuildId !== req.params.id) throw new QuorumError('invalid-input', 'rebuild id in path and body differ');
    let enrolment: Enrolment;
    try {
      enrolment = authenticated(req, report.workerId);
    } catch (e) {
      // a result from an unknown or unauthenticated worker is what auditors must see
      const reason = store.enrolment(report.workerId) ? 'bad-request-signature' : 'unenrolled';
      store.recordRejection({ workerId: report.workerId, rebuildId: req.params.id, reason, detail: (e as Error).message });
      throw e;
    }
    const rebuild = ownRebuild(req.params.id, report.workerId);
    const target = report.status === 'succeeded' ? 'succeeded' : report.status === 'failed' ? 'failed' : 'lost';
    let bundleSha256: string | undefined;
    if (report.status !== 'error') bundleSha256 = await checkSignedResult(ctx, report, rebuild, enrolment);
    const { bundle: _bundle, ...stored } = report;
    const moved = store.transitionRebuild(rebuild.id, ['assigned', 'running'], target, stored);
    if (!moved) {
      // at-least-once delivery: the same report again is fine, anything else conflicts
      const same = rebuild.state === target && JSON.stringify(rebuild.report) === JSON.stringify(stored);
      if (!same) throw new QuorumError('conflict', `rebuild ${rebuild.id} is already ${rebuild.state}; report not accepted`);
    }
    if (bundleSha256) store.setRebuildBundle(rebuild.id, bundleSha256);
    req.log.info({ rebuildId: rebuild.id, releaseId: rebuild.releaseId, workerId: report.workerId, status: report.status, reason: report.reason }, 'rebuild reported');
    ctx.kick();
    return { ok: true, state: target };
  });

  app.get<{ Params: { id: string } }>('/v1/rebuilds/:id/bundle', async (req, reply) => {
    const rebuild = store.getRebuild(req.params.id);
    const bytes = rebuild?.bundleSha256 ? await ctx.blobs.read(rebuild.bundleSha256) : undefined;
    if (!bytes) throw new QuorumError('not-found', `rebuild ${req.params.id} has no signed statement`);
    return reply.type('application/json').send(bytes);
  });
}

/**
 * Checks a result's Sigstore bundle: signed by the worker's enrolled key, a statement about this very
 * rebuild (not replayed from another), and a subject equal to the reported digests. A refusal is
 * recorded for auditors. Returns the digest under which the bundle is stored.
 */
async function checkSignedResult(ctx: CoordinatorContext, report: RebuildReport & { bundle?: unknown }, rebuild: StoredRebuild, enrolment: Enrolment): Promise<string> {
  const { store, blobs } = ctx;
  const bundleText = report.bundle === undefined ? undefined : JSON.stringify(report.bundle);
  const bundleSha256 = bundleText ? createHash('sha256').update(bundleText).digest('hex') : undefined;
  const refuse = (reason: string, detail: string): never => {
    store.recordRejection({ workerId: report.workerId, rebuildId: rebuild.id, reason, detail, ...(bundleSha256 ? { bundleSha256 } : {}) });
    ctx.logger.warn({ workerId: report.workerId, rebuildId: rebuild.id, reason }, `report rejected: ${detail}`);
    throw new QuorumError('forbidden', `report rejected (${reason}): ${detail}`);
  };
  if (!bundleText) return refuse('unsigned', 'a result must carry a Sigstore bundle of its statement');
  let claim;
  try {
    const verified = await verifyBundle(report.bundle, [{ keyId: enrolment.keyId, publicKeyPem: enrolment.publicKeyPem }]);
    claim = parseRebuildStatement(verified.statement);
  } catch (e) {
    return refuse((e as { code?: string }).code ?? 'invalid-bundle', (e as Error).message);
  }
  const release = store.getRelease(rebuild.releaseId)!;
  if (claim.rebuildId !== rebuild.id || claim.releaseId !== rebuild.releaseId || claim.purl !== release.purl || claim.workerId !== rebuild.workerId) {
    return refuse('replayed', `statement is about ${claim.purl} release ${claim.releaseId} rebuild ${claim.rebuildId} by ${claim.workerId}, not ${release.purl} release ${release.id} rebuild ${rebuild.id} by ${rebuild.workerId}`);
  }
  if (claim.status !== report.status) return refuse('status-mismatch', `statement says ${claim.status}, report says ${report.status}`);
  if (report.status === 'succeeded') {
    const a = report.artifact!;
    const c = claim.artifact;
    if (!c || c.sha256 !== a.sha256 || c.sha512 !== a.sha512 || c.stabilizedSha256 !== a.stabilizedSha256) {
      return refuse('subject-mismatch', `statement subject ${c?.sha256 ?? '(none)'} does not match the reported artifact ${a.sha256}`);
    }
  }
  await blobs.put(bundleText);
  return bundleSha256!;
}
