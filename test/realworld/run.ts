/**
 * A real-world run anyone can repeat: real npm releases, rebuilt by a local farm from their
 * upstream repositories and compared with the tarballs the public registry serves; then planted
 * changes (an honest release's tarball with one file changed, served by a local registry that is
 * otherwise the public one), which must come out `mismatch`. Prints one table and the summary.
 *
 *   npm run realworld -- [--mirrors DIR] [--only PURL|KIND[,…]] [--json] [--workers N] [--parallel N]
 *                        [--timeout-min N] [--list FILE] [--keep]
 *
 * Repositories are fetched from their canonical URLs, or from the operator's git mirrors:
 * `--mirrors DIR` (or QUORUM_REALWORLD_MIRRORS) holds one copy per repository as
 * `DIR/<owner>/<name>.git`, `DIR/<owner>/<name>`, or `DIR/<owner>+<name>[/repo]`; a
 * QUORUM_GIT_MIRRORS of your own is used as it is. Verdicts name the canonical URLs either way.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import type { ReleaseView } from '@quorum/core';
import { ProcessFarm } from '../bench/farm-process.js';
import { ROOT } from '../e2e/farm.js';
import { PlantedRegistry } from './planted-registry.js';
import { render, summary, type Row } from './report.js';

/** A file appended to, or an install script added to package.json, in the published tarball. */
type Change = { file: string; append: string } | { postinstall: string };

/** One release of the list. */
interface Entry {
  purl: string;
  /** the repository the packument declares, as a canonical https URL */
  repo: string;
  kind: string;
  note: string;
  /** built with the TypeScript compiler or from TypeScript sources */
  typescript?: boolean;
  lockfile?: string;
  /** planted entries only: what the harness changes in the published tarball */
  change?: Change;
}

const USAGE = 'usage: npm run realworld -- [--mirrors DIR] [--only PURL|KIND[,…]] [--json] [--workers N] [--parallel N] [--timeout-min N] [--list FILE] [--keep]';
const REGISTRY = process.env.QUORUM_NPM_REGISTRY || 'https://registry.npmjs.org';

function fail(message: string, code = 2): never {
  process.stderr.write(`realworld: ${message}\n`);
  process.exit(code);
}

