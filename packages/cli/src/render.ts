import { movedTagWarning, riskDetail, RISK_LEVELS, type PurlAnswer, type RebuildView, type ReleaseView, type RiskLevel, type WorkerView } from '@quorum/core';
import { resolveApiUrl, type EnrolWorkerAnswer, type RejectionView } from './api-client.js';
import { safeText } from './terminal-text.js';

/** Length of digest prefixes in tables. @defaultValue 12 hex characters */
export const DIGEST_PREFIX = 12;

/** Longest reason/message shown in a table cell before it is cut. @defaultValue 60 */
export const MAX_CELL = 60;

const FINISHED_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'lost']);

/** Human duration: `850ms`, `12.3s`, `4m05s`, `1h02m`; `-` when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Age relative to `now`: `just now`, `12s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function formatAge(iso: string | undefined, now: number): string {
  const t = iso === undefined ? NaN : Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** First `n` hex characters of a digest, `-` when absent. */
export function shortDigest(hex: string | undefined, n = DIGEST_PREFIX): string {
  return hex ? hex.replace(/^sha256:/, '').slice(0, n) : '-';
}

/** First line of a text, terminal-safe (see safeText), cut to `max` characters with `...`. */
export function oneLine(text: string | undefined, max = MAX_CELL): string {
  if (!text) return '';
  // escaped before cutting, so an escape counts at the width it is shown with
  const first = safeText(
    String(text)
      .split(/\r?\n/)
      .find((l) => l.trim() !== '')
      ?.trim() ?? '',
  );
  return first.length > max ? `${first.slice(0, max - 3)}...` : first;
}

