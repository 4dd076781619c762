import type { Static } from 'typebox';
import type { AnswerAlarmSchema, AnswerMovedTagSchema, AnswerRiskSchema, PurlAnswerSchema } from './api-schemas.js';
import type { RiskLevel } from './risk.js';
import { isPositiveVerdict, type Verdict } from './verdict.js';

/** What the answer for a purl needs to know about one of its releases. */
export interface AnswerRelease {
  id: string;
  /** submission time, ISO 8601 */
  createdAt: string;
  /** built from the package's own source (registry or operator mapping), not a submitter's override */
  canonical: boolean;
  decided: boolean;
  /** sha256 of the published artifact the release was judged about, when it could be fetched */
  publishedSha256?: string;
  /** sha512 of that artifact (what lockfiles pin it by) */
  publishedSha512?: string;
  /** sha256 of that artifact's stabilized form (what a lockfile pinning a dirhash pins it by) */
  publishedStabilizedSha256?: string;
  /** the source it was pinned to, as one comparable string (repository, directory, commit) */
  sourceKey?: string;
  verdict?: { verdict: Verdict; decidedAt: string; reason: string; risk?: AnswerRisk };
  /** the tag the release was pinned by moved after the farm first saw it */
  movedTag?: AnswerMovedTag;
}

/** A tag of the package's own source that moved after the farm first saw it. */
export type AnswerMovedTag = Static<typeof AnswerMovedTagSchema>;

/** The level and sentence of a mismatch's risk summary, as an alarm shows it. */
export type AnswerRisk = Static<typeof AnswerRiskSchema>;

/** A canonical `mismatch` that no later canonical verdict about the same artifact explained. */
export type AnswerAlarm = Static<typeof AnswerAlarmSchema>;

/** What answers for one versioned purl in every consumer view (status headline, attestations, verify, badges). */
export type PurlAnswer = Static<typeof PurlAnswerSchema>;

const byDecision = (a: AnswerRelease, b: AnswerRelease) => a.verdict!.decidedAt.localeCompare(b.verdict!.decidedAt) || a.createdAt.localeCompare(b.createdAt);

/**
 * Decides what answers for a purl from its releases (any order). Only canonical releases count.
 * A canonical mismatch is an alarm until a later canonical verdict reproduces the same artifact from
 * the same source (repository, directory, commit); later failures, disagreements, or a reproduction
 * from a source the registry declares only now, do not explain it. While any alarm stands, for any
 * artifact of the purl, the answer is `mismatch`. Otherwise the newest canonical verdict about the
 * current artifact (that of the newest canonical release) answers, a `failed` one (which says nothing
 * about content) only when no other was decided. Pure.
 */
export function answerFor(purl: string, releases: readonly AnswerRelease[]): PurlAnswer {
  const canonical = releases.filter((r) => r.canonical);
  const decided = canonical.filter((r) => r.decided && r.verdict).sort(byDecision);
  const newest = [...canonical].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const current = newest.find((r) => r.publishedSha256)?.publishedSha256 ?? null;

  const alarms: AnswerAlarm[] = [];
  for (const m of decided) {
    if (m.verdict!.verdict !== 'mismatch' || !m.publishedSha256) continue;
    const explained = decided.some((p) => p.publishedSha256 === m.publishedSha256 && p.sourceKey === m.sourceKey && isPositiveVerdict(p.verdict!.verdict) && byDecision(p, m) > 0);
    if (!explained) {
      const risk = m.verdict!.risk;
      alarms.push({
        releaseId: m.id,
        artifactSha256: m.publishedSha256,
        decidedAt: m.verdict!.decidedAt,
        reason: m.verdict!.reason,
        ...(risk ? { risk: { level: risk.level, text: risk.text } } : {}),
      });
    }
  }
  alarms.reverse();

  // one line per move (tag, from, to), as its newest sighting saw it
  const moves = new Map<string, AnswerMovedTag>();
  for (const r of [...canonical].sort((a, b) => b.createdAt.localeCompare(a.createdAt))) {
    const m = r.movedTag;
    const key = m && `${m.ref}\n${m.firstCommit}\n${m.commit}`;
    if (m && key && !moves.has(key)) moves.set(key, m);
  }

  const about = current === null ? decided : decided.filter((r) => r.publishedSha256 === current);
  // a failed verdict says nothing about content: it answers only when nothing else was decided
  const aboutContent = about.filter((r) => r.verdict!.verdict !== 'failed');
  const alarm = alarms[0];
  const answering = alarm ? decided.find((r) => r.id === alarm.releaseId) : (aboutContent[aboutContent.length - 1] ?? about[about.length - 1]);
  const artifactSha256 = answering?.publishedSha256 ?? current;
  return {
    purl,
    verdict: answering?.verdict?.verdict ?? null,
    releaseId: answering?.id ?? null,
    artifactSha256,
    artifactSha512: (artifactSha256 && canonical.find((r) => r.publishedSha256 === artifactSha256 && r.publishedSha512)?.publishedSha512) || null,
    artifactStabilizedSha256: (artifactSha256 && canonical.find((r) => r.publishedSha256 === artifactSha256 && r.publishedStabilizedSha256)?.publishedStabilizedSha256) || null,
    alarms,
    sourceChanged: new Set(canonical.filter((r) => r.sourceKey !== undefined).map((r) => r.sourceKey)).size > 1,
    movedTags: [...moves.values()],
    pending: newest.length > 0 && !newest[0]!.decided,
    overrideReleases: releases.length - canonical.length,
  };
}
