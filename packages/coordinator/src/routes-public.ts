import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  answerFor,
  ID_PATTERN,
  isCanonicalOrigin,
  isQuorumError,
  packagePurl,
  parseAnyPurl,
  parseReleasePurl,
  readReleaseMetadata,
  QuorumError,
  refProblem,
  repoUrlProblem,
  type PackageView,
  type PinnedSource,
  type ReleaseRecord,
  type SourceOverrides,
  type SourceRecipe,
  type SubmitReleaseRequest,
  PackageViewSchema,
  ReleaseViewSchema,
  SubmitReleaseRequestSchema,
  WorkerViewSchema,
} from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import { clientNetwork, fetchBytes, fetchJson } from '@quorum/net';
import type { CoordinatorContext } from './context.js';
import type { StoredSourceMapping } from './sqlite-store.js';
import type { SubmitterAuth } from './submitters.js';
import { badgeFace, renderBadge } from './badge.js';
import { checkCallbackUrl } from './callbacks.js';
import { API_TAGS, ERROR_RESPONSES } from './api-docs.js';
import { ResponseCache } from './response-cache.js';
import { releaseView, workerView } from './views.js';

/** what fastify sends for an object, so that a cached text goes out alike */
const JSON_TYPE = 'application/json; charset=utf-8';

const submitSchema = {
  summary: 'submit a published release for independent rebuilds',
  description:
    'Answers 202 with the release (state queued) and its Location; an open canonical release of the same purl is answered instead of a second one. `repo`/`ref` need a submit token; anonymous submissions are rate-limited per client network.',
  tags: [API_TAGS.maintainers],
  security: [{}, { bearer: [] as string[] }] as { [label: string]: string[] }[],
  body: SubmitReleaseRequestSchema,
  response: { 202: ReleaseViewSchema, ...ERROR_RESPONSES },
};

const HealthSchema = { type: 'object', properties: { ok: { type: 'boolean' }, redis: { type: 'boolean' }, schemaVersion: { type: 'integer' } } } as const;

/** Fetches registry metadata for a submission; 404 and transport errors become clear API errors. */
async function fetchMetadata(ctx: CoordinatorContext, url: string, as: 'json' | 'text' | 'bytes'): Promise<unknown> {
  const opts = { policy: ctx.egress, timeoutMs: 20_000, maxBytes: 64 * 1024 * 1024 };
  const got = as === 'json' ? fetchJson(url, opts) : fetchBytes(url, opts).then((r) => (as === 'text' ? r.body.toString('utf8') : r.body));
  return got.catch((e: unknown) => {
    if (isQuorumError(e, 'not-found')) throw new QuorumError('not-found', 'package not found in the registry');
    throw e;
  });
}

/** Checks a `repository_url` qualifier against the farm's registry; a malformed one is a 400, never a crash. */
function checkRegistryQualifier(asked: string | undefined, registry: string, ecosystem: string): void {
  if (!asked) return;
  let host: string;
  try {
    host = new URL(asked.includes('://') ? asked : `https://${asked}`).host;
  } catch {
    throw new QuorumError('unknown-registry', `repository_url "${asked.slice(0, 200)}" is not a registry URL`);
  }
  if (host !== new URL(registry).host) {
    throw new QuorumError('unknown-registry', `registry "${asked.slice(0, 200)}" is not served by this farm; it rebuilds ${ecosystem} releases from ${registry}`);
  }
}

/** The pinned source of a new release, from the builder's inference. */
function pinnedFrom(source: SourceRecipe, toolchain: Record<string, string>, mapping: StoredSourceMapping | undefined, publishedAt: string | undefined): PinnedSource {
  return {
    origin: source.origin,
    repo: source.repo,
    ...(source.directory ? { directory: source.directory } : {}),
    ...(source.commit ? { commit: source.commit, found: 'commit' as const } : {}),
    refs: source.refs,
    ...(source.recorded ? { recorded: source.recorded } : {}),
    toolchain,
    steps: source.steps,
    ...(source.origin === 'mapping' && mapping ? { mapping: { by: mapping.by, createdAt: mapping.createdAt } } : {}),
    ...(publishedAt ? { publishedAt } : {}),
  };
}

