import { readFileSync } from 'node:fs';
import rateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { QuorumError } from '@quorum/core';
import { AdminAuth } from './admin-auth.js';
import type { CoordinatorContext } from './context.js';
import { registerApiDocs } from './api-docs.js';
import { errorHandler } from './http-errors.js';
import { registerMetrics } from './metrics.js';
import { registerAdminRoutes } from './routes-admin.js';
import { registerAttestationRoutes } from './routes-attestations.js';
import { registerPublicRoutes } from './routes-public.js';
import { registerAuditRoutes } from './routes-audit.js';
import { registerDashboardRoutes } from './routes-dashboard.js';
import { registerOperatorPages } from './routes-operator-pages.js';
import { registerWorkerRoutes } from './routes-workers.js';
import { SubmitterAuth } from './submitters.js';

function coordinatorVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Builds the HTTP app without listening (tests call `inject()` or listen themselves). */
export function buildApp(ctx: CoordinatorContext, adminToken: string): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // the routes log what matters themselves; per-request lines would be mostly heartbeats
    logController: new LogController({ disableRequestLogging: true }),
    // a request that trickles holds a slot (an upload, a socket) for no longer than this
    requestTimeout: 10 * 60_000,
    // purls of long names and versions are one path segment
    routerOptions: { maxParamLength: 2048 },
    // unknown fields are an error to report, not something to drop silently
    // and a value of the wrong type is an error too, not something to coerce (["x"] is not "x")
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: false } },
  });
  app.setErrorHandler(errorHandler);
  // response schemas document the answers (OpenAPI) and never reshape them: a serializer built from
  // a schema drops fields it does not list, and an answer must say everything it says
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerApiDocs(app, coordinatorVersion());
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'not-found', message: `no route ${req.method} ${req.url.slice(0, 200)}` } });
  });
  // limits are declared per route (anonymous submissions); nothing else is limited by default
  void app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (req, context) =>
      req.url.startsWith('/v1/audit')
        ? new QuorumError('rate-limited', `too many audits from this address: at most ${context.max} a minute; retry in ${Math.ceil(context.ttl / 1000)} s, or audit with a submit token`)
        : req.url.startsWith('/v1/releases')
          ? new QuorumError(
              'rate-limited',
              `too many anonymous submissions from this address: at most ${context.max} a minute; retry in ${Math.ceil(context.ttl / 1000)} s, or submit with a submit token`,
            )
          : new QuorumError('rate-limited', `too many requests from this address: at most ${context.max} a minute; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
  if (ctx.metrics) registerMetrics(app, ctx.metrics);
  const submitters = new SubmitterAuth(ctx.store, adminToken);
  const adminAuth = new AdminAuth(adminToken);
  void app.register(async (scope) => {
    registerPublicRoutes(scope, ctx, submitters);
    registerAuditRoutes(scope, ctx, submitters);
    registerDashboardRoutes(scope, ctx);
    registerAttestationRoutes(scope, ctx);
    registerAdminRoutes(scope, ctx, adminAuth, submitters);
  });
  // the only routes that read form bodies, in a scope of their own
  void app.register(async (scope) => registerOperatorPages(scope, ctx, adminAuth));
  registerWorkerRoutes(app, ctx);
  return app;
}
