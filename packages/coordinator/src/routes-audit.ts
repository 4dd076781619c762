import type { FastifyInstance, FastifyRequest } from 'fastify';
import { answerFor, AuditAnswerSchema, auditEntry, AuditRequestSchema, emptyAuditCounts, parseAnyPurl, type AuditAnswer, type AuditEntry, type AuditRequest } from '@quorum/core';
import { findBuilder } from '@quorum/ecosystems';
import { clientNetwork } from '@quorum/net';
import { API_TAGS, ERROR_RESPONSES } from './api-docs.js';
import type { CoordinatorContext } from './context.js';
import { ResponseCache } from './response-cache.js';
import type { SubmitterAuth } from './submitters.js';

const auditSchema = {
  summary: 'what answers for every release of a lockfile, its integrity checked',
  description:
    'Up to 20,000 versioned purls, each with the integrity the lockfile pins it by. A release whose pinned integrity is not that of the artifact the verdict is about is a mismatch. A malformed purl, an ecosystem the farm does not rebuild or a missing version is unknown with a note, never a failed request.',
  tags: [API_TAGS.consumers],
  body: AuditRequestSchema,
  response: { 200: AuditAnswerSchema, ...ERROR_RESPONSES },
};

/** The largest audit request: 20,000 purls with their integrity. */
const AUDIT_BODY_LIMIT = 8 * 2 ** 20;

/** Requests longer than this (a few thousand purls) are answered again each time, not kept by their text. */
const MAX_CACHED_REQUEST_CHARS = 256 * 1024;

/** Audit entries kept at most (a few hundred bytes each); the cache starts again beyond. */
const MAX_CACHED_ENTRIES = 100_000;

/** Why a purl asked about can have no verdict of this farm, if it cannot (no ecosystem, no version, a name its registry cannot have). */
function purlProblem(purl: string): { canonical: string } | { why: string } {
  let p: ReturnType<typeof parseAnyPurl>;
  try {
    p = parseAnyPurl(purl);
  } catch {
    return { why: 'not a valid purl' };
  }
  // a qualifier (repository_url above all) or subpath could name another artifact than this farm's registry's
  if (/[?#]/.test(purl)) return { why: 'names qualifiers or a subpath: the farm answers for plain purls of its own registries only' };
  const builder = findBuilder(p.type);
  if (!builder) return { why: `this farm rebuilds no ${p.type.slice(0, 40)} packages` };
  if (p.version === undefined) return { why: 'names no version' };
  const problem = builder.purlProblem(p);
  return problem ? { why: problem.slice(0, 200) } : { canonical: p.canonical };
}

/**
 * `POST /v1/audit`: what answers for every release a lockfile installs, in one request, with the
 * integrity the lockfile pins each by checked against the artifact the verdict is about.
 */
export function registerAuditRoutes(app: FastifyInstance, ctx: CoordinatorContext, submitters: SubmitterAuth): void {
  const { store, config } = ctx;
  // each entry as answered, kept while the store is unchanged: CI fleets audit the same lockfiles,
  // and an entry is a pure function of the purl and integrity asked and the stored rows
  const cached = new Map<string, AuditEntry>();
  let cachedStamp = '';
  const entryOf = (purl: string, integrity: string | undefined, stabilized: string | undefined, key: string): AuditEntry => {
    const stamp = store.changeStamp();
    if (stamp !== cachedStamp || cached.size >= MAX_CACHED_ENTRIES) {
      cached.clear();
      cachedStamp = stamp;
    }
    let entry = cached.get(key);
    if (!entry) {
      const named = purlProblem(purl);
      if ('why' in named) {
        entry = { purl, status: 'unknown', verdict: null, integrity: 'unchecked', releaseId: null, pending: false, note: named.why };
      } else {
        const releases = store.answerInputs(named.canonical);
        entry = auditEntry(purl, integrity, releases.length > 0 ? answerFor(named.canonical, releases) : undefined, stabilized);
      }
      cached.set(key, entry);
    }
    return entry;
  };
  // whole answers, by the request's exact text: CI fleets send the same lockfile's audit again and
  // again, and a repeated one then costs neither parsing, validation, lookups nor serializing
  const answers = new ResponseCache(() => store.changeStamp(), config.responseCacheMb * 2 ** 20);
  const texts = new WeakMap<FastifyRequest, string>();
  // in a scope of its own: no other route's JSON is parsed this way
  void app.register(async (scope) => {
    const parseJson = scope.getDefaultJsonParser('error', 'error');
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: AUDIT_BODY_LIMIT }, (req, body, done) => {
      texts.set(req, body as string);
      parseJson(req, body as string, done);
    });
    registerAudit(scope);
  });

  function registerAudit(scope: FastifyInstance): void {
    scope.post<{ Body: AuditRequest }>(
      '/v1/audit',
      {
        schema: auditSchema,
        bodyLimit: AUDIT_BODY_LIMIT,
        // a text answered before, with the store unchanged since, was valid then and is answered the same
        preValidation: async (req, reply) => {
          const text = texts.get(req);
          const hit = text !== undefined && text.length <= MAX_CACHED_REQUEST_CHARS ? answers.bytes(text) : undefined;
          if (hit) return reply.type('application/json; charset=utf-8').send(hit);
        },
        config: {
          rateLimit: {
            max: config.auditRatePerMinute,
            timeWindow: 60_000,
            allowList: (req: FastifyRequest) => submitters.tryIdentify(req) !== undefined,
            keyGenerator: (req: FastifyRequest) => clientNetwork(req.ip),
            // counted without saying so on every answer (three headers fewer per audit); a refused one
            // still carries its limit, reset and retry-after. The plugin reads this per route too.
            ...({ addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false } } as object),
          },
        },
      },
      async (req, reply) => {
        const stamp = store.changeStamp();
        const seen = new Set<string>();
        const entries: AuditEntry[] = [];
        const counts = emptyAuditCounts();
        for (const [i, asked] of req.body.packages.entries()) {
          // a large audit yields now and then, so that heartbeats and reports are not kept waiting
          if (i > 0 && i % 1000 === 0) await new Promise((r) => setImmediate(r));
          const key = `${asked.purl}\n${asked.integrity ?? ''}\n${asked.stabilizedSha256 ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const entry = entryOf(asked.purl, asked.integrity, asked.stabilizedSha256, key);
          counts[entry.status]++;
          entries.push(entry);
        }
        const answer: AuditAnswer = { entries, counts };
        const bytes = Buffer.from(JSON.stringify(answer), 'utf8');
        const text = texts.get(req);
        if (text !== undefined && text.length <= MAX_CACHED_REQUEST_CHARS) answers.putBytes(text, bytes, stamp);
        return reply.type('application/json; charset=utf-8').send(bytes);
      },
    );
  }
}
