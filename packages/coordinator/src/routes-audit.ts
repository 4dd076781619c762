import type { FastifyInstance, FastifyRequest } from 'fastify';
import { answerFor, AuditAnswerSchema, auditEntry, AuditRequestSchema, emptyAuditCounts, parseAnyPurl, type AuditAnswer, type AuditEntry, type AuditRequest } from '@quorum/core';
import { findBuilder } from '@quorum/ecosystems';
import { clientNetwork } from '@quorum/net';
import { API_TAGS, ERROR_RESPONSES } from './api-docs.js';
import type { CoordinatorContext } from './context.js';
import type { SubmitterAuth } from './submitters.js';

const auditSchema = {
  summary: 'what answers for every release of a lockfile, its integrity checked',
  description:
    'Up to 20,000 versioned purls, each with the integrity the lockfile pins it by. A release whose pinned integrity is not that of the artifact the verdict is about is a mismatch. A malformed purl, an ecosystem the farm does not rebuild or a missing version is unknown with a note, never a failed request.',
  tags: [API_TAGS.consumers],
  body: AuditRequestSchema,
  response: { 200: AuditAnswerSchema, ...ERROR_RESPONSES },
};

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
  const entryOf = (purl: string, integrity: string | undefined, key: string): AuditEntry => {
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
        entry = auditEntry(purl, integrity, releases.length > 0 ? answerFor(named.canonical, releases) : undefined);
      }
      cached.set(key, entry);
    }
    return entry;
  };
  app.post<{ Body: AuditRequest }>(
    '/v1/audit',
    {
      schema: auditSchema,
      bodyLimit: 8 * 2 ** 20,
      config: {
        rateLimit: {
          max: config.auditRatePerMinute,
          timeWindow: 60_000,
          allowList: (req: FastifyRequest) => submitters.tryIdentify(req) !== undefined,
          keyGenerator: (req: FastifyRequest) => clientNetwork(req.ip),
        },
      },
    },
    async (req): Promise<AuditAnswer> => {
      const seen = new Set<string>();
      const entries: AuditEntry[] = [];
      const counts = emptyAuditCounts();
      for (const [i, asked] of req.body.packages.entries()) {
        // a large audit yields now and then, so that heartbeats and reports are not kept waiting
        if (i > 0 && i % 1000 === 0) await new Promise((r) => setImmediate(r));
        const key = `${asked.purl}\n${asked.integrity ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const entry = entryOf(asked.purl, asked.integrity, key);
        counts[entry.status]++;
        entries.push(entry);
      }
      return { entries, counts };
    },
  );
}
