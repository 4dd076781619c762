/** The real-world run's table and summary, from the rows the harness collected (also `--json`). */
import { stats } from '../bench/report.js';

const PASSING = new Set(['reproducible', 'equivalent']);

/** What one release came to. */
export interface Row {
  purl: string;
  kind: string;
  planted: boolean;
  typescript: boolean;
  /** the verdict, or `timeout` / `error` when the harness got none */
  verdict: string;
  stabilizers: string[];
  risk?: { level: string; text: string };
  /** submission to decision */
  seconds: number;
  /** the slowest builder's container run */
  buildSeconds?: number;
  reason?: string;
  notes: string[];
  /** per builder that did not succeed: its reason, message and the end of its log */
  failures: { worker: string; reason: string; message: string; logTail: string[] }[];
  releaseId?: string;
}

/** The table, the summary and what kept releases from their expected verdict. */
export function render(rows: Row[], machine: string): string {
  const head = ['purl', 'kind', 'verdict', 'stabilizers', 'risk', 'time'];
  const body = rows.map((r) => [
    `${r.purl}${r.planted ? ' (planted)' : ''}`,
    `${r.kind}${r.typescript ? ' (ts)' : ''}`,
    r.verdict,
    r.stabilizers.join(', ') || '–',
    r.risk ? r.risk.level : '–',
    `${r.seconds.toFixed(0)} s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [`Machine: ${machine}`, '', line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line), ''];
  out.push(...summary(rows).map((s) => `- ${s}`));
  const failed = rows.filter((r) => (r.planted ? r.verdict !== 'mismatch' : !PASSING.has(r.verdict)));
  if (failed.length > 0) {
    out.push('', 'Not as expected (honest: not verified; planted: not mismatch), by cause:');
    for (const [cause, group] of groupBy(failed, causeOf)) {
      out.push(`- ${cause}: ${group.map((r) => r.purl.replace(/^pkg:npm\//, '')).join(', ')}`);
      for (const r of group) {
        const f = r.failures[0];
        out.push(`    ${r.purl.replace(/^pkg:npm\//, '')}${r.planted ? ' (planted)' : ''}: ${oneLine(f?.message || r.reason || '')}`);
      }
    }
  }
  const risky = rows.filter((r) => r.risk);
  if (risky.length > 0) out.push('', 'Risk of each mismatch:', ...risky.map((r) => `- ${r.purl}${r.planted ? ' (planted)' : ''}: ${oneLine(r.risk!.text)}`));
  return out.join('\n');
}

/** The summary lines: the goals of the run, each with its figure. */
export function summary(rows: Row[]): string[] {
  const honestRows = rows.filter((r) => !r.planted);
  const plantedRows = rows.filter((r) => r.planted);
  const verified = honestRows.filter((r) => PASSING.has(r.verdict));
  const honestMismatch = honestRows.filter((r) => r.verdict === 'mismatch');
  const caught = plantedRows.filter((r) => r.verdict === 'mismatch');
  const ts = honestRows.filter((r) => r.typescript && r.verdict !== 'timeout' && r.verdict !== 'error');
  const tsVerified = ts.filter((r) => PASSING.has(r.verdict));
  const median = (xs: Row[]) => (xs.length ? `${stats(xs.map((r) => r.seconds)).median.toFixed(0)} s` : 'n/a');
  const lines: string[] = [];
  if (honestRows.length) {
    lines.push(`honest releases verified (reproducible or equivalent): ${verified.length} of ${honestRows.length} (${((100 * verified.length) / honestRows.length).toFixed(0)}%; goal ≥ 90%)`);
    lines.push(`honest releases called mismatch: ${honestMismatch.length}${honestMismatch.length ? ` (${honestMismatch.map((r) => r.purl).join(', ')})` : ''} (goal 0)`);
    lines.push(`median time of a release with a TypeScript build: ${median(ts)} over ${ts.length} decided; ${median(tsVerified)} over the ${tsVerified.length} verified (goal < 60 s)`);
  }
  if (plantedRows.length) lines.push(`planted changes caught as mismatch: ${caught.length} of ${plantedRows.length} (goal all)`);
  return lines;
}

/** What kept a release from being verified, as one short label. */
function causeOf(r: Row): string {
  if (r.verdict === 'mismatch') return 'mismatch';
  if (r.verdict === 'unreproducible') return 'unreproducible';
  if (r.verdict === 'timeout' || r.verdict === 'error') return r.verdict;
  const reasons = [...new Set(r.failures.map((f) => f.reason))];
  if (reasons.length) return `failed: ${reasons.join(' / ')}`;
  return `failed: ${(r.reason ?? '').split(':')[0] || 'unknown'}`;
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

const oneLine = (s: string) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 299)}…` : t;
};
