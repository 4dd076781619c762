import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyIdOf, parseRebuildStatement, verifyBundle, type RebuildClaim } from '@quorum/attest';
import {
  AUTH_HEADER,
  BODY_SHA256_HEADER,
  ID_PATTERN,
  parseAuthHeader,
  pinnedSourceProblem,
  QuorumError,
  requestSignatureProblem,
  WORKER_ID_PATTERN,
  type RebuildReport,
  type RebuildSpec,
  type ReleaseRecord,
  type WorkerHeartbeat,
  MAX_NOTE_CHARS,
  MAX_REPORT_NOTES,
} from '@quorum/core';
import { API_TAGS } from './api-docs.js';
import type { CoordinatorContext } from './context.js';
import type { Enrolment, StoredRebuild } from './sqlite-store.js';

/** sha256 of an empty body: what a bodyless request declares. */
const EMPTY_SHA256 = createHash('sha256').digest('hex');

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: ID_PATTERN.source } },
} as const;
const workerParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: WORKER_ID_PATTERN.source } },
} as const;

const heartbeatSchema = {
  tags: [API_TAGS.workers],
  params: workerParams,
  body: {
    type: 'object',
    required: ['v', 'workerId', 'operator', 'images', 'running'],
    additionalProperties: false,
    properties: {
      v: { const: 1 },
      workerId: { type: 'string', pattern: WORKER_ID_PATTERN.source },
      operator: { type: 'string', minLength: 1, maxLength: 100 },
      images: { type: 'object', maxProperties: 32, additionalProperties: { type: 'string', maxLength: 100 } },
      running: { type: 'array', maxItems: 64, items: { type: 'string', pattern: ID_PATTERN.source } },
    },
  },
} as const;

const enrolSchema = {
  tags: [API_TAGS.workers],
  params: workerParams,
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
const shortStrings = { type: 'object', maxProperties: 32, additionalProperties: { type: 'string', maxLength: 200 } } as const;
const digestsSchema = {
  type: 'object',
  required: ['sha256', 'sha512', 'stabilizedSha256', 'size', 'facets'],
  properties: {
    ...digestProps,
    size: { type: 'integer', minimum: 0 },
    facets: { type: 'object', maxProperties: 64, additionalProperties: { type: 'string', maxLength: 128 } },
    stabilizersApplied: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 100 } },
  },
} as const;
const artifactSchema = {
  ...digestsSchema,
  required: [...digestsSchema.required, 'filename'],
  properties: { ...digestsSchema.properties, filename: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

const reportSchema = {
  tags: [API_TAGS.workers],
  params: idParams,
  body: {
    type: 'object',
    required: ['v', 'rebuildId', 'workerId', 'status', 'timings'],
    additionalProperties: false,
    properties: {
      v: { const: 1 },
      rebuildId: { type: 'string', pattern: ID_PATTERN.source },
      workerId: { type: 'string', pattern: WORKER_ID_PATTERN.source },
      status: { enum: ['succeeded', 'failed', 'error'] },
      reason: { type: 'string', maxLength: 200 },
      message: { type: 'string', maxLength: 10_000 },
      source: {
        type: 'object',
        required: ['origin', 'repo', 'commit', 'commitTime'],
        additionalProperties: false,
        properties: {
          origin: { enum: ['registry', 'mapping', 'override'] },
          repo: { type: 'string', maxLength: 2000 },
          commit: { type: 'string', pattern: '^[0-9a-f]{40}$' },
          ref: { type: 'string', maxLength: 200 },
          directory: { type: 'string', maxLength: 500 },
          commitTime: { type: 'integer' },
        },
      },
      toolchain: shortStrings,
      toolchainUsed: shortStrings,
      imageDigest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
      artifact: artifactSchema,
      upstream: digestsSchema,
      timings: {
        type: 'object',
        required: ['totalMs'],
        additionalProperties: false,
        properties: { totalMs: { type: 'number', minimum: 0 }, fetchMs: { type: 'number', minimum: 0 }, buildMs: { type: 'number', minimum: 0 } },
      },
      exitCode: { type: 'integer' },
      notes: { type: 'array', maxItems: MAX_REPORT_NOTES, items: { type: 'string', maxLength: MAX_NOTE_CHARS } },
      bundle: { type: 'object' },
    },
  },
} as const;

/** What the authentication hook learned about a request before its body was read. */
interface RequestAuth {
  enrolment: Enrolment;
  declared: { sha256: string; bytes: number };
}

/** Refusals recorded about one rebuild; more are only logged. */
const MAX_REJECTIONS_PER_REBUILD = 20;

/** The one body type each signed route reads (JSON unless listed). */
const BODY_TYPES: Record<string, string> = {
  '/v1/rebuilds/:id/artifact': 'application/octet-stream',
  '/v1/rebuilds/:id/log': 'text/plain',
};

/** Concurrent artifact uploads at once; more wait for a 503 and retry. @defaultValue 4 */
export const DEFAULT_MAX_CONCURRENT_UPLOADS = 4;

/** The small versioned contract workers use: enrol, heartbeat, queue credentials, start (spec), log, artifact, signed report. */
export function registerWorkerRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  void app.register(async (open) => registerEnrolment(open, ctx));
  void app.register(async (signed) => registerSignedRoutes(signed, ctx));
}

/** Enrolment is the one worker call made before the worker has an enrolled key: a one-time token authenticates it. */
function registerEnrolment(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store } = ctx;
  app.post<{ Params: { id: string }; Body: { token: string; operator: string; publicKey: string } }>(
    '/v1/workers/:id/enrol',
    { schema: enrolSchema, bodyLimit: 16 * 1024, config: { rateLimit: { max: 30, timeWindow: 60_000 } } },
    async (req) => {
      const workerId = req.params.id;
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
      const holder = store.enrolmentByKey(keyId);
      if (holder) throw new QuorumError('conflict', `that key is already enrolled for worker ${holder.workerId}`);
      const tokenSha256 = createHash('sha256').update(req.body.token).digest('hex');
      const operator = req.body.operator;
      if (!store.enrol(workerId, operator, keyId, req.body.publicKey, tokenSha256)) {
        store.recordRejection(
          { reason: 'bad-enrolment-token', detail: `enrolment claiming worker ${workerId} (operator ${operator}) with an unknown, used, expired or another operator's token` },
          false,
        );
        throw new QuorumError('forbidden', `enrolment token for ${workerId} is unknown, used, expired or for another operator`);
      }
      const enrolled = store.enrolment(workerId)!;
      if (enrolled.operator !== operator) throw new QuorumError('forbidden', `worker ${workerId} was enrolled for operator ${enrolled.operator}`);
      req.log.info({ workerId, operator, keyId }, 'worker enrolled');
      await ctx.queueUsers.grant(workerId, keyId).catch(() => undefined);
      return { workerId, operator, keyId };
    },
  );
}

