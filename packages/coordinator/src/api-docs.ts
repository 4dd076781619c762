import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ApiErrorSchema } from '@quorum/core';

/** Groups of the API, in the order the docs page shows them. */
export const API_TAGS = {
  consumers: 'consumers',
  maintainers: 'maintainers',
  attestations: 'attestations',
  operators: 'operators',
  workers: 'worker contract',
} as const;

/** What every route answers on a refusal: documented once for all of them. */
export const ERROR_RESPONSES = { '4xx': ApiErrorSchema, '5xx': ApiErrorSchema } as const;

/**
 * The OpenAPI 3.1 document, generated from the routes' own schemas (`GET /openapi.json`), and a
 * page to read it (`GET /docs`), its assets served by the coordinator itself. Registered before any
 * route, so that every route is in it. Response schemas document the answers and never change
 * them: answers are serialized as they are (see `buildApp`).
 */
export function registerApiDocs(app: FastifyInstance, version: string): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Quorum coordinator API',
        version,
        description:
          'Submit releases for independent rebuilds, read M-of-N verdicts, audit lockfiles, fetch signed attestations. Every error is `{"error": {"code", "message"}}` with a 4xx/5xx status.',
      },
      tags: [
        { name: API_TAGS.consumers, description: 'what answers for a release, a package or a lockfile' },
        { name: API_TAGS.maintainers, description: 'submitting releases' },
        { name: API_TAGS.attestations, description: 'signed statements and the keys to check them' },
        { name: API_TAGS.operators, description: 'behind the admin token' },
        { name: API_TAGS.workers, description: 'signed calls of enrolled workers' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a submit token, or the admin token for operator endpoints' } } },
    },
  });
  void app.register(swaggerUi, {
    routePrefix: '/docs',
    // nothing leaves the coordinator: no validator service, no external assets
    uiConfig: { validatorUrl: null, deepLinking: true, docExpansion: 'list' },
    staticCSP: true,
  });
  void app.register(async (scope) => {
    scope.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  });
}