const say = (line: string) => process.stderr.write(`realworld: ${line}\n`);

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got "${raw}"\n${USAGE}`);
  return n;
}

let args: ReturnType<typeof parseCli>;
function parseCli() {
  return parseArgs({
    options: {
      mirrors: { type: 'string' },
      only: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      workers: { type: 'string' },
      parallel: { type: 'string' },
      'timeout-min': { type: 'string' },
      list: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
}
try {
  args = parseCli();
} catch (e) {
  fail(`${(e as Error).message}\n${USAGE}`);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const workers = positive('workers', args.workers, 2);
const parallel = positive('parallel', args.parallel, 1);
const timeoutMs = positive('timeout-min', args['timeout-min'], 20) * 60_000;

// ---- the list
const listFile = resolve(args.list ?? join(ROOT, 'test/realworld/releases.json'));
let list: { releases: Entry[]; planted: Entry[] };
try {
  list = JSON.parse(await readFile(listFile, 'utf8')) as typeof list;
  if (!Array.isArray(list.releases) || !Array.isArray(list.planted)) throw new Error('expected { "releases": [...], "planted": [...] }');
  for (const e of [...list.releases, ...list.planted]) {
    if (typeof e.purl !== 'string' || !e.purl.startsWith('pkg:npm/') || typeof e.repo !== 'string' || typeof e.kind !== 'string') {
      throw new Error(`entry ${JSON.stringify(e).slice(0, 120)} needs purl (pkg:npm/…), repo and kind`);
    }
  }
  for (const e of list.planted) if (!e.change) throw new Error(`planted entry ${e.purl} has no change`);
} catch (e) {
  fail(`cannot read the release list ${listFile}: ${(e as Error).message}`);
}
const filters = (args.only ?? [])
  .flatMap((o) => o.split(','))
  .map((s) => s.trim())
  .filter(Boolean);
const wanted = (e: Entry, planted: boolean) =>
  filters.length === 0 || filters.some((f) => f === e.purl || f === e.kind || (f === 'planted' && planted) || (f === 'honest' && !planted) || (f === 'typescript' && e.typescript === true));
const honest = list.releases.filter((e) => wanted(e, false));
const planted = list.planted.filter((e) => wanted(e, true));
if (honest.length + planted.length === 0) {
  const kinds = [...new Set([...list.releases, ...list.planted].map((e) => e.kind))].join(', ');
  fail(`--only ${filters.join(',')} matches no release; give a purl of ${listFile}, a kind (${kinds}), honest, planted or typescript`);
}

// ---- the operator's git mirrors
const mirrorRoot = args.mirrors ?? process.env.QUORUM_REALWORLD_MIRRORS;
const farmEnv: Record<string, string> = {
  // the farm's own policy: canonical repositories only; the mirrors are the operator's setting
  QUORUM_ALLOW_LOCAL_REPOS: '0',
  // real builds need more than the default 1.5 GiB and 256 processes (parallel bundles, each with
  // minifier workers); this machine has room for two such builds at once
  QUORUM_BUILD_MEMORY_MB: process.env.QUORUM_BUILD_MEMORY_MB ?? '8192',
  QUORUM_BUILD_PIDS: process.env.QUORUM_BUILD_PIDS ?? '1024',
  QUORUM_LOG_LEVEL: 'info',
  // with 2 workers, a release whose rebuilds both faulted has no distinct worker left: decide it
  // failed after 2 min instead of the default 10, so one fault does not hold up the whole run
  QUORUM_NO_BUILDER_GRACE_MS: process.env.QUORUM_NO_BUILDER_GRACE_MS ?? '120000',
};
if (mirrorRoot) {
  const root = resolve(mirrorRoot);
  if (!existsSync(root)) fail(`mirror directory ${root} does not exist`);
  const map: Record<string, string> = {};
  const missing: string[] = [];
  for (const e of [...honest, ...planted]) {
    const found = mirrorOf(root, e.repo);
    if (found) map[e.repo] = found;
    else missing.push(`${e.purl} (${e.repo})`);
  }
  if (missing.length > 0) {
    fail(`no git mirror under ${root} for:\n  ${missing.join('\n  ')}\nexpected <owner>/<name>.git, <owner>/<name> or <owner>+<name>[/repo]; or leave them out with --only`);
  }
  farmEnv.QUORUM_GIT_MIRRORS = JSON.stringify(map);
} else if (!process.env.QUORUM_GIT_MIRRORS) {
  say('no --mirrors and no QUORUM_GIT_MIRRORS: repositories are fetched from their own hosts');
}

/** The git directory of a repository's copy under `root`, in one of the layouts the usage names. */
function mirrorOf(root: string, repo: string): string | undefined {
  const [owner, name] = new URL(repo).pathname
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/, '')
    .split('/');
  if (!owner || !name) return undefined;
  const candidates = [join(root, owner, `${name}.git`), join(root, owner, name), join(root, `${owner}+${name}`, 'repo'), join(root, `${owner}+${name}.git`), join(root, `${owner}+${name}`)];
  return candidates.find((d) => (existsSync(join(d, 'HEAD')) && existsSync(join(d, 'objects'))) || existsSync(join(d, '.git')));
}

// ---- planted tarballs
/** The published tarball of a release with one change, packed again the way npm lays it out. */
async function plantedTarball(entry: Entry, work: string): Promise<Buffer> {
  const { name, version } = purlParts(entry.purl);
  const doc = (await (await fetch(`${REGISTRY}/${name.replace('/', '%2f')}/${version}`)).json()) as { dist?: { tarball?: string } };
  if (!doc.dist?.tarball) throw new Error(`${REGISTRY} has no tarball for ${name}@${version}`);
  const res = await fetch(doc.dist.tarball);
  if (!res.ok) throw new Error(`cannot download ${doc.dist.tarball}: HTTP ${res.status}`);
  const dir = await mkdtemp(join(work, 'plant-'));
  await writeFile(join(dir, 'published.tgz'), Buffer.from(await res.arrayBuffer()));
  await execa('tar', ['-xzf', 'published.tgz'], { cwd: dir });
  const change = entry.change!;
  if ('postinstall' in change) {
    const file = join(dir, 'package', 'package.json');
    const manifest = JSON.parse(await readFile(file, 'utf8')) as { scripts?: Record<string, string> };
    manifest.scripts = { ...manifest.scripts, postinstall: change.postinstall };
    await writeFile(file, `${JSON.stringify(manifest, null, 2)}\n`);
  } else {
    const file = join(dir, 'package', change.file);
    await writeFile(file, (await readFile(file, 'utf8')) + change.append);
  }
  // files only, as npm packs them: directory entries would be differences of their own
  const files = (await execa('find', ['package', '-type', 'f'], { cwd: dir })).stdout.split('\n').sort();
  await execa('tar', ['-czf', 'planted.tgz', '--owner=0', '--group=0', '--numeric-owner', '--no-recursion', '-T', '-'], { cwd: dir, input: files.join('\n') });
  return readFile(join(dir, 'planted.tgz'));
}

function purlParts(purl: string): { name: string; version: string } {
  const m = /^pkg:npm\/(.+)@([^@]+)$/.exec(purl);
  if (!m) throw new Error(`${purl} is not an npm purl with a version`);
  return { name: decodeURIComponent(m[1]!), version: m[2]! };
}

// ---- running releases through a farm
async function runPhase(entries: Entry[], isPlanted: boolean, farm: ProcessFarm, rows: Row[], counter: { done: number; total: number }): Promise<void> {
  const queue = [...entries];
  const one = async (): Promise<void> => {
    for (let e = queue.shift(); e && !interrupted; e = queue.shift()) {
      const n = ++counter.done;
      rows.push(await verify(e, isPlanted, farm, `[${n}/${counter.total}]`));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, entries.length) }, one));
}

async function verify(entry: Entry, isPlanted: boolean, farm: ProcessFarm, tag: string): Promise<Row> {
  const base: Row = { purl: entry.purl, kind: entry.kind, planted: isPlanted, typescript: entry.typescript === true, verdict: 'error', stabilizers: [], seconds: 0, notes: [], failures: [] };
  const t0 = performance.now();
  say(`${tag} ${entry.purl}${isPlanted ? ' (planted)' : ''}: submitting`);
  let id: string;
  try {
    id = await farm.submit(entry.purl);
  } catch (e) {
    say(`${tag} ${entry.purl}: ${(e as Error).message}`);
    return { ...base, reason: (e as Error).message };
  }
  let view: ReleaseView | undefined;
  let last = '';
  while (performance.now() - t0 < timeoutMs) {
    view = await fetch(`${farm.url}/v1/releases/${id}`).then(
      (r) => (r.ok ? (r.json() as Promise<ReleaseView>) : undefined),
      () => undefined,
    );
    if (view) {
      const now = `${view.state}${view.rebuilds.length ? ` (${view.rebuilds.map((r) => `${r.workerId} ${r.state}`).join(', ')})` : ''}`;
      if (now !== last) say(`${tag} ${entry.purl}: ${now} after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      last = now;
      if (view.state === 'decided') break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const seconds = (performance.now() - t0) / 1000;
  if (!view || view.state !== 'decided' || !view.verdict) {
    say(`${tag} ${entry.purl}: no verdict after ${(seconds / 60).toFixed(0)} min`);
    return { ...base, verdict: 'timeout', seconds, releaseId: id, reason: `no verdict within ${timeoutMs / 60_000} min` };
  }
  const v = view.verdict;
  const builds = view.rebuilds.map((r) => r.durations.buildMs ?? 0);
  const failures: Row['failures'] = [];
  for (const r of view.rebuilds.filter((r) => r.state !== 'succeeded')) {
    failures.push({ worker: r.workerId, reason: r.reason ?? r.state, message: r.message ?? '', logTail: r.logUrl ? await logTail(farm.url, r.logUrl) : [] });
  }
  say(`${tag} ${entry.purl}: ${v.verdict}${v.stabilizers.length ? ` (${v.stabilizers.join(', ')})` : ''} in ${seconds.toFixed(0)} s${v.verdict === 'failed' ? ` — ${v.reason}` : ''}`);
  return {
    ...base,
    verdict: v.verdict,
    stabilizers: v.stabilizers,
    ...(v.risk ? { risk: { level: v.risk.level, text: v.risk.text } } : {}),
    seconds,
    ...(builds.length ? { buildSeconds: Math.max(...builds) / 1000 } : {}),
    reason: view.problem ? `${view.problem.code}: ${view.problem.message}` : v.reason,
    notes: v.notes ?? [],
    failures,
    releaseId: id,
  };
}

