import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { DEFAULT_LIMITS, parseReleasePurl, type BuildPlan, type FetchedInputs } from '@quorum/core';
import { npmBuilder } from '@quorum/builder-npm';
import { egressPolicy } from '@quorum/net';
import { FetchCache, fetchInputs, readPlanFiles } from '@quorum/worker';
import { makeGitPackage, type GitPackage } from '../fixtures/git-package.js';
import { managerCli, writeLockfile, writeTree, type ManagerCli } from '../fixtures/package-managers.js';
import { commitTime, packTarball } from '../fixtures/publish.js';
import { TEST_NODE, TEST_NPM, type LocalRegistry } from '../fixtures/registry-server.js';
import { ProcessFarm } from './farm-process.js';
import { plainRunFlags } from './plain-docker.js';
import { fmt, renderTable, type BenchRow } from './report.js';

/**
 * What a TypeScript project of the real world locks: its compiler and the test, lint and transpile
 * tools beside it (329 packages). Only `tsc` runs in the build; the rest is installed, as it is
 * when such a project is packed.
 */
const TS_DEV_DEPENDENCIES = {
  typescript: '5.4.5',
  eslint: '8.57.0',
  mocha: '10.4.0',
  '@types/node': '20.12.7',
  prettier: '3.2.5',
  rimraf: '5.0.5',
  chai: '4.4.1',
  sinon: '17.0.1',
  '@babel/core': '7.24.5',
  '@babel/preset-env': '7.24.5',
};
const PNPM = '9.15.0';
const YARN_CLASSIC = '1.22.22';
const PUBLIC_REGISTRY = 'https://registry.npmjs.org';

type Kind = 'ts-lockfile' | 'no-lockfile' | 'yarn' | 'pnpm';

interface RealRelease {
  kind: Kind;
  name: string;
  pkg: GitPackage;
  /** the lockfile the maintainer's pack used where the repository commits none */
  resolvedLock?: string;
}

function sources(name: string, i: number, devDependencies: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, string> {
  return {
    'package.json': `${JSON.stringify({ name, version: '1.0.0', license: 'MIT', main: 'dist/index.js', types: 'dist/index.d.ts', files: ['dist'], scripts: { build: 'tsc -p .' }, devDependencies, ...extra }, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify({ compilerOptions: { outDir: 'dist', declaration: true, sourceMap: true, module: 'commonjs', target: 'es2020', strict: true, types: [] }, include: ['src'] }, null, 2)}\n`,
    'src/index.ts': `export { parse, type Range } from './parse';\nexport { format } from './format';\nexport const release = ${i};\n`,
    'src/parse.ts':
      'export interface Range {\n  from: number;\n  to: number;\n}\n\nexport function parse(text: string): Range[] {\n  return text\n    .split(",")\n    .map((part) => part.trim())\n    .filter((part) => part.length > 0)\n    .map((part) => {\n      const [a, b] = part.split("-").map((n) => Number.parseInt(n, 10));\n      if (a === undefined || Number.isNaN(a)) throw new Error(`not a range: ${part}`);\n      return { from: a, to: b === undefined || Number.isNaN(b) ? a : b };\n    });\n}\n',
    'src/format.ts':
      'import type { Range } from "./parse";\n\nexport function format(ranges: readonly Range[]): string {\n  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(", ");\n}\n',
  };
}

/** Every package of the TypeScript project's dependency tree, copied from the public registry into the local one. */
async function mirrorTree(registry: LocalRegistry, work: string): Promise<number> {
  const dir = join(work, 'tree');
  await writeTree(dir, { 'package.json': JSON.stringify({ name: 'tree', version: '1.0.0', devDependencies: TS_DEV_DEPENDENCIES }) });
  await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', PUBLIC_REGISTRY], { cwd: dir });
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { name?: string; version?: string; link?: boolean }> };
  const wanted = new Set<string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path || entry.link || !entry.version) continue;
    // an alias (`npm:strip-ansi@^6`) is locked under its own path and named by what it is
    wanted.add(`${entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${entry.version}`);
  }
  const queue = [...wanted];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const at = next.lastIndexOf('@');
        await registry.mirror(next.slice(0, at), next.slice(at + 1));
      }
    }),
  );
  process.stderr.write(`bench: P2-real: ${wanted.size} packages of the TypeScript tree in the local registry\n`);
  return wanted.size;
}

