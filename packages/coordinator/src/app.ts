import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CoordinatorContext } from './context.js';
import { errorHandler } from './http-errors.js';
import { registerAdminRoutes } from './routes-admin.js';
import { registerAttestationRoutes } from './routes-attestations.js';
import { registerPublicRoutes } from './routes-public.js';
import { registerWorkerRoutes } from './routes-workers.js';

/** Builds the HTTP app without listening (tests call `inject()` or listen themselves). */
export function buildApp(ctx: CoordinatorContext, adminToken: string): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // the routes log what matters themselves; per-request lines would be mostly heartbeats
    logController: new LogController({ disableRequestLogging: true }),
    // unknown fields are an error to report, not something to drop silently
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'not-found', message: `no route ${req.method} ${req.url}` } });
  });
  registerPublicRoutes(app, ctx);
  registerWorkerRoutes(app, ctx);
  registerAttestationRoutes(app, ctx);
  registerAdminRoutes(app, ctx, adminToken);
  return app;
}