/** The last lines of a build log that say something (npm's errors, the worker's own lines). */
async function logTail(server: string, logUrl: string): Promise<string[]> {
  const text = await fetch(new URL(logUrl, server)).then(
    (r) => (r.ok ? r.text() : ''),
    () => '',
  );
  const lines = text
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l !== '');
  return lines.slice(-12).map((l) => (l.length > 240 ? `${l.slice(0, 239)}…` : l));
}

// ---- main
const docker = (await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false })).stdout.trim() || 'unknown';
const { cpus, totalmem } = await import('node:os');
const machine = `${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Docker ${docker}, Node ${process.version}; ${workers} workers, ${Math.min(workers, 3)} builders per release, quorum 2, ${parallel} release(s) at a time`;
say(machine);
const rows: Row[] = [];
const counter = { done: 0, total: honest.length + planted.length };
const builders = Math.min(workers, 3);
if (builders < 2) fail('--workers must be at least 2: a verdict needs 2 agreeing builders');
let code = 0;
const farms: ProcessFarm[] = [];
const work = await mkdtemp(join(tmpdir(), 'quorum-realworld-'));
let interrupted = false;
// one stop at a time, awaited by everyone who asks: a signal's stop and the run's own never overlap
let stopping = Promise.resolve();
const stopAll = () =>
  (stopping = stopping.then(async () => {
    for (const f of farms.splice(0)) {
      if (args.keep) say(`farm logs and data kept in ${f.dir}`);
      await f.stop(args.keep);
    }
  }));
