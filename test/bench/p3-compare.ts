import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertCompareBuilt, generateNpmTgz, runNodeScript, runProcess, type Finished } from './gen-tgz.js';
import { fmt, renderTable, standaloneOptions, stats, type BenchRow } from './report.js';

/** Options of benchP3. */
export interface P3Options {
  /** size of the generated `.tgz` in MB (10^6 bytes). @defaultValue 200 */
  sizeMb?: number;
  /** measured runs of each side; the figures are their median, min and max. @defaultValue 3 */
  runs?: number;
}

const MB = 1e6;
const MiB = 1024 * 1024;

// The analysis runs in a child process of its own so that its peak RSS is the analysis's alone.
// analyzeTgz is timed inside the child: process start and module loading are not part of it.
const ANALYZE = `
const { analyzeTgz } = await import('@quorum/compare');
const start = performance.now();
const r = await analyzeTgz(process.argv[1]);
const ms = performance.now() - start;
process.stdout.write(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, entries: r.entries.length }));
`;

// What any Node process streaming the same file needs: the same start and module loading, then
// node's own gunzip into sha256 with the same chunk sizes as the analysis, nothing kept.
const FLOOR = `
await import('@quorum/compare');
const { createReadStream } = await import('node:fs');
const { createGunzip } = await import('node:zlib');
const { createHash } = await import('node:crypto');
const { pipeline } = await import('node:stream/promises');
const h = createHash('sha256');
await pipeline(createReadStream(process.argv[1], { highWaterMark: ${MiB} }), createGunzip({ chunkSize: ${MiB} }), async (s) => { for await (const c of s) h.update(c); });
process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
`;

const IMPORT_ONLY = `
await import('@quorum/compare');
process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
`;

interface ChildResult {
  ms?: number;
  maxRssKiB: number;
  entries?: number;
}

function parseChild(f: Finished, what: string): ChildResult {
  if (f.code !== 0) throw new Error(`${what} failed (exit ${f.code}): ${f.stderr.trim().slice(-2000)}`);
  return JSON.parse(f.stdout) as ChildResult;
}

/**
 * P3: stabilized compare (`analyzeTgz`) of a generated npm-like `.tgz` of `sizeMb` MB, in a child
 * node process, against `gzip -dc FILE | sha256sum` on the same file in the same run. Two rows:
 * speed (MB/s of the compressed file; goal ≥ 50% of the baseline) and the child's peak RSS
 * (goal < 100 MB), the latter next to what a Node process needs to merely stream the same file.
 */
export async function benchP3(opts: P3Options = {}): Promise<BenchRow[]> {
  const sizeMb = opts.sizeMb ?? 200;
  const runs = opts.runs ?? 3;
  assertCompareBuilt();
  const dir = await mkdtemp(join(tmpdir(), 'quorum-bench-p3-'));
  try {
    const file = join(dir, 'package.tgz');
    const gen = await generateNpmTgz(file, { targetBytes: sizeMb * MB });
    const fileMb = gen.bytes / MB;

    const ours: ChildResult[] = [];
    const oursWall: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) {
      // alternate the two sides so that a noisy moment hits both
      const b = await runProcess('bash', ['-c', 'set -o pipefail; gzip -dc -- "$1" | sha256sum > /dev/null', 'bash', file]);
      if (b.code !== 0) throw new Error(`baseline failed: ${b.stderr}`);
      baseline.push(b.ms);
      const o = await runNodeScript(ANALYZE, [file]);
      ours.push(parseChild(o, 'analyzeTgz child'));
      oursWall.push(o.ms);
    }
    const floor = parseChild(await runNodeScript(FLOOR, [file]), 'floor child');
    const importOnly = parseChild(await runNodeScript(IMPORT_ONLY, []), 'import child');
    const smallYoung = parseChild(await runNodeScript(ANALYZE, [file], ['--max-semi-space-size=1']), 'analyzeTgz child (small young generation)');

    const oursMbs = ours.map((r) => fileMb / (r.ms! / 1000));
    const baseMbs = baseline.map((ms) => fileMb / (ms / 1000));
    const speedRatio = stats(oursMbs).median / stats(baseMbs).median;
    const toMb = (kib: number): number => (kib * 1024) / MB;
    const rss = ours.map((r) => toMb(r.maxRssKiB));
    const rssMedian = stats(rss).median;
    const floorMb = toMb(floor.maxRssKiB);
    const startup = stats(oursWall.map((w, i) => w - ours[i]!.ms!)).median;
    const entriesOk = ours.every((r) => r.entries === gen.files.length);

    return [
      {
        id: 'P3',
        measure: `stabilized compare (analyzeTgz) of a ${fileMb.toFixed(0)} MB .tgz, MB/s`,
        ours: fmt(oursMbs, 'MB/s', 0),
        baseline: fmt(baseMbs, 'MB/s', 0),
        ratio: `${speedRatio.toFixed(2)}×`,
        goal: '≥ 0.50× baseline speed',
        met: speedRatio >= 0.5 && entriesOk,
        note:
          `${gen.files.length} entries${entriesOk ? '' : ' (analysis found a different count!)'}, ${(gen.tarBytes / MB).toFixed(0)} MB of tar; ` +
          `analyzeTgz ${fmt(
            ours.map((r) => r.ms! / 1000),
            's',
          )} timed inside a child node process (its start and module loading, ${(startup / 1000).toFixed(2)} s, not counted); ` +
          `baseline: wall time of bash -c 'gzip -dc F | sha256sum', ${fmt(
            baseline.map((ms) => ms / 1000),
            's',
          )}`,
      },
      {
        id: 'P3-rss',
        measure: 'peak RSS of the analyzing process (baseline: node only gunzips the file)',
        ours: fmt(rss, 'MB', 0),
        baseline: `${floorMb.toFixed(0)} MB`,
        ratio: `+${(rssMedian - floorMb).toFixed(0)} MB`,
        goal: '< 100 MB',
        met: rssMedian < 100,
        note:
          `peak RSS = getrusage maxRSS at the child's end. node + import of @quorum/compare alone: ${toMb(importOnly.maxRssKiB).toFixed(0)} MB; ` +
          `streaming through node's zlib alone: ${floorMb.toFixed(0)} MB (V8 collects young Buffers about every 32 MB of them); ` +
          `the same analysis with node --max-semi-space-size=1 (V8 young generation capped): ${toMb(smallYoung.maxRssKiB).toFixed(0)} MB`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchP3(await standaloneOptions());
  console.log(renderTable(rows));
}