/**
 * Routes only enrolled workers may call. Every request is authenticated from its headers (key id,
 * time, signature over method, path, time and the declared body digest and length) before a byte of
 * its body is read; the body is then checked against the declared digest.
 */
function registerSignedRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store, config } = ctx;
  const auths = new WeakMap<FastifyRequest, RequestAuth>();
  let uploads = 0;
  // one upload at a time per rebuild, and at most two per worker: a slow trickle holds little
  const uploading = new Set<string>();
  const uploadsByWorker = new Map<string, number>();

  const authOf = (req: FastifyRequest): RequestAuth => {
    const auth = auths.get(req);
    if (!auth) throw new QuorumError('forbidden', 'request is not authenticated');
    return auth;
  };

  app.addHook('onRequest', async (req) => {
    const header = req.headers[AUTH_HEADER];
    const parsed = parseAuthHeader(typeof header === 'string' ? header : undefined);
    if (typeof parsed === 'string') throw new QuorumError('forbidden', `worker request refused: ${parsed}`);
    const enrolment = store.enrolmentByKey(parsed.keyId);
    if (!enrolment) {
      store.recordRejection({ reason: 'unenrolled', detail: `${req.method} ${req.url.slice(0, 200)} signed by a key no worker is enrolled with` }, false);
      throw new QuorumError('forbidden', 'the signing key is not enrolled; an operator must enrol this worker (quorum admin enrol)');
    }
    const lengthHeader = req.headers['content-length'];
    const hasBody = lengthHeader !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && lengthHeader === undefined) throw Object.assign(new QuorumError('invalid-input', 'worker requests must declare their Content-Length'), { statusCode: 411 });
    const bytes = lengthHeader === undefined ? 0 : Number(lengthHeader);
    // each route reads one kind of body; any other is refused before a parser buffers it
    const wanted = BODY_TYPES[req.routeOptions.url ?? ''] ?? 'application/json';
    const given = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (bytes > 0 && given !== wanted) throw Object.assign(new QuorumError('invalid-input', `this worker call takes ${wanted}, not ${given || 'no content type'}`), { statusCode: 415 });
    const digestHeader = req.headers[BODY_SHA256_HEADER];
    const sha256 = typeof digestHeader === 'string' ? digestHeader : bytes === 0 ? EMPTY_SHA256 : '';
    if (bytes === 0 && sha256 !== EMPTY_SHA256) throw new QuorumError('invalid-input', 'an empty body must declare the digest of nothing');
    const problem = requestSignatureProblem(typeof header === 'string' ? header : undefined, enrolment, req.method, req.url, { sha256, bytes });
    if (problem) {
      // anyone can name an enrolled key id (they are public): nothing here is the worker's doing
      store.recordRejection({ reason: 'bad-request-signature', detail: `${req.method} ${req.url.slice(0, 200)} claiming the key of worker ${enrolment.workerId}: ${problem}` }, false);
      throw new QuorumError('forbidden', `request of worker ${enrolment.workerId} refused: ${problem}`);
    }
    auths.set(req, { enrolment, declared: { sha256, bytes } });
  });

  /** The body bytes as read, checked against what the signed headers declared. */
  const checkedBody = (req: FastifyRequest, body: Buffer): Buffer => {
    const { declared } = authOf(req);
    if (body.length !== declared.bytes || createHash('sha256').update(body).digest('hex') !== declared.sha256) {
      throw Object.assign(new QuorumError('invalid-input', 'the body does not match the digest its signature covers'), { statusCode: 400 });
    }
    return body;
  };

  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      const bytes = checkedBody(req, body as Buffer);
      done(null, bytes.length === 0 ? undefined : JSON.parse(bytes.toString('utf8')));
    } catch (e) {
      done(e instanceof QuorumError ? e : Object.assign(new Error(`body is not valid JSON: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      done(null, checkedBody(req, body as Buffer).toString('utf8'));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  // artifacts stream to disk; the digest is compared once the last byte arrived
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  /** The rebuild, if the authenticated worker is the one it was assigned to. */
  const ownRebuild = (req: FastifyRequest, rebuildId: string): StoredRebuild => {
    const { enrolment } = authOf(req);
    const rebuild = store.getRebuild(rebuildId);
    if (!rebuild) throw new QuorumError('not-found', `no rebuild with id ${rebuildId}`);
    if (rebuild.workerId !== enrolment.workerId) throw new QuorumError('forbidden', `rebuild ${rebuildId} is not assigned to worker ${enrolment.workerId}`);
    return rebuild;
  };

  app.post<{ Params: { id: string }; Body: WorkerHeartbeat }>('/v1/workers/:id/heartbeat', { schema: heartbeatSchema, bodyLimit: 64 * 1024 }, async (req) => {
    const { enrolment } = authOf(req);
    if (req.params.id !== enrolment.workerId || req.body.workerId !== enrolment.workerId) {
      throw new QuorumError('forbidden', `the key of worker ${enrolment.workerId} cannot speak for worker ${req.params.id}`);
    }
    if (enrolment.operator !== req.body.operator) throw new QuorumError('forbidden', `worker ${enrolment.workerId} is enrolled for operator ${enrolment.operator}`);
    store.upsertWorker(req.body);
    return { ok: true, workerTimeoutMs: config.workerTimeoutMs };
  });

  /** The worker's own Redis user (created or refreshed now): it reaches this worker's queue only. */
  app.post<{ Params: { id: string } }>('/v1/workers/:id/queue-credentials', { schema: { tags: [API_TAGS.workers], params: workerParams }, bodyLimit: 1024 }, async (req) => {
    const { enrolment } = authOf(req);
    if (req.params.id !== enrolment.workerId) throw new QuorumError('forbidden', `the key of worker ${enrolment.workerId} cannot speak for worker ${req.params.id}`);
    return ctx.queueUsers.grant(enrolment.workerId, enrolment.keyId);
  });

  /** Marks a rebuild running and answers its spec: the queue carries ids only. */
  app.post<{ Params: { id: string } }>('/v1/rebuilds/:id/started', { schema: { tags: [API_TAGS.workers], params: idParams }, bodyLimit: 1024 }, async (req) => {
    const rebuild = ownRebuild(req, req.params.id);
    if (rebuild.state !== 'assigned' && rebuild.state !== 'running') {
      throw new QuorumError('conflict', `rebuild ${rebuild.id} is ${rebuild.state}; do not build it`);
    }
    const release = store.getRelease(rebuild.releaseId)!;
    if (!release.source) throw new QuorumError('conflict', `release ${release.id} has no pinned source`);
    store.transitionRebuild(rebuild.id, ['assigned'], 'running');
    return { ok: true, spec: specOf(release, rebuild) };
  });

  app.put<{ Params: { id: string }; Body: string }>('/v1/rebuilds/:id/log', { schema: { tags: [API_TAGS.workers], params: idParams }, bodyLimit: config.maxLogBytes }, async (req) => {
    const rebuild = ownRebuild(req, req.params.id);
    if (rebuild.state !== 'assigned' && rebuild.state !== 'running') throw new QuorumError('conflict', `rebuild ${rebuild.id} is ${rebuild.state}; its log is final`);
    if (typeof req.body !== 'string') throw new QuorumError('invalid-input', 'the log is sent as text/plain');
    // a bounded number of logs per rebuild, claimed before anything is written: uploads cannot fill a disk
    const { declared } = authOf(req);
    if (!store.setRebuildLog(rebuild.id, declared.sha256, declared.bytes)) throw new QuorumError('conflict', `rebuild ${rebuild.id} sent its log too often`);
    const { sha256, bytes } = await ctx.blobs.put(req.body);
    return { ok: true, sha256, bytes };
  });

  app.put<{ Params: { id: string }; Body: NodeJS.ReadableStream }>(
    '/v1/rebuilds/:id/artifact',
    { schema: { tags: [API_TAGS.workers], params: idParams }, bodyLimit: config.maxArtifactBytes },
    async (req) => {
      const rebuild = ownRebuild(req, req.params.id);
      if (rebuild.state !== 'assigned' && rebuild.state !== 'running') throw new QuorumError('conflict', `rebuild ${rebuild.id} is ${rebuild.state}`);
      const { declared } = authOf(req);
      // a raw stream is not held to the route's body limit by fastify: the signed length is
      if (declared.bytes > config.maxArtifactBytes) throw Object.assign(new Error(`the artifact is over ${config.maxArtifactBytes} bytes`), { statusCode: 413 });
      if (rebuild.artifactSha256) throw new QuorumError('conflict', `rebuild ${rebuild.id} already uploaded its artifact`);
      if (await ctx.blobs.has(declared.sha256)) {
        // already here (e.g. another builder uploaded the same bytes): no need to read it again
        req.raw.resume();
        store.setRebuildArtifact(rebuild.id, declared.sha256);
        return { ok: true, sha256: declared.sha256 };
      }
      if (uploading.has(rebuild.id)) throw new QuorumError('conflict', `rebuild ${rebuild.id} is already uploading its artifact`);
      const byWorker = uploadsByWorker.get(rebuild.workerId) ?? 0;
      if (uploads >= config.maxConcurrentUploads || byWorker >= 2) throw new QuorumError('unavailable', 'too many artifact uploads at once; retry shortly');
      uploads++;
      uploading.add(rebuild.id);
      uploadsByWorker.set(rebuild.workerId, byWorker + 1);
      const tmpDir = join(config.dataDir, 'tmp');
      const file = join(tmpDir, `${randomUUID()}.upload`);
      try {
        await mkdir(tmpDir, { recursive: true });
        const hash = createHash('sha256');
        let bytes = 0;
        const meter = new Transform({
          transform(chunk: Buffer, _e, cb) {
            bytes += chunk.length;
            if (bytes > declared.bytes) return cb(new QuorumError('invalid-input', 'the body is longer than its signed length'));
            hash.update(chunk);
            cb(null, chunk);
          },
        });
        await pipeline(req.body, meter, createWriteStream(file));
        if (bytes !== declared.bytes || hash.digest('hex') !== declared.sha256) throw new QuorumError('invalid-input', 'the body does not match the digest its signature covers');
        if (!store.setRebuildArtifact(rebuild.id, declared.sha256)) throw new QuorumError('conflict', `rebuild ${rebuild.id} already uploaded its artifact`);
        if (!(await ctx.blobs.has(declared.sha256))) await ctx.blobs.adopt(file, declared.sha256);
        return { ok: true, sha256: declared.sha256 };
      } finally {
        uploads--;
        uploading.delete(rebuild.id);
        const left = (uploadsByWorker.get(rebuild.workerId) ?? 1) - 1;
        if (left > 0) uploadsByWorker.set(rebuild.workerId, left);
        else uploadsByWorker.delete(rebuild.workerId);
        await rm(file, { force: true });
      }
    },
  );

  app.post<{ Params: { id: string }; Body: RebuildReport & { bundle?: unknown } }>('/v1/rebuilds/:id/report', { schema: reportSchema, bodyLimit: 4 * 1024 * 1024 }, async (req) => {
    const report = req.body;
    const { enrolment } = authOf(req);
    if (report.rebuildId !== req.params.id) throw new QuorumError('invalid-input', 'rebuild id in path and body differ');
    if (report.workerId !== enrolment.workerId) throw new QuorumError('forbidden', `the key of worker ${enrolment.workerId} cannot report for worker ${report.workerId}`);
    const rebuild = ownRebuild(req, req.params.id);
    const target = report.status === 'succeeded' ? 'succeeded' : report.status === 'failed' ? 'failed' : 'lost';
    if (rebuild.state !== 'assigned' && rebuild.state !== 'running') {
      // at-least-once delivery: the same report again is fine, anything else about a closed rebuild conflicts
      const { bundle: _b, ...again } = report;
      if (rebuild.state === target && JSON.stringify(rebuild.report) === JSON.stringify(again)) return { ok: true, state: target };
      throw new QuorumError('conflict', `rebuild ${rebuild.id} is already ${rebuild.state}; report not accepted`);
    }
    const bundleText = report.status !== 'error' ? await checkSignedResult(ctx, report, rebuild, enrolment) : undefined;
    const { bundle: _bundle, ...stored } = report;
    // the verified bundle is stored first, then the rebuild closes with it in one transaction
    const bundleSha256 = bundleText ? (await ctx.blobs.put(bundleText)).sha256 : undefined;
    if (!store.closeRebuild(rebuild.id, target, stored, bundleSha256)) {
      // the rebuild closed while this report was checked (a concurrent report, the deadline)
      throw new QuorumError('conflict', `rebuild ${rebuild.id} is no longer open; report not accepted`);
    }
    req.log.info({ rebuildId: rebuild.id, releaseId: rebuild.releaseId, workerId: report.workerId, status: report.status, reason: report.reason }, 'rebuild reported');
    ctx.metrics?.rebuildReported(report.status, report.timings?.totalMs);
    ctx.kick();
    return { ok: true, state: target };
  });
}

/** The spec the assigned worker gets for one rebuild. */
export function specOf(release: ReleaseRecord, rebuild: StoredRebuild): RebuildSpec {
  const source = release.source!;
  return {
    v: 1,
    rebuildId: rebuild.id,
    releaseId: release.id,
    purl: release.purl,
    ecosystem: release.ecosystem,
    overrides: release.overrides,
    ...(source.origin === 'mapping' ? { mapping: { repo: source.repo, ...(source.directory ? { directory: source.directory } : {}) } } : {}),
    pinned: {
      origin: source.origin,
      repo: source.repo,
      ...(source.directory ? { directory: source.directory } : {}),
      ...(source.commit ? { commit: source.commit } : {}),
      ...(source.found ? { found: source.found } : {}),
    },
    ...(release.upstream ? { upstream: release.upstream } : {}),
    deadline: new Date(rebuild.deadlineMs ?? Date.now()).toISOString(),
  };
}

/** Why a statement's source or recipe differs from what the release pinned, if it does. */
export function bindingProblem(claim: RebuildClaim, release: ReleaseRecord): string | undefined {
  const pinned = release.source;
  if (!pinned) return `release ${release.id} has no pinned source`;
  const s = claim.source;
  if (!s) return claim.status === 'succeeded' ? 'a succeeded rebuild must name the source it built' : undefined;
  const drift = pinnedSourceProblem(pinned, s, 'statement names');
  if (drift) return drift;
  const asked = claim.recipeToolchain ?? {};
  const keys = new Set([...Object.keys(asked), ...Object.keys(pinned.toolchain)]);
  for (const k of keys) {
    if (asked[k] !== pinned.toolchain[k]) return `statement's recipe asks for ${k} ${asked[k] ?? '(none)'}, the release pinned ${pinned.toolchain[k] ?? '(none)'}`;
  }
  return undefined;
}

/**
 * Checks a result's Sigstore bundle: signed by the worker's enrolled key, a statement about this very
 * rebuild (not replayed from another), a subject equal to the reported digests, and the source and
 * recipe the release pinned. A refusal is recorded for auditors; a signed statement about another
 * source also makes the rebuild lost, so another builder replaces it (within the release's attempt
 * budget). Returns the bundle's text, which the caller stores once the report is accepted.
 */
async function checkSignedResult(ctx: CoordinatorContext, report: RebuildReport & { bundle?: unknown }, rebuild: StoredRebuild, enrolment: Enrolment): Promise<string> {
  const { store } = ctx;
  const bundleText = report.bundle === undefined ? undefined : JSON.stringify(report.bundle);
  const bundleSha256 = bundleText ? createHash('sha256').update(bundleText).digest('hex') : undefined;
  const refuse = (reason: string, detail: string, replace = false): never => {
    // enough evidence about one rebuild: a worker repeating itself cannot flush the others' records
    if (store.rejectionCount(rebuild.id) < MAX_REJECTIONS_PER_REBUILD) {
      store.recordRejection({ workerId: report.workerId, rebuildId: rebuild.id, reason, detail, ...(bundleSha256 ? { bundleSha256 } : {}) });
    }
    ctx.logger.warn({ workerId: report.workerId, rebuildId: rebuild.id, reason }, `report rejected: ${detail}`);
    if (replace) {
      // the worker provably built (or claims to have built) something else: its rebuild never
      // counts, and another builder is asked instead
      const lost: RebuildReport = {
        v: 1,
        rebuildId: rebuild.id,
        workerId: report.workerId,
        status: 'error',
        reason,
        message: `statement refused by the coordinator: ${detail}`,
        timings: { totalMs: 0 },
      };
      if (store.transitionRebuild(rebuild.id, ['assigned', 'running'], 'lost', lost)) ctx.kick();
    }
    throw new QuorumError('forbidden', `report rejected (${reason}): ${detail}`);
  };
  if (!bundleText) return refuse('unsigned', 'a result must carry a Sigstore bundle of its statement');
  let claim: RebuildClaim;
  try {
    const verified = await verifyBundle(report.bundle, [{ keyId: enrolment.keyId, publicKeyPem: enrolment.publicKeyPem }]);
    claim = parseRebuildStatement(verified.statement);
  } catch (e) {
    return refuse((e as { code?: string }).code ?? 'invalid-bundle', (e as Error).message);
  }
  const release = store.getRelease(rebuild.releaseId)!;
  if (claim.rebuildId !== rebuild.id || claim.releaseId !== rebuild.releaseId || claim.purl !== release.purl || claim.workerId !== rebuild.workerId) {
    return refuse(
      'replayed',
      `statement is about ${claim.purl} release ${claim.releaseId} rebuild ${claim.rebuildId} by ${claim.workerId}, not ${release.purl} release ${release.id} rebuild ${rebuild.id} by ${rebuild.workerId}`,
    );
  }
  if (claim.status !== report.status) return refuse('status-mismatch', `statement says ${claim.status}, report says ${report.status}`);
  if (rebuild.logSha256 && claim.log.sha256 !== rebuild.logSha256) return refuse('log-mismatch', `statement names log ${claim.log.sha256}, the uploaded log is ${rebuild.logSha256}`);
  if (report.status === 'succeeded') {
    const a = report.artifact;
    const c = claim.artifact;
    if (!a || !c || c.sha256 !== a.sha256 || c.sha512 !== a.sha512 || c.stabilizedSha256 !== a.stabilizedSha256) {
      return refuse('subject-mismatch', `statement subject ${c?.sha256 ?? '(none)'} does not match the reported artifact ${a?.sha256 ?? '(none)'}`);
    }
  }
  const reported = report.source;
  if (reported && claim.source && (reported.repo !== claim.source.repo || reported.commit !== claim.source.commit)) {
    return refuse('source-mismatch', `report names ${reported.repo}@${reported.commit}, its statement ${claim.source.repo}@${claim.source.commit}`, true);
  }
  const binding = bindingProblem(claim, release);
  if (binding) return refuse('source-mismatch', binding, true);
  return bundleText;
}