/** An npm lockfile written by real npm against the local registry, as a maintainer writes it. */
async function npmLockfile(dir: string, registry: LocalRegistry): Promise<void> {
  await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', registry.url], {
    cwd: dir,
    env: { npm_config_omit_lockfile_registry_resolved: 'false' },
  });
}

/** Makes and publishes the releases: each packed in the builder image with its dependencies, as its maintainer would. */
async function makeReleases(registry: LocalRegistry, work: string, perKind: number, managers: Record<'yarn' | 'pnpm', ManagerCli>): Promise<RealRelease[]> {
  const out: RealRelease[] = [];
  const kinds: Kind[] = ['ts-lockfile', 'ts-lockfile', 'no-lockfile', 'yarn', 'pnpm'];
  let n = 0;
  for (const kind of kinds) {
    for (let i = 0; i < perKind; i++) {
      n++;
      const name = `real-${kind}-${n}`;
      const dir = join(work, 'src', name);
      // the no-lockfile project is small (its resolution runs in every rebuild); the others lock the whole tree
      const deps = kind === 'no-lockfile' ? { typescript: TS_DEV_DEPENDENCIES.typescript } : TS_DEV_DEPENDENCIES;
      const pm = kind === 'yarn' ? managers.yarn : kind === 'pnpm' ? managers.pnpm : undefined;
      await writeTree(dir, sources(name, n, deps, kind === 'pnpm' ? { packageManager: pm!.packageManager } : {}));
      let resolvedLock: string | undefined;
      if (pm) await writeLockfile(pm, dir, registry);
      else if (kind === 'ts-lockfile') await npmLockfile(dir, registry);
      const pkg = await makeGitPackage(dir, {}, 'v1.0.0');
      let packDir = dir;
      if (kind === 'no-lockfile') {
        // the maintainer's pack installed what the registry held then; the lockfile is not committed
        packDir = await mkdtemp(join(work, 'pack-'));
        await cp(dir, packDir, { recursive: true, filter: (s) => !/[/]\.git([/]|$)/.test(s) });
        await npmLockfile(packDir, registry);
        resolvedLock = await readFile(join(packDir, 'package-lock.json'), 'utf8');
      }
      const tarball = await packTarball(packDir, 'image', await commitTime(pkg), { registry: registry.url });
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
      registry.publish({ tarball, manifest: { ...manifest, repository: { type: 'git', url: pkg.url } } });
      out.push({ kind, name, pkg, ...(resolvedLock ? { resolvedLock } : {}) });
      process.stderr.write(`bench: P2-real: published ${name}\n`);
    }
  }
  return out;
}

/** One container of the baseline: the plan the builder makes for the release, as plain `docker run` arguments. */
interface LoopRun {
  release: string;
  /** its arguments, given the output directory of one run */
  args(out: string): string[];
}

/**
 * The same builds without the farm: the builder's own plan for each release (same image, same
 * script, same inputs fetched beforehand, the source without its history), run by `docker run`.
 */
