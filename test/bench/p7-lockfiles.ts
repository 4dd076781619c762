import { pathToFileURL } from 'node:url';
import { pnpmLockedDependencies, MAX_PNPM_LOCK_ITEMS } from '../../builders/npm/src/pnpm-lock.js';
import { BERRY_HEAD, honestPnpm, honestYarnBerry, honestYarnV1, hostileYaml, hostileYarnV1, PNPM_HEAD, type Shape } from '../../builders/npm/src/testing/lockfile-shapes.js';
import { MAX_LOCKFILE_CHARS } from '../../builders/npm/src/locked-packages.js';
import { MAX_YARN_BERRY_ITEMS, MAX_YARN_LOCK_CHARS, yarnLockedDependencies } from '../../builders/npm/src/yarn-lock.js';
import { fmt, renderTable, standaloneOptions, stats, type BenchRow } from './report.js';

/** Options of benchP7. */
export interface P7Options {
  /** measured runs of each lockfile. @defaultValue 3 */
  runs?: number;
}

const MB = 1e6;
/** What the worker's event loop may be held up by one lockfile (heartbeats and queue lock renewals wait). */
const GOAL_MS = 3000;

type Reader = (text: string, registry: string) => { ok: true; packages: unknown[] } | { ok: false; message: string };

interface Case {
  id: string;
  reader: string;
  read: Reader;
  /** the lockfile as the package manager writes it: the baseline */
  honest: string;
  hostile: Shape[];
}

/** What a reader answered, in a few words. */
function answer(r: ReturnType<Reader>): string {
  return r.ok ? `read, ${r.packages.length} packages` : `refused: ${r.message.length > 60 ? `${r.message.slice(0, 57)}…` : r.message}`;
}

/**
 * The cases, each hostile shape the size of its honest lockfile: yarn 1 at its size cap; yarn 2+ and
 * pnpm (YAML, bounded by lines and list items too) as large as an honest lockfile gets within their
 * bound on items, with hostile ones just under the same bound.
 */
function cases(): Case[] {
  const v1 = honestYarnV1(MAX_YARN_LOCK_CHARS);
  const berry = honestYarnBerry(MAX_YARN_LOCK_CHARS, MAX_YARN_BERRY_ITEMS);
  const pnpm = honestPnpm(MAX_LOCKFILE_CHARS, MAX_PNPM_LOCK_ITEMS);
  return [
    { id: 'P7-yarn1', reader: 'yarn 1 reader', read: yarnLockedDependencies, honest: v1, hostile: hostileYarnV1(v1.length) },
    { id: 'P7-yarn2', reader: 'yarn 2+ reader', read: yarnLockedDependencies, honest: berry, hostile: hostileYaml(BERRY_HEAD, berry.length, MAX_YARN_BERRY_ITEMS - 100) },
    { id: 'P7-pnpm', reader: 'pnpm reader', read: pnpmLockedDependencies, honest: pnpm, hostile: hostileYaml(PNPM_HEAD, pnpm.length, MAX_PNPM_LOCK_ITEMS - 100) },
  ];
}

/** Milliseconds per MB of one read. */
function msPerMb(read: Reader, text: string): number {
  const start = performance.now();
  read(text, 'http://registry.test');
  return (performance.now() - start) / (text.length / MB);
}

/**
 * P7: the lockfile readers on lockfiles made to be slow (many short keys, long key lists, blank
 * lines, flow mappings on one line, …), in ms per MB, next to a lockfile of the same size as the
 * package manager writes it, in the same run and this process (the readers are synchronous and
 * pure: the worker runs them on its event loop as here). The readers are imported from the sources,
 * so that no build can be stale. One row per reader, for its slowest shape. Goal: that shape, at
 * the size measured, read or refused within 3 s.
 */
export async function benchP7(opts: P7Options = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 3;
  const rows: BenchRow[] = [];
  for (const c of cases()) {
    const texts = [c.honest, ...c.hostile.map(([, make]) => make())];
    const answers = texts.map((t) => answer(c.read(t, 'http://registry.test'))); // also the warm-up
    const samples: number[][] = texts.map(() => []);
    // every lockfile once per round, so that a noisy moment hits all of them
    for (let i = 0; i < runs; i++) texts.forEach((t, k) => samples[k]!.push(msPerMb(c.read, t)));
    const [honest, ...hostile] = samples as [number[], ...number[][]];
    const medians = hostile.map((s) => stats(s).median);
    const worst = medians.indexOf(Math.max(...medians));
    const sizeMb = c.honest.length / MB;
    const worstMs = medians[worst]! * (texts[worst + 1]!.length / MB);
    const shapes = c.hostile.map(([what], k) => `${what} ${medians[k]!.toFixed(0)} ms/MB (${answers[k + 1]})`).join('; ');
    rows.push({
      id: c.id,
      measure: `${c.reader}, ${sizeMb.toFixed(1)} MB lockfile: slowest of ${c.hostile.length} shapes made to be slow`,
      ours: fmt(hostile[worst]!, 'ms/MB', 0),
      baseline: `as written by the tool: ${fmt(honest, 'ms/MB', 0)}`,
      ratio: `${(medians[worst]! / stats(honest).median).toFixed(2)}×`,
      goal: `≤ ${GOAL_MS / 1000} s for the whole lockfile`,
      met: worstMs <= GOAL_MS,
      note: `slowest: ${c.hostile[worst]![0]}, ${(worstMs / 1000).toFixed(2)} s for the whole lockfile; honest one ${answers[0]}; ${shapes}`,
    });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const { runs } = await standaloneOptions();
  console.log(renderTable(await benchP7(runs !== undefined ? { runs } : {})));
}
