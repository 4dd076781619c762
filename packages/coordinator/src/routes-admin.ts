import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyIdOf } from '@quorum/attest';
import { QuorumError, WORKER_ID_PATTERN } from '@quorum/core';
import type { CoordinatorContext } from './context.js';

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

/** Operator endpoints, behind the admin bearer token. */
export function registerAdminRoutes(app: FastifyInstance, ctx: CoordinatorContext, adminToken: string): void {
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
      ctx.store.enrol(workerId, operator, keyId, publicKey);
      req.log.info({ workerId, operator, keyId }, 'worker enrolled by an operator');
      return reply.status(201).send({ workerId, operator, keyId });
    }
    if (ctx.store.enrolment(workerId)) throw new QuorumError('conflict', `worker ${workerId} is already enrolled; give its public key to replace the key`);
    const token = randomBytes(24).toString('base64url');
    const expiresAt = new Date(Date.now() + ctx.config.enrolTokenTtlMs).toISOString();
    ctx.store.addEnrolmentToken(workerId, operator, createHash('sha256').update(token).digest('hex'), expiresAt);
    return reply.status(201).send({ workerId, operator, token, expiresAt });
  });

  /** Refused reports and enrolments, newest first, for auditors. */
  app.get('/v1/admin/rejections', async (req) => {
    requireAdmin(req);
    return ctx.store.rejections();
  });
}