async function loopRuns(releases: RealRelease[], registry: LocalRegistry, work: string, image: string): Promise<LoopRun[]> {
  const cache = new FetchCache(join(work, 'loop-cache'), 4 * 2 ** 30);
  const runs: LoopRun[] = [];
  for (const r of releases) {
    const src = join(work, 'loop-src', r.name);
    await cp(r.pkg.dir, src, { recursive: true, filter: (s) => !/[/]\.git([/]|$)/.test(s) });
    const files = await readPlanFiles(src, npmBuilder.planFiles, src);
    if (r.resolvedLock) files['package-lock.json'] = r.resolvedLock;
    const toolchain = { node: TEST_NODE, npm: TEST_NPM };
    const decision = npmBuilder.decideInputs(files, toolchain, registry.url, { version: '1.0.0' });
    if (decision.problem) throw new Error(`P2-real baseline for ${r.name}: ${decision.problem.message}`);
    const inputsDir = join(work, 'loop-inputs', r.name);
    await mkdir(inputsDir, { recursive: true });
    const fetched = await fetchInputs(npmBuilder, registry.url, decision, inputsDir, () => undefined, new AbortController().signal, egressPolicy({ open: true }), cache);
    let inputs: FetchedInputs = fetched;
    if (r.resolvedLock) {
      await mkdir(join(inputsDir, 'resolved'));
      await writeFile(join(inputsDir, 'resolved/package-lock.json'), r.resolvedLock);
      inputs = { ...fetched, resolvedLockfile: 'resolved/package-lock.json' };
    }
    const plan: BuildPlan = npmBuilder.plan({
      purl: parseReleasePurl(`pkg:npm/${r.name}@1.0.0`),
      source: { origin: 'registry', repo: r.pkg.url, commit: r.pkg.commit, commitTime: await commitTime(r.pkg) },
      toolchain,
      image,
      limits: DEFAULT_LIMITS,
      inputs,
    });
    const env = Object.entries(plan.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const limits = [
      '--memory',
      String(plan.limits.memoryBytes),
      '--memory-swap',
      String(plan.limits.memoryBytes),
      '--pids-limit',
      String(plan.limits.pids),
      '--cpus',
      String(Math.min(plan.limits.cpus, cpus().length)),
    ];
    const mounts = ['-v', `${src}:${plan.sourceMount}:ro`, ...(plan.inputsMount ? ['-v', `${inputsDir}:${plan.inputsMount}:ro`] : [])];
    runs.push({
      release: r.name,
      args: (out) => [
        'run',
        ...plainRunFlags({ tmpSize: plan.limits.scratchBytes, user: plan.user }),
        ...limits,
        ...env,
        ...mounts,
        '-v',
        `${out}:${plan.outputMount}`,
        '-w',
        plan.workdir,
        '--entrypoint',
        '',
        plan.image,
        ...plan.argv,
      ],
    });
  }
  return runs;
}

/** Runs every container `copies` times, `parallel` at a time; returns each run's seconds and the whole wall time. */
async function runLoop(runs: LoopRun[], copies: number, parallel: number, work: string): Promise<{ wallS: number; each: number[] }> {
  const queue = runs.flatMap((r) => Array.from({ length: copies }, () => r));
  const each: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const out = await mkdtemp(join(work, 'loop-out-'));
        await execa('chmod', ['0777', out]);
        const t = performance.now();
        const res = await execa('docker', next.args(out), { reject: false });
        each.push((performance.now() - t) / 1000);
        const packed = (await readdir(out)).filter((f) => f.endsWith('.tgz'));
        if (res.exitCode !== 0 || packed.length !== 1) throw new Error(`P2-real baseline ${next.release}: exit ${res.exitCode}\n${(res.stdout + res.stderr).slice(-2000)}`);
        await rm(out, { recursive: true, force: true });
      }
    }),
  );
  return { wallS: (performance.now() - t0) / 1000, each };
}

/** Per-phase seconds summed over every rebuild, from the workers' `rebuild reported` log lines. */
async function phaseProfile(farmDir: string): Promise<{ rebuilds: number; faults: number; seconds: Record<string, number> }> {
  const seconds: Record<string, number> = {};
  let rebuilds = 0;
  let faults = 0;
  for (const file of (await readdir(farmDir)).filter((f) => f.endsWith('.log') && f !== 'coordinator.log')) {
    for (const line of (await readFile(join(farmDir, file), 'utf8')).split('\n')) {
      if (!line.includes('"rebuild reported"')) continue;
      const reported = JSON.parse(line) as { status?: string; phaseMs?: Record<string, number> };
      const phases = reported.phaseMs ?? {};
      rebuilds++;
      if (reported.status === 'error') faults++;
      for (const [phase, ms] of Object.entries(phases)) seconds[phase] = (seconds[phase] ?? 0) + ms / 1000;
    }
  }
  return { rebuilds, faults, seconds };
}

/**
 * P2-real: releases that build like real packages (TypeScript with hundreds of locked
 * dependencies, a source without a lockfile, a yarn and a pnpm project) verified 3-of-3 by a farm of
 * three workers, side by side with the same builds run by a plain loop of `docker run`, three at a time.
 */