const output = () => {
  if (args.json) process.stdout.write(`${JSON.stringify({ machine, rows, summary: summary(rows) }, null, 2)}\n`);
  else process.stdout.write(`${render(rows, machine)}\n`);
};
// stopped early: the farms go, and what was decided so far is still reported. `on`, not `once`:
// execa's exit hook re-raises a signal that no other listener is left to handle, which would end
// the process before the farms are stopped
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping; ${rows.length} release(s) decided so far`);
    void stopAll()
      .then(() => rm(work, { recursive: true, force: true }))
      .then(() => {
        output();
        process.exit(130);
      });
  });
}
try {
  if (honest.length > 0) {
    say(`starting a farm against ${REGISTRY} for ${honest.length} release(s)`);
    const farm = new ProcessFarm({ workers, builders, quorum: 2, registryUrl: REGISTRY, env: farmEnv, workerPrefix: 'realworld', logs: 'files' });
    farms.push(farm);
    await farm.start();
    await runPhase(honest, false, farm, rows, counter);
    await stopAll();
  }
  if (planted.length > 0 && !interrupted) {
    const registry = await new PlantedRegistry(REGISTRY).start();
    try {
      for (const e of planted) {
        const { name, version } = purlParts(e.purl);
        registry.plant(name, version, await plantedTarball(e, work));
      }
      say(`starting a farm against a local registry at ${registry.url} (${REGISTRY} with ${planted.length} planted tarball(s))`);
      // the proxied packuments still name the public registry's tarballs (tools, dependencies): an
      // operator allows that registry, whatever address it has here
      const upstream = new URL(REGISTRY);
      const env = {
        ...farmEnv,
        QUORUM_EGRESS_ALLOW: [process.env.QUORUM_EGRESS_ALLOW, `${upstream.hostname}:${upstream.port || (upstream.protocol === 'https:' ? 443 : 80)}`].filter(Boolean).join(','),
      };
      const farm = new ProcessFarm({ workers, builders, quorum: 2, registryUrl: registry.url, env, workerPrefix: 'realworld-planted', logs: 'files' });
      farms.push(farm);
      await farm.start();
      await runPhase(planted, true, farm, rows, counter);
      await stopAll();
    } finally {
      await registry.close();
    }
  }
} catch (e) {
  say(`stopped: ${(e as Error).message}`);
  code = 1;
} finally {
  await stopAll();
  await rm(work, { recursive: true, force: true });
}
// after a signal, its handler reports and exits once the farms are gone
if (!interrupted) {
  output();
  process.exit(code);
}
