import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import {
  packagePurl,
  parseAnyPurl,
  parseReleasePurl,
  QuorumError,
  refProblem,
  repoUrlProblem,
  type ReleaseRecord,
  type SourceOverrides,
  type SubmitReleaseRequest,
} from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import type { CoordinatorContext } from './context.js';
import { ResponseCache } from './response-cache.js';
import { releaseView, workerView } from './views.js';

/** what fastify sends for an object, so that a cached text goes out alike */
const JSON_TYPE = 'application/json; charset=utf-8';

const submitSchema = {
  body: {
    type: 'object',
    required: ['purl'],
    additionalProperties: false,
    properties: {
      purl: { type: 'string', minLength: 1, maxLength: 1000 },
      repo: { type: 'string', minLength: 1, maxLength: 2000 },
      ref: { type: 'string', minLength: 1, maxLength: 200 },
    },
  },
} as const;

/** Fetches registry metadata for a submission; 404 and transport errors become clear API errors. */
async function fetchMetadata(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(20_000), headers: { accept: 'application/json' } });
  } catch (e) {
    throw new QuorumError('upstream-unavailable', `registry unreachable at ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (res.status === 404) throw new QuorumError('not-found', `package not found in the registry (${url})`);
  if (!res.ok) throw new QuorumError('upstream-unavailable', `registry answered HTTP ${res.status} for ${url}`);
  try {
    return await res.json();
  } catch (e) {
    throw new QuorumError('upstream-unavailable', `registry sent invalid JSON for ${url}`, { cause: e });
  }
}

/** The API that maintainers, consumers and auditors use. */
export function registerPublicRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store, config } = ctx;

  // consumers poll these two; rendering a release costs several queries and a large serialization
  const answers = new ResponseCache(() => store.changeStamp(), config.responseCacheMb * 2 ** 20);
  const viewOfRecord = (release: ReleaseRecord) => releaseView(release, store.rebuildsOf(release.id), store.verdictHistory(release.id));
  const viewOf = (id: string) => {
    const release = store.getRelease(id);
    if (!release) throw new QuorumError('not-found', `no release with id ${id}`);
    return viewOfRecord(release);
  };

  app.post<{ Body: SubmitReleaseRequest }>('/v1/releases', { schema: submitSchema }, async (req, reply) => {
    const purl = parseReleasePurl(req.body.purl);
    const builder = builderFor(purl.type);
    const registry = config.registries[builder.ecosystem]!;
    const asked = purl.qualifiers.repository_url;
    if (asked && new URL(asked.includes('://') ? asked : `https://${asked}`).host !== new URL(registry).host) {
      throw new QuorumError('unknown-registry', `registry "${asked}" is not served by this farm; it rebuilds ${builder.ecosystem} releases from ${registry}`);
    }
    const overrides: SourceOverrides = {};
    if (req.body.repo) {
      const problem = repoUrlProblem(req.body.repo, config.allowLocalRepos);
      if (problem) throw new QuorumError('invalid-input', problem);
      overrides.repo = req.body.repo;
    }
    if (req.body.ref) {
      const problem = refProblem(req.body.ref);
      if (problem) throw new QuorumError('invalid-input', problem);
      overrides.ref = req.body.ref;
    }
    const metadata = await fetchMetadata(builder.metadataUrl(purl, registry));
    const inferred = builder.inferRecipe(purl, metadata, overrides);
    if (!inferred.ok && inferred.code === 'version-not-found') throw new QuorumError('not-found', inferred.message);
    if (!inferred.ok && inferred.code === 'no-artifact') throw new QuorumError('invalid-input', inferred.message);
    const id = randomUUID();
    store.insertRelease({
      id,
      purl: purl.canonical,
      packagePurl: packagePurl(purl),
      ecosystem: builder.ecosystem,
      overrides,
      policy: config.policy,
      ...(inferred.upstream ? { upstream: inferred.upstream } : {}),
      ...(inferred.ok ? {} : { problem: { code: inferred.code, message: inferred.message } }),
    });
    req.log.info({ releaseId: id, purl: purl.canonical }, 'release accepted');
    ctx.kick();
    return reply.status(202).header('location', `/v1/releases/${id}`).send(viewOf(id));
  });

  app.get<{ Params: { id: string } }>('/v1/releases/:id', async (req, reply) =>
    reply.type(JSON_TYPE).send(answers.json(`release ${req.params.id}`, () => viewOf(req.params.id))),
  );

  /** The file-level diff that explains the newest verdict (published vs rebuilt, or builder vs builder). */
  app.get<{ Params: { id: string } }>('/v1/releases/:id/diff', async (req, reply) => {
    const release = store.getRelease(req.params.id);
    if (!release) throw new QuorumError('not-found', `no release with id ${req.params.id}`);
    const sha256 = store.latestDiff(release.id);
    const bytes = sha256 ? await ctx.blobs.read(sha256) : undefined;
    if (!bytes) {
      const why = release.verdict ? `the verdict ${release.verdict.verdict} has no differences to explain` : `release ${release.id} is not decided yet`;
      throw new QuorumError('not-found', `no diff: ${why}`);
    }
    return reply.type('application/json').send(bytes);
  });

  app.get<{ Params: { purl: string } }>('/v1/packages/:purl', async (req, reply) => {
    const p = parseAnyPurl(req.params.purl);
    builderFor(p.type);
    const answer = answers.json(`package ${p.canonical}`, () => {
      const releases = store.releasesOf({ canonical: p.version ? p.canonical : packagePurl(p), versioned: p.version !== undefined });
      if (releases.length === 0) throw new QuorumError('not-found', `no release of ${p.canonical} has been submitted`);
      return { purl: p.canonical, releases: releases.map(viewOfRecord) };
    });
    return reply.type(JSON_TYPE).send(answer);
  });

  app.get<{ Params: { id: string } }>('/v1/rebuilds/:id/log', async (req, reply) => {
    const rebuild = store.getRebuild(req.params.id);
    if (!rebuild) throw new QuorumError('not-found', `no rebuild with id ${req.params.id}`);
    const stream = rebuild.logSha256 ? await ctx.blobs.open(rebuild.logSha256) : undefined;
    if (!stream) throw new QuorumError('not-found', `rebuild ${rebuild.id} has no log yet (state ${rebuild.state})`);
    return reply.type('text/plain; charset=utf-8').send(stream);
  });

  app.get('/v1/workers', async () => store.workers().map((w) => workerView(w, config.workerTimeoutMs)));

  app.get('/healthz', async (_req, reply) => {
    const redis = await ctx.queue.ping();
    return reply.status(redis ? 200 : 503).send({ ok: redis, redis, schemaVersion: store.schemaVersion() });
  });
}
