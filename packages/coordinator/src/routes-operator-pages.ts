import formBody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isQuorumError, WORKER_ID_PATTERN } from '@quorum/core';
import type { AdminAuth } from './admin-auth.js';
import type { CoordinatorContext } from './context.js';
import { enrolmentIssuedPage, operatorPage } from './dashboard-operator-pages.js';
import { problemPage } from './dashboard-pages.js';
import { issueEnrolmentToken } from './routes-admin.js';
import { sendPage } from './routes-dashboard.js';
import { isAlive } from './views.js';

/** Guesses of the admin token one address may make a minute through these pages. */
const OPERATOR_PAGE_RATE = { max: 60, timeWindow: 60_000 };

/** The operator pages: the admin token as an HTTP Basic password, answers never cached. */
export async function registerOperatorPages(app: FastifyInstance, ctx: CoordinatorContext, auth: AdminAuth): Promise<void> {
  await app.register(formBody, { bodyLimit: 4096 });
  const hidden = { hide: true };
  const config = { rateLimit: OPERATOR_PAGE_RATE };

  const send = (reply: FastifyReply, body: string, status = 200) => sendPage(reply.header('cache-control', 'no-store'), body, status);
  /** Answers 401 (the browser asks for the password) unless the request carries the admin token. */
  const refused = (req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    if (auth.basic(req)) return undefined;
    return send(
      reply.header('www-authenticate', 'Basic realm="Quorum operator", charset="UTF-8"'),
      problemPage('Operator pages', 'These pages need the admin token (QUORUM_ADMIN_TOKEN) as the password; any user name will do.'),
      401,
    );
  };

  app.get('/ui/operator', { schema: hidden, config }, async (req, reply) => {
    if (refused(req, reply)) return reply;
    const { store } = ctx;
    const workers = new Map(store.workers().map((w) => [w.id, w]));
    const rejections = store.rejections(200, true);
    const unauthenticated = store.rejections(200, false);
    const releaseOfRebuild = new Map<string, string>();
    for (const r of [...rejections, ...unauthenticated]) {
      if (!r.rebuildId || releaseOfRebuild.has(r.rebuildId)) continue;
      const rebuild = store.getRebuild(r.rebuildId);
      if (rebuild) releaseOfRebuild.set(r.rebuildId, rebuild.releaseId);
    }
    const nowMs = Date.now();
    return send(
      reply,
      operatorPage(
        {
          enrolled: store.enrolments().map(({ publicKeyPem: _key, ...e }) => {
            const w = workers.get(e.workerId);
            return { ...e, alive: w ? isAlive(w, ctx.config.workerTimeoutMs, nowMs) : undefined };
          }),
          pending: store.pendingEnrolments(),
          submitters: store.submitters(),
          mappings: store.sourceMappings(),
          rejections,
          unauthenticated,
          releaseOfRebuild,
          nowIso: new Date(nowMs).toISOString(),
        },
        auth.formToken,
      ),
    );
  });

  app.post<{ Body: Record<string, unknown> }>('/ui/operator/enrolments', { schema: hidden, config }, async (req, reply) => {
    if (refused(req, reply)) return reply;
    // a form posted from another site's page: the browser says so, and it cannot know the form token
    const site = req.headers['sec-fetch-site'];
    if ((site !== undefined && site !== 'same-origin' && site !== 'none') || !auth.formTokenMatches(req.body?.formToken)) {
      return send(reply, problemPage('Refused', 'This form must be sent from the operator page of this coordinator. Open the page again and send it from there.'), 403);
    }
    const workerId = typeof req.body.workerId === 'string' ? req.body.workerId.trim() : '';
    const operator = typeof req.body.operator === 'string' ? req.body.operator.trim() : '';
    if (!WORKER_ID_PATTERN.test(workerId)) return send(reply, problemPage('Not a worker id', `A worker id must match ${WORKER_ID_PATTERN.source}, e.g. worker-4.`), 400);
    if (operator === '' || operator.length > 100 || /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(operator)) {
      return send(reply, problemPage('Not an operator name', 'The operator is the party that runs the worker: 1 to 100 printable characters.'), 400);
    }
    try {
      const issued = issueEnrolmentToken(ctx, workerId, operator);
      req.log.info({ workerId, operator }, 'enrolment token issued from the operator page');
      return send(reply, enrolmentIssuedPage(issued, ctx.config.publicUrl), 201);
    } catch (e) {
      if (isQuorumError(e) && e.code === 'conflict') return send(reply, problemPage('Already enrolled', e.message), 409);
      throw e;
    }
  });
}
