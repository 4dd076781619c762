import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyIdOf } from '@quorum/attest';
import {
  EnrolWorkerAnswerSchema,
  EnrolWorkerRequestSchema,
  normalizeRepoDirectory,
  packagePurl,
  parseAnyPurl,
  QuorumError,
  RejectionViewSchema,
  repoDirectoryProblem,
  repoUrlProblem,
  SourceMappingRequestSchema,
  SourceMappingViewSchema,
  SubmitterRequestSchema,
  type EnrolWorkerRequest,
  type SourceMappingRequest,
  type SubmitterRequest,
} from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import type { AdminAuth } from './admin-auth.js';
import type { CoordinatorContext } from './context.js';
import { API_TAGS, ERROR_RESPONSES } from './api-docs.js';
import type { SubmitterAuth } from './submitters.js';

const admin = { tags: [API_TAGS.operators], security: [{ bearer: [] as string[] }] };

const enrolSchema = {
  ...admin,
  summary: "enrol a worker's key, or get a one-time enrolment token for it",
  body: EnrolWorkerRequestSchema,
  response: { 200: EnrolWorkerAnswerSchema, 201: EnrolWorkerAnswerSchema, ...ERROR_RESPONSES },
};
const submitterSchema = { ...admin, summary: 'issue a submit token (shown once)', body: SubmitterRequestSchema, response: ERROR_RESPONSES };
const mappingSchema = {
  ...admin,
  summary: "record where a package's source lives (used only when its registry entry declares none)",
  body: SourceMappingRequestSchema,
  response: { 200: SourceMappingViewSchema, ...ERROR_RESPONSES },
};

/** The package purl (no version, no qualifiers) a mapping is recorded for. */
function mappingPurl(raw: string): string {
  const p = parseAnyPurl(raw);
  const problem = builderFor(p.type).purlProblem({ ...p, version: undefined });
  if (problem) throw new QuorumError('invalid-purl', problem);
  return packagePurl(p);
}

/** Operator endpoints, behind the admin bearer token. */
/** Hands out a one-time enrolment token for a worker not enrolled yet; only its digest is kept. */
export function issueEnrolmentToken(ctx: CoordinatorContext, workerId: string, operator: string): { workerId: string; operator: string; token: string; expiresAt: string } {
  if (ctx.store.enrolment(workerId)) throw new QuorumError('conflict', `worker ${workerId} is already enrolled; give its public key to replace the key`);
  const token = randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + ctx.config.enrolTokenTtlMs).toISOString();
  ctx.store.addEnrolmentToken(workerId, operator, createHash('sha256').update(token).digest('hex'), expiresAt);
  return { workerId, operator, token, expiresAt };
}

export function registerAdminRoutes(app: FastifyInstance, ctx: CoordinatorContext, auth: AdminAuth, submitters: SubmitterAuth): void {
  const requireAdmin = (req: FastifyRequest) => {
    if (!auth.bearer(req)) throw new QuorumError('forbidden', 'admin endpoints need `Authorization: Bearer <admin token>` (QUORUM_ADMIN_TOKEN)');
  };

  /** Enrols a worker: with its public key directly, or by handing out a one-time token for it. */
  app.post<{ Body: EnrolWorkerRequest }>('/v1/admin/workers', { schema: enrolSchema }, async (req, reply) => {
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
    return reply.status(201).send(issueEnrolmentToken(ctx, workerId, operator));
  });

  /** Issues a submit token: its holder may override a release's source (override verdicts never answer for a purl). */
  app.post<{ Body: SubmitterRequest }>('/v1/admin/submitters', { schema: submitterSchema }, async (req, reply) => {
    requireAdmin(req);
    const token = submitters.issue(req.body.name);
    req.log.info({ submitter: req.body.name }, 'submit token issued');
    return reply.status(201).send({ name: req.body.name, token });
  });

  app.get('/v1/admin/submitters', { schema: { ...admin, summary: 'list submit tokens (names and dates)' } }, async (req) => {
    requireAdmin(req);
    return ctx.store.submitters();
  });

  app.delete<{ Params: { name: string } }>('/v1/admin/submitters/:name', { schema: { ...admin, summary: 'revoke a submit token', response: ERROR_RESPONSES } }, async (req) => {
    requireAdmin(req);
    if (!ctx.store.revokeSubmitter(req.params.name)) throw new QuorumError('not-found', `no active submitter ${req.params.name.slice(0, 64)}`);
    req.log.info({ submitter: req.params.name }, 'submit token revoked');
    return { name: req.params.name, revoked: true };
  });

  /**
   * Records where a package's source lives, for packages whose registry entry declares none. Such a
   * mapping counts as canonical; it is recorded with who made it and shown wherever it is used.
   */
  app.put<{ Body: SourceMappingRequest }>('/v1/admin/source-mappings', { schema: mappingSchema }, async (req, reply) => {
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

  app.delete<{ Params: { purl: string } }>('/v1/admin/source-mappings/:purl', { schema: { ...admin, summary: "remove a package's source mapping", response: ERROR_RESPONSES } }, async (req) => {
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
    {
      schema: {
        ...admin,
        summary: 'refused reports and requests, newest first',
        response: { 200: { type: 'array', items: RejectionViewSchema }, ...ERROR_RESPONSES },
        querystring: { type: 'object', additionalProperties: false, properties: { unauthenticated: { enum: ['0', '1'] }, limit: { type: 'string', pattern: '^[0-9]{1,4}$' } } },
      },
    },
    async (req) => {
      requireAdmin(req);
      return ctx.store.rejections(Math.min(Number(req.query.limit ?? 200), 1000), req.query.unauthenticated !== '1');
    },
  );
}
