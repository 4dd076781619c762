import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyIdOf } from '@quorum/attest';
import { packagePurl, parseAnyPurl, QuorumError, repoDirectoryProblem, normalizeRepoDirectory, repoUrlProblem, WORKER_ID_PATTERN } from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import type { CoordinatorContext } from './context.js';
import { SUBMITTER_NAME_PATTERN, type SubmitterAuth } from './submitters.js';

const enrolSchema = {
  body: {
    type: 'object',
    required: ['workerId', 'operator'],
    additionalProperties: false,
    properties: {
      workerId: { type: 'string', pattern: WORKER_ID_PATTERN.source },
      operator: { type: 'string', minLength: 1, maxLength: 100 },
      publicKey: { type: 'string', minLength: 50, maxLength: 5000 },
    },
  },
} as const;

const submitterSchema = {
  body: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: { name: { type: 'string', pattern: SUBMITTER_NAME_PATTERN.source } },
  },
} as const;

const mappingSchema = {
  body: {
    type: 'object',
    required: ['purl', 'repo', 'by'],
    additionalProperties: false,
    properties: {
      purl: { type: 'string', minLength: 1, maxLength: 1000 },
      repo: { type: 'string', minLength: 1, maxLength: 2000 },
      directory: { type: 'string', maxLength: 500 },
      by: { type: 'string', minLength: 1, maxLength: 100 },
      note: { type: 'string', maxLength: 1000 },
    },
  },
} as const;

/** The package purl (no version, no qualifiers) a mapping is recorded for. */
function mappingPurl(raw: string): string {
  const p = parseAnyPurl(raw);
  const problem = builderFor(p.type).purlProblem({ ...p, version: undefined });
  if (problem) throw new QuorumError('invalid-purl', problem);
  return packagePurl(p);
}

/** Operator endpoints, behind the admin bearer token. */
export function registerAdminRoutes(app: FastifyInstance, ctx: CoordinatorContext, adminToken: string, submitters: SubmitterAuth): void {
  const expected = createHash('sha256').update(adminToken).digest();
  const requireAdmin = (req: FastifyRequest) => {
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!given || !timingSafeEqual(createHash('sha256').update(given).digest(), expected)) {
      throw new QuorumError('forbidden', 'admin endpoints need `Authorization: Bearer <admin token>` (QUORUM_ADMIN_TOKEN)');
    }
  };

  /** Enrols a worker: with its public key directly, or by handing out a one-time token for it. */
  app.post<{ Body: { workerId: string; operator: string; publicKey?: string } }>('/v1/admin/workers', { schema: enrolSchema }, async (req, reply) => {
    requireAdmin(req);
    const { workerId, operator, publicKey } = req.body;
    if (publicKey) {
      let keyId: string;
      try {
        keyId = keyIdOf(publicKey);
      } catch (e) {
        throw new QuorumError('invalid-input', `publicKey is not a PEM public key: ${(e as Error).message}`);
      }
      const holder = ctx.store.enrolmentByKey(keyId);
      if (holder && holder.workerId !== workerId) throw new QuorumError('conflict', `that key is already enrolled for worker ${holder.workerId}`);
      ctx.store.enrol(workerId, operator, keyId, publicKey);
      // a new key ends the old key's Redis access: a new password, and its open sessions closed
      await ctx.queueUsers.grant(workerId, keyId).catch(() => undefined);
      await ctx.queueUsers.disconnect(workerId);
      req.log.info({ workerId, operator, keyId }, 'worker enrolled by an operator');
      return reply.status(201).send({ workerId, operator, keyId });
    }
    if (ctx.store.enrolment(workerId)) throw new QuorumError('conflict', `worker ${workerId} is already enrolled; give its public key to replace the key`);
    const token = randomBytes(24).toString('base64url');
    const expiresAt = new Date(Date.now() + ctx.config.enrolTokenTtlMs).toISOString();
    ctx.store.addEnrolmentToken(workerId, operator, createHash('sha256').update(token).digest('hex'), expiresAt);
    return reply.status(201).send({ workerId, operator, token, expiresAt });
  });

  /** Issues a submit token: its holder may override a release's source (override verdicts never answer for a purl). */
  app.post<{ Body: { name: string } }>('/v1/admin/submitters', { schema: submitterSchema }, async (req, reply) => {
    requireAdmin(req);
    const token = submitters.issue(req.body.name);
    req.log.info({ submitter: req.body.name }, 'submit token issued');
    return reply.status(201).send({ name: req.body.name, token });
  });

  app.get('/v1/admin/submitters', async (req) => {
    requireAdmin(req);
    return ctx.store.submitters();
  });

  app.delete<{ Params: { name: string } }>('/v1/admin/submitters/:name', async (req) => {
    requireAdmin(req);
    if (!ctx.store.revokeSubmitter(req.params.name)) throw new QuorumError('not-found', `no active submitter ${req.params.name.slice(0, 64)}`);
    req.log.info({ submitter: req.params.name }, 'submit token revoked');
    return { name: req.params.name, revoked: true };
  });

  /**
   * Records where a package's source lives, for packages whose registry entry declares none. Such a
   * mapping counts as canonical; it is recorded with who made it and shown wherever it is used.
   */
  app.put<{ Body: { purl: string; repo: string; directory?: string; by: string; note?: string } }>('/v1/admin/source-mappings', { schema: mappingSchema }, async (req, reply) => {
    requireAdmin(req);
    const pkg = mappingPurl(req.body.purl);
    const repoProblem = repoUrlProblem(req.body.repo, ctx.config.allowLocalRepos);
    if (repoProblem) throw new QuorumError('invalid-input', repoProblem);
    let directory: string | undefined;
    if (req.body.directory !== undefined) {
      const problem = repoDirectoryProblem(req.body.directory);
      if (problem) throw new QuorumError('invalid-input', problem);
      directory = normalizeRepoDirectory(req.body.directory) || undefined;
    }
    const mapping = ctx.store.putSourceMapping({ packagePurl: pkg, repo: req.body.repo, ...(directory ? { directory } : {}), by: req.body.by, ...(req.body.note ? { note: req.body.note } : {}) });
    req.log.info({ purl: pkg, repo: mapping.repo, by: mapping.by }, 'source mapping recorded');
    return reply.status(201).send(mapping);
  });

  app.delete<{ Params: { purl: string } }>('/v1/admin/source-mappings/:purl', async (req) => {
    requireAdmin(req);
    const pkg = mappingPurl(req.params.purl);
    if (!ctx.store.deleteSourceMapping(pkg)) throw new QuorumError('not-found', `no source mapping for ${pkg}`);
    return { purl: pkg, deleted: true };
  });

  /**
   * Refused reports and requests, newest first, for auditors: those of enrolled workers by default,
   * `?unauthenticated=1` for requests nobody authenticated (kept apart, so they cannot crowd out the others).
   */
  app.get<{ Querystring: { unauthenticated?: string; limit?: string } }>(
    '/v1/admin/rejections',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: { unauthenticated: { enum: ['0', '1'] }, limit: { type: 'string', pattern: '^[0-9]{1,4}$' } } } } },
    async (req) => {
      requireAdmin(req);
      return ctx.store.rejections(Math.min(Number(req.query.limit ?? 200), 1000), req.query.unauthenticated !== '1');
    },
  );
}