export async function benchP2Real(opts: { perKind?: number } = {}): Promise<BenchRow[]> {
  const perKind = opts.perKind ?? 4;
  const image = (await execa('docker', ['image', 'inspect', '-f', '{{.Id}}', npmBuilder.imageTag])).stdout.trim();
  const farm = await new ProcessFarm({ workers: 3, builders: 3, quorum: 3, logs: 'files', env: { QUORUM_LOG_LEVEL: 'info', QUORUM_BUILD_TIMEOUT_MS: '900000' } }).start();
  const work = await mkdtemp(join(tmpdir(), 'quorum-p2real-'));
  try {
    const treeSize = await mirrorTree(farm.registry, work);
    const managers = { yarn: await managerCli(farm.registry, 'yarn-classic', YARN_CLASSIC), pnpm: await managerCli(farm.registry, 'pnpm', PNPM) };
    const releases = await makeReleases(farm.registry, work, perKind, managers);

    // the farm: every release submitted at once, each verified 3-of-3
    const t0 = performance.now();
    const submitted = await Promise.all(releases.map(async (r) => ({ r, id: await farm.submit(`pkg:npm/${r.name}@1.0.0`), at: performance.now() })));
    const views = await Promise.all(submitted.map(async (s) => ({ ...s, view: await farm.decided(s.id, 3 * 3600_000), done: performance.now() })));
    const farmS = (performance.now() - t0) / 1000;
    const verdicts = new Map<string, number>();
    for (const v of views) verdicts.set(v.view.verdict?.verdict ?? 'none', (verdicts.get(v.view.verdict?.verdict ?? 'none') ?? 0) + 1);
    const verified = (verdicts.get('reproducible') ?? 0) + (verdicts.get('equivalent') ?? 0);
    const profile = await phaseProfile(farm.dir);
    const rebuildSeconds = views.flatMap((v) => v.view.rebuilds.map((r) => (r.durations.totalMs ?? 0) / 1000));

    // the same builds by a plain loop, as many at a time as the farm's three workers build
    const runs = await loopRuns(releases, farm.registry, work, image);
    const loop = await runLoop(runs, 3, 3, work);

    const perHour = (n: number, s: number) => (n / s) * 3600;
    const farmRate = perHour(releases.length, farmS);
    const loopRate = perHour(releases.length, loop.wallS);
    const share = farmRate / loopRate;
    const boxes = Math.ceil(40_000 / (farmRate * 24));
    const total = Object.values(profile.seconds).reduce((a, b) => a + b, 0);
    const ranked = Object.entries(profile.seconds)
      .sort(([, a], [, b]) => b - a)
      .map(([phase, s]) => `${phase} ${((s / total) * 100).toFixed(0)}% (${(s / profile.rebuilds).toFixed(1)} s)`)
      .join(', ');
    const mix = `${perKind * 2} TypeScript with a ${treeSize}-package lockfile, ${perKind} without a lockfile, ${perKind} yarn 1, ${perKind} pnpm`;
    return [
      {
        id: 'P2-real',
        measure: `${releases.length} releases that build like real packages (${mix}), verified 3-of-3 by 3 workers (${verified} verified; ${[...verdicts].map(([k, n]) => `${n} ${k}`).join(', ')})`,
        ours: `${farmRate.toFixed(0)} releases/h (${farmS.toFixed(0)} s); per rebuild ${fmt(rebuildSeconds, 's', 1)}`,
        baseline: `the same ${runs.length * 3} builds by a loop of docker run, 3 at a time: ${loopRate.toFixed(0)} releases/h (${loop.wallS.toFixed(0)} s); per container ${fmt(loop.each, 's', 1)}`,
        ratio: `${(share * 100).toFixed(0)}% of the loop`,
        goal: '≥ 80% of the loop',
        met: share >= 0.8,
        note: `capacity: at this mix one such box (2 vCPU) verifies ${(farmRate * 24).toFixed(0)} releases a day, so 40,000 releases/day needs ${boxes} of them; where a rebuild's time goes (${profile.rebuilds} rebuilds${profile.faults ? `, of which ${profile.faults} faults given to another worker` : ''}; mean per rebuild): ${ranked}. The loop installs the lockfile the maintainer resolved; the farm resolves it in each rebuild (resolve)`,
      },
    ];
  } finally {
    await farm.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const perKind = Number(process.argv[process.argv.indexOf('--per-kind') + 1]) || undefined;
  console.log(renderTable(await benchP2Real(perKind ? { perKind } : {})));
}
