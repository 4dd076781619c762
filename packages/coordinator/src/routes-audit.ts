import type { FastifyInstance, FastifyRequest } from 'fastify';
import { answerFor, AuditAnswerSchema, auditEntry, AuditRequestSchema, emptyAuditCounts, parseAnyPurl, type AuditAnswer, type AuditEntry, type AuditRequest, type PurlAnswer } from '@quorum/core';
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

/** Why a purl asked about can have no verdict of this farm, if it cannot (no ecosystem, no version, a name its registry cannot have). */
function purlProblem(purl: string): { canonical: string } | { why: string } {
  let p: ReturnType<typeof parseAnyPurl>;
  try {
    p = parseAnyPurl(purl);
  } catch {
    return { why: 'not a valid purl' };
  }
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
      const answers = new Map<string, PurlAnswer | undefined>();
      const seen = new Set<string>();
      const entries: AuditEntry[] = [];
      const counts = emptyAuditCounts();
      for (const asked of req.body.packages) {
        const key = `${asked.purl}\n${asked.integrity ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const named = purlProblem(asked.purl);
        let entry: AuditEntry;
        if ('why' in named) {
          entry = { purl: asked.purl, status: 'unknown', verdict: null, integrity: 'unchecked', releaseId: null, pending: false, note: named.why };
        } else {
          if (!answers.has(named.canonical)) {
            const releases = store.answerInputs(named.canonical);
            answers.set(named.canonical, releases.length > 0 ? answerFor(named.canonical, releases) : undefined);
          }
          entry = auditEntry(asked.purl, asked.integrity, answers.get(named.canonical));
        }
        counts[entry.status]++;
        entries.push(entry);
      }
      return { entries, counts };
    },
  );
}