/** Aligns rows into columns separated by two spaces; no trailing spaces. Cells are made terminal-safe (see safeText). */
export function alignRows(rows: readonly (readonly string[])[]): string {
  // a cell is one line: a newline or control character in it must not start or redraw another
  const cells = rows.map((r) => r.map((c) => safeText(c ?? '')));
  const columns = Math.max(0, ...cells.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      widths
        .map((w, i) => (r[i] ?? '').padEnd(w))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Aligns rows under headers with two spaces between columns; no trailing spaces. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return alignRows([headers, ...rows]);
}

/** Rebuilds in a stable display order: by builder id, then attempt. */
export function sortRebuilds(rebuilds: readonly RebuildView[]): RebuildView[] {
  return [...rebuilds].sort((a, b) => a.workerId.localeCompare(b.workerId) || a.attempt - b.attempt || a.createdAt.localeCompare(b.createdAt));
}

/** Display name of a builder's attempt: its worker id, with `#n` from the second attempt on. */
export function builderLabel(r: RebuildView): string {
  return r.attempt > 1 ? `${r.workerId} #${r.attempt}` : r.workerId;
}

/** True once a rebuild will not change state any more. */
export function isFinished(r: RebuildView): boolean {
  return FINISHED_STATES.has(r.state);
}

/** How long a rebuild took (finished) or has been running so far (unfinished), in ms. */
export function rebuildElapsedMs(r: RebuildView, now: number): number | undefined {
  if (r.durations.totalMs !== undefined) return r.durations.totalMs;
  const start = Date.parse(r.createdAt);
  if (!Number.isFinite(start)) return undefined;
  const end = isFinished(r) ? Date.parse(r.updatedAt) : now;
  return Number.isFinite(end) ? Math.max(0, end - start) : undefined;
}

/** Words for `matchesPublished`. */
export function publishedMatch(m: RebuildView['matchesPublished']): string {
  switch (m) {
    case 'bitwise':
      return 'same (bitwise)';
    case 'stabilized':
      return 'same (stabilized)';
    case 'no':
      return 'DIFFERS';
    default:
      return '-';
  }
}

/** The reason of a failed or lost rebuild, with the first line of its message. */
export function failureText(r: RebuildView): string {
  const msg = oneLine(r.message);
  if (r.reason && msg) return oneLine(`${r.reason}: ${msg}`);
  return r.reason ?? (msg || (r.exitCode !== undefined ? `exit code ${r.exitCode}` : ''));
}

/** The one-cell summary of a rebuild: digest prefix and match when it built, reason when it did not. */
export function rebuildDetail(r: RebuildView): string {
  if (r.state === 'succeeded') {
    const digest = r.artifact ? `sha256 ${shortDigest(r.artifact.sha256)}` : 'no artifact digest';
    return r.matchesPublished ? `${digest} ${publishedMatch(r.matchesPublished)}` : digest;
  }
  if (r.state === 'failed' || r.state === 'lost') return failureText(r);
  return '';
}

/** Compact live table: builder, operator, state, reason or digest prefix, duration. */
export function renderProgressTable(rebuilds: readonly RebuildView[], now: number): string {
  const rows = sortRebuilds(rebuilds).map((r) => [builderLabel(r), r.operator, r.state, rebuildDetail(r), formatDuration(rebuildElapsedMs(r, now))]);
  return formatTable(['BUILDER', 'OPERATOR', 'STATE', 'RESULT', 'TIME'], rows);
}

/** `2/3 builders finished` style counter over the current attempts. */
export function finishedCount(view: ReleaseView): { finished: number; total: number } {
  const total = Math.max(view.policy?.builders ?? 0, view.rebuilds.filter((r) => r.state !== 'lost').length);
  const finished = view.rebuilds.filter((r) => r.state === 'succeeded' || r.state === 'failed').length;
  return { finished, total };
}

/** The live progress frame redrawn on a terminal: one header line and the builder table. */
export function renderProgress(view: ReleaseView, now: number): string {
  const { finished, total } = finishedCount(view);
  const started = Date.parse(view.createdAt);
  const elapsed = Number.isFinite(started) ? formatDuration(Math.max(0, now - started)) : '-';
  const state = view.state === 'decided' && view.verdict ? `decided: ${view.verdict.verdict}` : view.state;
  const head = safeText(`${view.purl}  release ${view.id}  ${state}  ${finished}/${total} builders finished  ${elapsed}`);
  if (view.rebuilds.length === 0) return `${head}\n(waiting for builders to be assigned)`;
  return `${head}\n${renderProgressTable(view.rebuilds, now)}`;
}

/** The per-builder table of a release report: artifact prefix, match with the published artifact, time, reason. */
export function renderBuilderTable(view: ReleaseView, now: number): string {
  const agreeing = new Set(view.verdict?.agreeing ?? []);
  const rows = sortRebuilds(view.rebuilds).map((r) => [
    `${agreeing.has(r.workerId) ? '*' : ' '} ${builderLabel(r)}`,
    r.operator,
    r.state,
    r.artifact ? shortDigest(r.artifact.sha256) : '-',
    publishedMatch(r.matchesPublished),
    formatDuration(rebuildElapsedMs(r, now)),
    r.state === 'succeeded' ? '' : failureText(r),
  ]);
  return formatTable(['  BUILDER', 'OPERATOR', 'STATE', 'SHA256', 'PUBLISHED', 'TIME', 'REASON'], rows);
}

/** Policy in words: `quorum 2 of 3 builders, distinct operators`. */
export function policyText(view: ReleaseView): string {
  const p = view.policy;
  if (!p) return '-';
  return `quorum ${p.quorum} of ${p.builders} builders, distinct ${p.distinctOperators ? 'operators' : 'builder ids'}`;
}

/**
 * A mismatch's risk in one line: `HIGH — install script postinstall added in package.json`. The
 * level is checked (anything else shows as `UNKNOWN`); the sentence still needs escaping.
 */
export function riskLine(risk: { level?: unknown; text?: unknown }): string {
  const level = RISK_LEVELS.includes(risk.level as RiskLevel) ? (risk.level as RiskLevel) : undefined;
  const text = typeof risk.text === 'string' ? (level ? riskDetail({ level, text: risk.text }) : risk.text) : '';
  return `${level ? level.toUpperCase() : 'UNKNOWN'}${text ? ` — ${text}` : ''}`;
}

/** One `label: value` line; the value may come from the coordinator, so it is escaped onto that one line. */
function field(label: string, value: string): string {
  return `${`${label}:`.padEnd(13)}${safeText(value)}`;
}

/** Options of renderReleaseReport. */
export interface ReportOptions {
  /** coordinator base URL, to make `logUrl`s absolute */
  server: string;
  /** current time, ms since the epoch */
  now: number;
  /** list log URLs @defaultValue true */
  logs?: boolean;
}

/**
 * Full report of one release: verdict, reason, agreeing builders, stabilizers, digests,
 * the per-builder table and log URLs. Used for the end of `submit --wait` and by `status`.
 */
export function renderReleaseReport(view: ReleaseView, opts: ReportOptions): string {
  const out: string[] = [];
  const v = view.verdict;
  if (view.canonical === false) {
    out.push(field('OVERRIDE', `built from a submitter's source${view.submittedBy ? ` (submitted by ${view.submittedBy})` : ''}, not the package's own: this verdict never answers for ${view.purl}`));
  }
  // a tag that moved since the farm first saw it leads the report, whatever the verdict
  const moved = view.source ? movedTagWarning(view.source) : undefined;
  if (moved) out.push(field('WARNING', moved.replace(/^WARNING: /, '')));
  if (v) {
    out.push(field('verdict', v.verdict));
    if (v.verdict === 'mismatch') {
      out.push(field('ALERT', `the published artifact differs from what ${v.agreeingCount} independent builders built from source`));
      // from the file-level diff; without one the verdict says nothing about risk
      if (v.risk && typeof v.risk === 'object') out.push(field('risk', riskLine(v.risk)));
    }
    out.push(field('reason', v.reason));
  } else {
    const { finished, total } = finishedCount(view);
    out.push(field('verdict', `not decided yet (${view.state}, ${finished}/${total} builders finished)`));
  }
  out.push(field('purl', view.purl));
  out.push(field('release', `${view.id} (submitted ${view.createdAt}${v ? `, decided ${v.decidedAt}` : ''})`));
  out.push(field('policy', policyText(view)));
  if (v) {
    out.push(field('agreeing', v.agreeing.length > 0 ? `${v.agreeing.join(', ')} (${v.agreeingCount} independent)` : 'none'));
    if (v.verdict === 'equivalent' || v.stabilizers.length > 0) {
      out.push(field('stabilizers', v.stabilizers.length > 0 ? v.stabilizers.join(', ') : '(none)'));
    }
  }
  if (view.published) out.push(field('published', `sha256 ${view.published.sha256} (${view.published.size} bytes)`));
  else if (view.upstream) out.push(field('published', view.upstream.url));
  if (v?.rebuiltSha256) out.push(field('rebuilt', `sha256 ${v.rebuiltSha256}`));
  const pinned = view.source;
  if (pinned) {
    const at = pinned.commit ? ` @ ${pinned.commit}${pinned.ref ? ` (${pinned.ref})` : ''}` : pinned.refs.length ? ` (tags ${pinned.refs.join(', ')})` : '';
    const origin =
      pinned.origin === 'registry'
        ? 'the registry'
        : pinned.origin === 'mapping'
          ? `an operator's mapping${pinned.mapping ? ` by ${pinned.mapping.by}, ${pinned.mapping.createdAt}` : ''}`
          : 'a submitter override';
    const how = pinned.found === 'history' ? '; commit found by history search: no tag of the release exists' : '';
    out.push(field('source', `${pinned.repo}${at}${pinned.directory ? ` [${pinned.directory}]` : ''} (from ${origin}${how})`));
  } else {
    const source = view.rebuilds.find((r) => r.source)?.source;
    if (source) out.push(field('source', `${source.repo} @ ${source.commit}${source.directory ? ` (${source.directory})` : ''}`));
  }
  if (view.problem) out.push(field('problem', `${view.problem.code}: ${view.problem.message}`));
  if (view.rebuilds.length > 0) {
    out.push('', renderBuilderTable(view, opts.now));
    if (v && v.agreeing.length > 0) out.push('(* = in the agreeing group)');
  }
  if (opts.logs !== false) {
    const logs = sortRebuilds(view.rebuilds).filter((r) => r.logUrl);
    if (logs.length > 0) {
      out.push('', 'logs (or: quorum logs <rebuild id>):');
      out.push(alignRows(logs.map((r) => [`  ${builderLabel(r)}`, r.id, resolveApiUrl(opts.server, r.logUrl!)])));
    }
  }
  return out.join('\n');
}

/**
 * The headline of a versioned purl: what answers for it (canonical sources only), unexplained
 * alarms (which stay in view), and how many override releases exist (which never answer).
 */
export function renderAnswer(answer: PurlAnswer): string {
  const out: string[] = [];
  const verdict = answer.verdict ?? (answer.pending ? 'not decided yet' : "none from the package's own source");
  out.push(field('answer', `${answer.purl}: ${verdict}${answer.pending && answer.verdict ? ' (a newer release is being verified)' : ''}`));
  if (answer.releaseId) out.push(field('from', `release ${answer.releaseId}${answer.artifactSha256 ? `, artifact sha256 ${answer.artifactSha256}` : ''}`));
  for (const alarm of answer.alarms) {
    out.push(
      field(
        'ALARM',
        `mismatch for artifact sha256 ${alarm.artifactSha256} (release ${alarm.releaseId}, ${alarm.decidedAt}): ${alarm.reason}; it stays until a later verdict from the package's own source reproduces that artifact`,
      ),
    );
    if (alarm.risk && typeof alarm.risk === 'object') out.push(field('risk', riskLine(alarm.risk)));
  }
  // the answer is the coordinator's word: an element it got wrong is skipped, never a crash that hides the alarms above
  for (const m of Array.isArray(answer.movedTags) ? answer.movedTags.filter(isMovedTag) : []) {
    const first = `${m.firstCommit}${m.firstSeenAt ? ` on ${m.firstSeenAt}` : ''}`;
    out.push(field('WARNING', `tag ${m.ref} moved: first seen at ${first}, now ${m.commit} (seen ${m.seenAt}, release ${m.releaseId}); releases stay pinned to the commit first seen`));
  }
  if (answer.sourceChanged)
    out.push(field('SOURCE', "the package's own source (repository, directory or commit) changed between its releases; a verdict from the new source cannot clear an alarm about the old one"));
  if (answer.overrideReleases > 0) out.push(field('overrides', `${answer.overrideReleases} release(s) built from a submitter's source; shown below, never the answer`));
  return out.join('\n');
}

/** A moved tag as the answer's shape says: the strings the WARNING line names (`firstSeenAt` optional). */
function isMovedTag(m: unknown): m is PurlAnswer['movedTags'][number] {
  if (typeof m !== 'object' || m === null) return false;
  const t = m as Record<string, unknown>;
  return ['ref', 'firstCommit', 'commit', 'seenAt', 'releaseId'].every((k) => typeof t[k] === 'string') && (t.firstSeenAt === undefined || typeof t.firstSeenAt === 'string');
}

/** Table of workers: id, operator, alive, last heartbeat, running rebuilds, builder images. */
export function renderWorkers(workers: readonly WorkerView[], now: number): string {
  if (workers.length === 0) return 'no workers have registered with the coordinator';
  const rows = [...workers]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((w) => [
      w.id,
      w.operator,
      w.alive ? 'alive' : 'gone',
      formatAge(w.lastSeenAt, now),
      w.running.length === 0 ? '-' : `${w.running.length} (${oneLine(w.running.join(', '), 40)})`,
      Object.entries(w.images)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([eco, digest]) => `${eco} ${shortDigest(digest)}`)
        .join(', ') || '-',
    ]);
  return formatTable(['WORKER', 'OPERATOR', 'STATUS', 'LAST SEEN', 'RUNNING', 'IMAGES'], rows);
}

