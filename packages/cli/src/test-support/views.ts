import { answerFor, type PackageView, type RebuildView, type ReleaseView, type Verdict, type VerdictRecord, type WorkerView } from '@quorum/core';

/** Fixed clock for rendering tests: 2025-01-01T00:01:00Z. */
export const NOW = Date.parse('2025-01-01T00:01:00.000Z');

const T0 = '2025-01-01T00:00:00.000Z';
const hex = (c: string) => c.repeat(64);

/** A rebuild view with sensible defaults. */
export function rebuild(over: Partial<RebuildView> & Pick<RebuildView, 'id' | 'workerId'>): RebuildView {
  const n = over.workerId.replace(/\D/g, '') || '1';
  return {
    operator: `operator-${n}`,
    state: 'assigned',
    attempt: 1,
    durations: {},
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

/** A successful rebuild whose artifact digest is `digestChar` repeated. */
export function built(id: string, workerId: string, digestChar: string, matches: RebuildView['matchesPublished'], totalMs = 42_000): RebuildView {
  return rebuild({
    id,
    workerId,
    state: 'succeeded',
    artifact: { filename: 'left-pad-1.3.0.tgz', size: 1234, sha256: hex(digestChar), sha512: hex(digestChar).repeat(2), stabilizedSha256: hex('f'), facets: {}, stabilizersApplied: [] },
    matchesPublished: matches,
    durations: { fetchMs: 2000, buildMs: totalMs - 2000, totalMs },
    logUrl: `/v1/rebuilds/${id}/log`,
    logBytes: 100,
    updatedAt: '2025-01-01T00:00:42.000Z',
  });
}

/** A verdict record. */
export function verdict(v: Verdict, over: Partial<VerdictRecord> = {}): VerdictRecord {
  return {
    verdict: v,
    reason: `reason for ${v}`,
    agreeing: [],
    agreeingCount: 0,
    stabilizers: [],
    decidedAt: '2025-01-01T00:00:50.000Z',
    ...over,
  };
}

/** A release view; `queued` with no rebuilds unless overridden. */
export function release(over: Partial<ReleaseView> = {}): ReleaseView {
  return {
    id: 'rel-1',
    purl: 'pkg:npm/left-pad@1.3.0',
    ecosystem: 'npm',
    state: 'queued',
    overrides: {},
    source: { origin: 'registry', repo: 'https://github.com/left-pad/left-pad.git', commit: 'a'.repeat(40), refs: [], toolchain: {}, steps: [] },
    canonical: true,
    policy: { builders: 3, quorum: 2, distinctOperators: true },
    verdictHistory: [],
    rebuilds: [],
    links: { self: '/v1/releases/rel-1', package: '/v1/packages/pkg%3Anpm%2Fleft-pad' },
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

/** queued → building (two running, one assigned) → building (one done) → decided with `v`. */
export function lifecycle(v: Verdict): ReleaseView[] {
  const running = [
    rebuild({ id: 'rb-1', workerId: 'worker-1', state: 'running' }),
    rebuild({ id: 'rb-2', workerId: 'worker-2', state: 'running' }),
    rebuild({ id: 'rb-3', workerId: 'worker-3', state: 'assigned' }),
  ];
  const finals: Record<Verdict, ReleaseView['rebuilds']> = {
    reproducible: [built('rb-1', 'worker-1', 'a', 'bitwise'), built('rb-2', 'worker-2', 'a', 'bitwise'), built('rb-3', 'worker-3', 'a', 'bitwise')],
    equivalent: [built('rb-1', 'worker-1', 'b', 'stabilized'), built('rb-2', 'worker-2', 'b', 'stabilized'), built('rb-3', 'worker-3', 'b', 'stabilized')],
    mismatch: [built('rb-1', 'worker-1', 'c', 'no'), built('rb-2', 'worker-2', 'c', 'no'), built('rb-3', 'worker-3', 'c', 'no')],
    unreproducible: [built('rb-1', 'worker-1', 'a', 'bitwise'), built('rb-2', 'worker-2', 'd', 'no'), built('rb-3', 'worker-3', 'e', 'no')],
    failed: [
      rebuild({ id: 'rb-1', workerId: 'worker-1', state: 'failed', reason: 'build-error', message: 'npm ERR! missing script: build', logUrl: '/v1/rebuilds/rb-1/log' }),
      rebuild({ id: 'rb-2', workerId: 'worker-2', state: 'failed', reason: 'timeout' }),
      built('rb-3', 'worker-3', 'a', 'bitwise'),
    ],
  };
  const agreeing: Record<Verdict, Partial<VerdictRecord>> = {
    reproducible: { agreeing: ['worker-1', 'worker-2', 'worker-3'], agreeingCount: 3, rebuiltSha256: hex('a') },
    equivalent: { agreeing: ['worker-1', 'worker-2', 'worker-3'], agreeingCount: 3, stabilizers: ['gzip-time', 'tar-times'], rebuiltSha256: hex('b') },
    mismatch: { agreeing: ['worker-1', 'worker-2', 'worker-3'], agreeingCount: 3, rebuiltSha256: hex('c') },
    unreproducible: {},
    failed: {},
  };
  const published = { size: 1234, sha256: hex('a'), sha512: hex('a').repeat(2), stabilizedSha256: hex('f'), facets: {}, stabilizersApplied: [] };
  const rec = verdict(v, agreeing[v]);
  return [
    release(),
    release({ state: 'building', published, rebuilds: running }),
    release({ state: 'building', published, rebuilds: [finals[v][0]!, running[1]!, rebuild({ id: 'rb-3', workerId: 'worker-3', state: 'running' })] }),
    release({ state: 'decided', published, rebuilds: finals[v], verdict: rec, verdictHistory: [rec], updatedAt: '2025-01-01T00:00:50.000Z' }),
  ];
}

/** A worker view. */
export function worker(over: Partial<WorkerView> & Pick<WorkerView, 'id'>): WorkerView {
  return { operator: 'operator-1', alive: true, lastSeenAt: '2025-01-01T00:00:55.000Z', images: {}, running: [], ...over };
}

/** The answer of `GET /v1/packages/:purl` for these releases, with the coordinator's own answer logic. */
export function packageView(purl: string, releases: ReleaseView[]): PackageView {
  const versions = [...new Set(releases.map((r) => r.purl))];
  const answers = versions.map((v) =>
    answerFor(
      v,
      releases
        .filter((r) => r.purl === v)
        .map((r) => ({
          id: r.id,
          createdAt: r.createdAt,
          canonical: r.canonical,
          decided: r.state === 'decided',
          ...(r.published ? { publishedSha256: r.published.sha256 } : {}),
          ...(r.verdict
            ? {
                verdict: {
                  verdict: r.verdict.verdict,
                  decidedAt: r.verdict.decidedAt,
                  reason: r.verdict.reason,
                  ...(r.verdict.risk ? { risk: { level: r.verdict.risk.level, text: r.verdict.risk.text } } : {}),
                },
              }
            : {}),
        })),
    ),
  );
  return { purl, answers, releases };
}
