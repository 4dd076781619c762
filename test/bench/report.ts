/** One line of the benchmark table: our figure next to its baseline measured in the same run. */
export interface BenchRow {
  /** P1, P2, … (with a suffix for sub-measures, e.g. P4-100k) */
  id: string;
  measure: string;
  /** our figure, formatted (median, with min–max) */
  ours: string;
  /** the baseline's figure, formatted the same way */
  baseline: string;
  /** ours relative to the baseline, e.g. `0.83×` or `+0.42 s` */
  ratio: string;
  /** the goal, in words */
  goal: string;
  /** whether the goal was met; undefined when it does not apply */
  met?: boolean;
  note?: string;
}

/** Median, min and max of samples. */
export function stats(samples: number[]): { median: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** `median (min–max)` with a unit and a number of decimals. */
export function fmt(samples: number[], unit: string, digits = 2): string {
  const { median, min, max } = stats(samples);
  return samples.length > 1 ? `${median.toFixed(digits)} ${unit} (${min.toFixed(digits)}–${max.toFixed(digits)})` : `${median.toFixed(digits)} ${unit}`;
}

/** Renders rows as one aligned text table. */
export function renderTable(rows: BenchRow[]): string {
  const head = ['id', 'measure', 'ours', 'baseline (same run)', 'ratio', 'goal', 'met'];
  const body = rows.map((r) => [r.id, r.measure, r.ours, r.baseline, r.ratio, r.goal, r.met === undefined ? '–' : r.met ? 'yes' : 'NO']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.id}: ${r.note}`);
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

/** Peak resident set size (VmHWM) of a live process, in MiB, from /proc. */
export async function peakRssMiB(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : undefined;
}

/** `--size-mb N` and `--runs N` of a benchmark run on its own, as options for it. */
export async function standaloneOptions(): Promise<{ sizeMb?: number; runs?: number }> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { 'size-mb': { type: 'string' }, runs: { type: 'string' } } });
  return { ...(values['size-mb'] ? { sizeMb: Number(values['size-mb']) } : {}), ...(values.runs ? { runs: Number(values.runs) } : {}) };
}