/** Where a Quorum checkout keeps the worker's entry script, for the start command `admin enrol` prints. */
export const WORKER_ENTRY = 'packages/worker/dist/bin.js';

/**
 * What `quorum admin enrol` prints: the one-time token (or the enrolled key id) and the command that
 * starts the worker with it. REDIS_HOST and WORKER_DATA_DIR are placeholders the operator fills in.
 */
export function renderEnrolment(answer: EnrolWorkerAnswer, server: string): string {
  // every value is echoed by the coordinator: escaped, so none can add lines or control sequences
  const workerId = safeText(answer.workerId);
  const operator = safeText(answer.operator);
  const env = `QUORUM_WORKER_ID=${workerId} QUORUM_OPERATOR=${safeText(shellWord(answer.operator))} QUORUM_COORDINATOR_URL=${safeText(server)} \\\n  QUORUM_REDIS_URL=redis://REDIS_HOST:6379 QUORUM_DATA_DIR=WORKER_DATA_DIR`;
  if ('token' in answer) {
    const token = safeText(answer.token);
    return [
      `one-time enrolment token for ${workerId} (operator ${operator}), valid until ${safeText(answer.expiresAt)}:`,
      '',
      `  ${token}`,
      '',
      'Start the worker with it (from a Quorum checkout; fill in REDIS_HOST and WORKER_DATA_DIR). On its first',
      'start the worker enrols its own signing key (kept in WORKER_DATA_DIR/keys) with the token, which then',
      'cannot be used again:',
      '',
      `  QUORUM_ENROL_TOKEN=${token} ${env} \\\n  node ${WORKER_ENTRY}`,
    ].join('\n');
  }
  return [
    `enrolled ${workerId} (operator ${operator}) with key ${safeText(answer.keyId)}`,
    '',
    'Start the worker (from a Quorum checkout; fill in REDIS_HOST and WORKER_DATA_DIR) with the matching',
    'private key in WORKER_DATA_DIR/keys/signing-key.pem (mode 0600):',
    '',
    `  ${env} \\\n  node ${WORKER_ENTRY}`,
  ].join('\n');
}

/** A value as one shell word: unchanged when safe, else single-quoted. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9._,:/@%+=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Table of refused worker reports and enrolments, newest first as the coordinator lists them. */
export function renderRejections(list: readonly RejectionView[]): string {
  if (list.length === 0) return 'no rejected reports or enrolments';
  // a refusal nobody authenticated is attributable to no worker: its claims stay in DETAIL
  const rows = list.map((r) => [String(r.seq), r.at, r.authenticated === false ? '(unauthenticated)' : (r.workerId ?? '-'), r.rebuildId ?? '-', r.reason, oneLine(r.detail, 80)]);
  return formatTable(['SEQ', 'AT', 'WORKER', 'REBUILD', 'REASON', 'DETAIL'], rows);
}
