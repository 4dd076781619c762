import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertCompareBuilt, generateNpmTgz, runNodeScript, runProcess, type Finished } from './gen-tgz.js';
import { fmt, renderTable, standaloneOptions, stats, type BenchRow } from './report.js';

/** Options of benchP6. */
export interface P6Options {
  /** size of each generated `.tgz` in MB (10^6 bytes). @defaultValue 20 */
  sizeMb?: number;
  /** measured runs of each side (diffoscope takes seconds per run). @defaultValue 3 */
  runs?: number;
}

const MB = 1e6;

// diffTgz in a child node process, like diffoscope in its own: both figures are whole-process wall
// times, start included; the diff alone is also timed inside the child
const DIFF = `
const { diffTgz } = await import('@quorum/compare');
const start = performance.now();
const d = await diffTgz(process.argv[1], process.argv[2]);
const ms = performance.now() - start;
const paths = [...d.added, ...d.removed, ...d.changed, ...d.metadataOnly].map((f) => f.path);
process.stdout.write(JSON.stringify({ ms, paths, kinds: d.changed.map((c) => c.kind), added: d.added.length, archive: d.archive }));
`;

interface DiffResult {
  ms: number;
  paths: string[];
  kinds: string[];
  added: number;
  archive: string[];
}

/** diffoscope's JSON report, as far as it is read here. */
interface DiffoscopeNode {
  source1?: string;
  source2?: string;
  unified_diff?: string | null;
  details?: DiffoscopeNode[];
}

/**
 * The archive members diffoscope flags: members with a difference node of their own (content), plus
 * the members on the `+`/`-` lines of its "file list" diffs (added, removed, or listed differently).
 */
function diffoscopeMembers(report: DiffoscopeNode): string[] {
  const found = new Set<string>();
  const walk = (n: DiffoscopeNode, depth: number): void => {
    // depth 0 is the pair of files given, depth 1 their decompressed content; below are members
    if (depth >= 2 && n.source1 === 'file list' && n.unified_diff) {
      for (const line of n.unified_diff.split('\n')) {
        if (!/^[+-]/.test(line) || line.startsWith('+++') || line.startsWith('---')) continue;
        const name = line.trim().split(/\s+/).pop();
        if (name) found.add(name.replace(/\/$/, ''));
      }
    } else if (depth >= 2 && n.source1 !== undefined && n.source1 !== 'file list') {
      found.add(n.source1);
      return; // below a member: its content's sub-reports (beautified JS, hexdumps)
    }
    for (const c of n.details ?? []) walk(c, depth + 1);
  };
  walk(report, 0);
  return [...found].sort();
}

/**
 * P6: explain a mismatch. Two generated npm-like tarballs of `sizeMb` MB that differ in three files
 * (a line injected into a text file, bytes changed in a binary, one file added), diffed file by file
 * with `diffTgz` and with `diffoscope` (Debian package diffoscope-minimal) in the same run. Goal: at
 * least 10× faster, and the same files flagged.
 */
export async function benchP6(opts: P6Options = {}): Promise<BenchRow[]> {
  const sizeMb = opts.sizeMb ?? 20;
  const runs = opts.runs ?? 3;
  assertCompareBuilt();
  const measure = `file-level diff of two ${sizeMb} MB .tgz differing in 3 files`;
  const version = await runProcess('diffoscope', ['--version']).catch(() => undefined);
  if (!version || version.code !== 0) {
    return [{ id: 'P6', measure, ours: '–', baseline: 'diffoscope not installed', ratio: '–', goal: '≥ 10× faster; same files flagged', note: 'install the Debian package diffoscope-minimal' }];
  }
  const dir = await mkdtemp(join(tmpdir(), 'quorum-bench-p6-'));
  try {
    const a = join(dir, 'published.tgz');
    const b = join(dir, 'rebuilt.tgz');
    const genA = await generateNpmTgz(a, { targetBytes: sizeMb * MB, seed: 6 });
    const text = genA.files.filter((f) => f.kind === 'text' && f.index > 0);
    const binary = genA.files.find((f) => f.kind === 'binary');
    const injected = text[Math.floor(text.length / 2)];
    if (!binary || !injected) throw new Error('the generated tarball has no binary file to change');
    const added = 'lib/install.js';
    await generateNpmTgz(b, { files: genA.files.length, seed: 6, mutations: { injectLineInto: injected.index, changeBinary: binary.index, addFile: added } });
    const expected = [injected.path, binary.path, `package/${added}`].sort();

    const ours: Finished[] = [];
    const results: DiffResult[] = [];
    const theirs: Finished[] = [];
    let flagged: string[] = [];
    for (let i = 0; i < runs; i++) {
      const o = await runNodeScript(DIFF, [a, b]);
      if (o.code !== 0) throw new Error(`diffTgz child failed (exit ${o.code}): ${o.stderr.trim().slice(-2000)}`);
      ours.push(o);
      results.push(JSON.parse(o.stdout) as DiffResult);
      const json = join(dir, 'diffoscope.json');
      // exit status 1 means "differences found"
      const d = await runProcess('diffoscope', ['--json', json, a, b]);
      if (d.code !== 1) throw new Error(`diffoscope failed (exit ${d.code}): ${d.stderr.trim().slice(-2000)}`);
      theirs.push(d);
      flagged = diffoscopeMembers(JSON.parse(await readFile(json, 'utf8')) as DiffoscopeNode);
      await rm(json, { force: true });
    }

    const oursS = ours.map((o) => o.ms / 1000);
    const theirsS = theirs.map((d) => d.ms / 1000);
    const speedup = stats(theirsS).median / stats(oursS).median;
    const mine = [...results[0]!.paths].sort();
    const same = JSON.stringify(mine) === JSON.stringify(flagged);
    const right = JSON.stringify(mine) === JSON.stringify(expected);
    const show = (paths: string[]): string => paths.map((p) => p.replace(/^package\//, '')).join(', ');
    return [
      {
        id: 'P6',
        measure,
        ours: fmt(oursS, 's'),
        baseline: fmt(theirsS, 's'),
        ratio: `${speedup.toFixed(1)}× faster`,
        goal: '≥ 10× faster; same files flagged',
        met: speedup >= 10 && same && right,
        note:
          `whole-process wall times (node + diffTgz vs diffoscope ${version.stdout.trim().replace(/^diffoscope /, '')} --json); diffTgz alone ${fmt(
            results.map((r) => r.ms / 1000),
            's',
          )}; ` +
          `files flagged ${same ? 'the same by both' : 'DIFFERENTLY'}: ours [${show(mine)}] (${results[0]!.kinds.join(' + ')} changed, ${results[0]!.added} added)` +
          `${same ? '' : `, diffoscope [${show(flagged)}]`}${right ? '' : `; expected [${show(expected)}]`}; ${genA.files.length} entries each`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchP6(await standaloneOptions());
  console.log(renderTable(rows));
}