/** The API that maintainers, consumers and auditors use. */
export function registerPublicRoutes(app: FastifyInstance, ctx: CoordinatorContext, submitters: SubmitterAuth): void {
  const { store, config } = ctx;

  // consumers poll these two; rendering a release costs several queries and a large serialization
  const answers = new ResponseCache(() => store.changeStamp(), config.responseCacheMb * 2 ** 20);
  const viewOfRecord = (release: ReleaseRecord) => releaseView(release, store.rebuildsOf(release.id), store.verdictHistory(release.id));
  const viewOf = (id: string) => {
    const release = ID_PATTERN.test(id) ? store.getRelease(id) : undefined;
    if (!release) throw new QuorumError('not-found', `no release with id ${id.slice(0, 64)}`);
    return viewOfRecord(release);
  };

  /** A token is accountable, not unlimited: its callbacks are rows kept and requests sent. */
  const checkCallbackCap = (submittedBy: string): void => {
    if (store.waitingCallbackCount(submittedBy) >= config.callbackMaxWaiting) {
      throw new QuorumError(
        'rate-limited',
        `submitter ${submittedBy} has ${config.callbackMaxWaiting} callbacks waiting (QUORUM_CALLBACK_MAX_WAITING); submit without a callback, or once some are delivered`,
      );
    }
  };

  app.post<{ Body: SubmitReleaseRequest }>(
    '/v1/releases',
    {
      schema: submitSchema,
      bodyLimit: 16 * 1024,
      config: {
        rateLimit: {
          max: config.submitRatePerMinute,
          timeWindow: 60_000,
          // authenticated submitters and operators are accountable; anonymous clients are limited per address
          allowList: (req: FastifyRequest) => submitters.tryIdentify(req) !== undefined,
          // one IPv6 host usually holds a whole /64: it counts as one client
          keyGenerator: (req: FastifyRequest) => clientNetwork(req.ip),
        },
      },
    },
    async (req, reply) => {
      const submittedBy = submitters.identify(req);
      const purl = parseReleasePurl(req.body.purl);
      const builder = builderFor(purl.type);
      const registry = config.registries[builder.ecosystem]!;
      checkRegistryQualifier(purl.qualifiers.repository_url, registry, builder.ecosystem);
      const unknown = Object.keys(purl.qualifiers).filter((k) => k !== 'repository_url');
      if (unknown.length > 0 || purl.subpath) {
        throw new QuorumError(
          'invalid-purl',
          `a release is named by type, name and version (and repository_url); ${unknown.length > 0 ? `qualifiers ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}` : 'a subpath'} ${unknown.length > 1 ? 'are' : 'is'} not supported`,
        );
      }
      const purlProblem = builder.purlProblem(purl);
      if (purlProblem) throw new QuorumError('invalid-purl', purlProblem);
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
      let callback: string | undefined;
      if (req.body.callback !== undefined) {
        if (!submittedBy)
          throw new QuorumError('unauthorized', 'a callback needs a submit token from an operator (Authorization: Bearer <token>): the coordinator calls only URLs of accountable submitters');
        callback = checkCallbackUrl(ctx, req.body.callback);
        checkCallbackCap(submittedBy);
      }
      const withCallback = (releaseId: string) => {
        if (callback && submittedBy) store.addCallback({ id: randomUUID(), releaseId, url: callback, submittedBy });
      };
      const overridden = overrides.repo !== undefined || overrides.ref !== undefined;
      if (overridden && !submittedBy) {
        throw new QuorumError(
          'unauthorized',
          'a source override (repo, ref) needs a submit token from an operator (Authorization: Bearer <token>; quorum admin submitter add); without one, submit the plain purl and the source the registry declares is used',
        );
      }
      if (!overridden) {
        // the same canonical release is already on its way: answer with it instead of building it twice
        const open = store.openReleaseOf(purl.canonical, true);
        if (open) {
          withCallback(open.id);
          return reply.status(202).header('location', `/v1/releases/${open.id}`).send(viewOf(open.id));
        }
      }
      if (!submittedBy && store.openReleaseCount() >= config.maxOpenReleases) {
        throw new QuorumError('unavailable', `the farm has ${config.maxOpenReleases} releases waiting; anonymous submissions are paused, retry later`);
      }
      const mapping = store.sourceMapping(packagePurl(purl));
      const metadata = await readReleaseMetadata(builder, purl, registry, (url, as) => fetchMetadata(ctx, url, as), config.builderSettings[builder.ecosystem]);
      // submissions made at once all passed the first check while this one waited: count again, with nothing awaited before the row is added
      if (callback && submittedBy) checkCallbackCap(submittedBy);
      const inferred = builder.inferRecipe(purl, metadata, overrides, mapping ? { repo: mapping.repo, ...(mapping.directory ? { directory: mapping.directory } : {}) } : undefined);
      if (!inferred.ok && inferred.code === 'version-not-found') throw new QuorumError('not-found', inferred.message);
      if (!inferred.ok && inferred.code === 'no-artifact') throw new QuorumError('invalid-input', inferred.message);
      const source = inferred.ok ? pinnedFrom(inferred.source, inferred.toolchain, mapping, inferred.publishedAt) : undefined;
      const id = randomUUID();
      store.insertRelease({
        id,
        purl: purl.canonical,
        packagePurl: packagePurl(purl),
        ecosystem: builder.ecosystem,
        overrides,
        policy: config.policy,
        canonical: source ? isCanonicalOrigin(source.origin) : !overridden,
        ...(source ? { source } : {}),
        ...(submittedBy ? { submittedBy } : {}),
        ...(inferred.upstream ? { upstream: inferred.upstream } : {}),
        ...(inferred.ok ? {} : { problem: { code: inferred.code, message: inferred.message } }),
      });
      withCallback(id);
      req.log.info({ releaseId: id, purl: purl.canonical, origin: source?.origin, submittedBy }, 'release accepted');
      ctx.kick();
      return reply.status(202).header('location', `/v1/releases/${id}`).send(viewOf(id));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/releases/:id',
    { schema: { summary: 'a release: state, verdict and its history, pinned source, per-builder results', tags: [API_TAGS.consumers], response: { 200: ReleaseViewSchema, ...ERROR_RESPONSES } } },
    async (req, reply) => reply.type(JSON_TYPE).send(answers.json(`release ${req.params.id}`, () => viewOf(req.params.id))),
  );

  /** The file-level diff that explains the newest verdict (published vs rebuilt, or builder vs builder). */
  app.get<{ Params: { id: string } }>(
    '/v1/releases/:id/diff',
    {
      schema: {
        summary: 'the file-level diff behind the newest verdict',
        description:
          'rebuilt vs published (mismatch, equivalent) or builder vs builder (unreproducible): added, removed and changed files with unified text diffs, digests for binaries, metadata-only differences',
        tags: [API_TAGS.consumers],
        response: { 200: { type: 'object', description: 'the artifact diff' }, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const release = ID_PATTERN.test(req.params.id) ? store.getRelease(req.params.id) : undefined;
      if (!release) throw new QuorumError('not-found', `no release with id ${req.params.id.slice(0, 64)}`);
      const sha256 = store.latestDiff(release.id);
      const bytes = sha256 ? await ctx.blobs.read(sha256) : undefined;
      if (!bytes) {
        const why = release.verdict ? `the verdict ${release.verdict.verdict} has no differences to explain` : `release ${release.id} is not decided yet`;
        throw new QuorumError('not-found', `no diff: ${why}`);
      }
      return reply.type('application/json').send(bytes);
    },
  );

  app.get<{ Params: { purl: string } }>(
    '/v1/packages/:purl',
    {
      schema: {
        summary: 'every release of a purl (URL-encoded), newest first, and what answers for each version',
        tags: [API_TAGS.consumers],
        response: { 200: PackageViewSchema, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      // keyed by the purl as asked: a hit costs no parsing (what fails to parse or is unknown is never kept)
      const answer = answers.json(`package ${req.params.purl}`, (): PackageView => {
        const p = parseAnyPurl(req.params.purl);
        const problem = builderFor(p.type).purlProblem(p);
        if (problem) throw new QuorumError('invalid-purl', problem);
        const which = { canonical: p.version ? p.canonical : packagePurl(p), versioned: p.version !== undefined };
        const releases = store.releasesOf(which);
        if (releases.length === 0) throw new QuorumError('not-found', `no release of ${p.canonical} has been submitted`);
        const versions = p.version ? [p.canonical] : store.versionsOf(packagePurl(p));
        const firstSeenAt = store.firstReleaseAt(which);
        return { purl: p.canonical, answers: versions.map((v) => answerFor(v, store.answerInputs(v))), releases: releases.map(viewOfRecord), ...(firstSeenAt ? { firstSeenAt } : {}) };
      });
      return reply.type(JSON_TYPE).send(answer);
    },
  );

  // a README's badge: what answers for the purl, as SVG; for a package, its newest canonical version,
  // unless an alarm stands for any of its versions
  app.get<{ Params: { badge: string } }>(
    '/v1/badges/:badge',
    {
      schema: {
        summary: 'a README badge for a purl: GET /v1/badges/<URL-encoded purl>.svg',
        description: 'SVG, Cache-Control public max-age=300, an ETag answered with 304',
        tags: [API_TAGS.consumers],
        response: { 200: { type: 'string', description: 'image/svg+xml' }, 304: { type: 'null', description: 'not modified' }, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const name = req.params.badge;
      if (!name.endsWith('.svg')) throw new QuorumError('not-found', 'a badge is served as /v1/badges/<URL-encoded purl>.svg');
      const raw = name.slice(0, -'.svg'.length);
      // a qualifier could name another registry, whose release this farm's verdict is not about
      if (/[?#]/.test(raw)) throw new QuorumError('invalid-purl', 'a badge names a package or a release without qualifiers or subpath');
      let known = false;
      const render = (): string => {
        const p = parseAnyPurl(raw);
        const problem = builderFor(p.type).purlProblem(p);
        if (problem) throw new QuorumError('invalid-purl', problem);
        const versions = p.version ? [p.canonical] : store.canonicalVersionsOf(packagePurl(p));
        const said = versions.map((v) => store.answerInputs(v)).flatMap((rs, i) => (rs.length > 0 ? [answerFor(versions[i]!, rs)] : []));
        known = said.length > 0;
        const alarmed = said.find((a) => a.alarms.length > 0 || a.verdict === 'mismatch');
        const { svg, etag } = renderBadge(badgeFace(alarmed ?? said[0]));
        return `${etag}\n${svg}`;
      };
      // keyed by the purl as asked: a hit costs no parsing; a purl nothing was submitted for is not
      // kept (random ones must not push real answers out), nor one that fails to parse
      const text = answers.text(`badge ${raw}`, render, () => known);
      const cut = text.indexOf('\n');
      const etag = text.slice(0, cut);
      // short-lived: a verdict can change the badge at any time, and an alarm must show soon
      reply.header('cache-control', 'public, max-age=300').header('etag', etag);
      const asked = req.headers['if-none-match'];
      if (typeof asked === 'string' && asked.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) return reply.code(304).send();
      return reply.type('image/svg+xml; charset=utf-8').send(text.slice(cut + 1));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/rebuilds/:id/log',
    { schema: { summary: 'the full build log of one rebuild', tags: [API_TAGS.consumers], response: { 200: { type: 'string', description: 'text/plain' }, ...ERROR_RESPONSES } } },
    async (req, reply) => {
      const rebuild = ID_PATTERN.test(req.params.id) ? store.getRebuild(req.params.id) : undefined;
      if (!rebuild) throw new QuorumError('not-found', `no rebuild with id ${req.params.id.slice(0, 64)}`);
      const stream = rebuild.logSha256 ? await ctx.blobs.open(rebuild.logSha256) : undefined;
      if (!stream) throw new QuorumError('not-found', `rebuild ${rebuild.id} has no log yet (state ${rebuild.state})`);
      return reply.type('text/plain; charset=utf-8').send(stream);
    },
  );

  app.get(
    '/v1/workers',
    { schema: { summary: 'enrolled workers, alive or not, with their builder image digests', tags: [API_TAGS.consumers], response: { 200: { type: 'array', items: WorkerViewSchema } } } },
    async () => store.workers().map((w) => workerView(w, config.workerTimeoutMs)),
  );

  app.get('/healthz', { schema: { summary: 'coordinator and Redis health', tags: [API_TAGS.operators], response: { 200: HealthSchema, 503: HealthSchema } } }, async (_req, reply) => {
    const redis = await ctx.queue.ping();
    return reply.status(redis ? 200 : 503).send({ ok: redis, redis, schemaVersion: store.schemaVersion() });
  });
}
