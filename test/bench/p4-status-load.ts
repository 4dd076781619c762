import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { DEFAULT_POLICY, decideVerdict, packagePurl, parseReleasePurl, type ArtifactDigests, type RebuildReport } from '@quorum/core';
import { SqliteStore } from '@quorum/coordinator';
import { freePort, ROOT } from '../e2e/farm.js';
import { fmt, renderTable, stats, type BenchRow } from './report.js';

const COORDINATOR_BIN = join(ROOT, 'packages/coordinator/dist/bin.js');
const AUTOCANNON_BIN = createRequire(join(ROOT, 'package.json')).resolve('autocannon/autocannon.js');
/** fastify as the coordinator resolves it, so the baseline runs the same fastify build */
const FASTIFY_URL = pathToFileURL(createRequire(join(ROOT, 'packages/coordinator/package.json')).resolve('fastify')).href;

/** Versions stored per package: the store holds many packages with several versions each. */
const VERSIONS_PER_PACKAGE = 5;
const WORKERS = ['bench-w1', 'bench-w2', 'bench-w3', 'bench-w4', 'bench-w5', 'bench-w6'];
const STABILIZERS = ['tar-entry-order', 'tar-times', 'tar-modes', 'tar-owners', 'tar-pax', 'tar-devices', 'tar-format', 'gzip-level', 'gzip-name', 'gzip-time', 'gzip-header'];

/** Random-looking hex digests, cut from one random pool (fresh random bytes per digest would dominate seeding). */
const POOL = randomBytes(1 << 16).toString('hex');
const hex = (bytes: number) => {
  const at = Math.floor(Math.random() * (POOL.length - 2 * bytes));
  return POOL.slice(at, at + 2 * bytes);
};

/** Digests shaped like the compare package's, for an artifact of about `size` bytes (its real sha256 and sha512 when given). */
export function digests(size: number, real?: { sha256: string; sha512: string }): ArtifactDigests {
  return {
    size,
    sha256: real?.sha256 ?? hex(32),
    sha512: real?.sha512 ?? hex(64),
    stabilizedSha256: hex(32),
    facets: Object.fromEntries(STABILIZERS.map((s) => [s, hex(32)])),
    stabilizersApplied: ['gzip-header', 'gzip-level', 'tar-times'],
  };
}

/** The purl of the i-th seeded package at version v; every fourth package is scoped. */
function purlOf(i: number, v: number): string {
  return i % 4 === 0 ? `pkg:npm/%40bench-scope/pkg-${i}@1.${v}.0` : `pkg:npm/bench-pkg-${i}@1.${v}.0`;
}

/** Stores the n-th seeded release, decided, as the farm would leave it (see seedReleases). */
export function seedRelease(store: SqliteStore, n: number): string {
  const purl = parseReleasePurl(purlOf(Math.floor(n / VERSIONS_PER_PACKAGE), n % VERSIONS_PER_PACKAGE));
  const filename = `${purl.name}-${purl.version}.tgz`;
  seedDecided(store, n, purl.canonical, digests(4096 + (n % 997) * 31), {
    url: `https://registry.npmjs.org/${purl.namespace ? `${purl.namespace}/` : ''}${purl.name}/-/${filename}`,
    integrity: `sha512-${Buffer.from(hex(64), 'hex').toString('base64')}`,
    filename,
  });
  return purl.canonical;
}

/**
 * Stores one release whose published artifact has the given digests, rebuilt by 3 builders of
 * distinct operators to those same digests and decided reproducible, as the farm would leave it.
 */
export function seedDecided(store: SqliteStore, n: number, canonicalPurl: string, published: ArtifactDigests, upstream: { url: string; integrity: string; filename: string }): void {
  const purl = parseReleasePurl(canonicalPurl);
  const filename = upstream.filename;
  const id = randomUUID();
  const repo = `https://github.com/bench/${purl.name}.git`;
  store.insertRelease({
    id,
    purl: purl.canonical,
    packagePurl: packagePurl(purl),
    ecosystem: purl.type,
    overrides: {},
    policy: DEFAULT_POLICY,
    canonical: true,
    source: { origin: 'registry', repo, commit: hex(20), refs: [], toolchain: { node: '20.20.2', npm: '11.19.0' }, steps: [] },
    upstream,
  });
  store.setReleasePublished(id, published, true);
  const source = { origin: 'registry' as const, repo, commit: hex(20), ref: `v${purl.version}`, commitTime: 1_700_000_000 + n };
  const builders = [0, 1, 2].map((k) => WORKERS[(n + k * 2) % WORKERS.length]!);
  for (const workerId of builders) {
    const rebuildId = randomUUID();
    store.insertRebuild({ id: rebuildId, releaseId: id, workerId, operator: `operator-${workerId}`, attempt: 1, deadlineMs: Date.now() + 3_600_000 });
    store.markEnqueued(rebuildId);
    store.transitionRebuild(rebuildId, ['assigned'], 'running');
    const report: RebuildReport = {
      v: 1,
      rebuildId,
      workerId,
      status: 'succeeded',
      source,
      toolchain: { node: '20.20.2', npm: '11.19.0' },
      toolchainUsed: { node: 'v20.20.2', npm: '11.19.0' },
      imageDigest: `sha256:${hex(32)}`,
      artifact: { ...published, filename },
      upstream: published,
      timings: { fetchMs: 850, buildMs: 2300, totalMs: 3400 },
      exitCode: 0,
    };
    store.transitionRebuild(rebuildId, ['running'], 'succeeded', report);
    store.setRebuildLog(rebuildId, hex(32), 2048);
    store.setRebuildBundle(rebuildId, hex(32));
  }
  const decision = decideVerdict(
    published,
    builders.map((b) => ({ builderId: b, operator: `operator-${b}`, status: 'success', artifact: published })),
    DEFAULT_POLICY,
  );
  store.appendVerdict(id, { ...decision, decidedAt: new Date().toISOString() }, hex(32));
}

/**
 * Fills a fresh data dir with `count` decided releases, as the farm would leave them: each one
 * published, rebuilt by 3 builders of distinct operators (succeeded, with logs and artifact digests)
 * and decided by one verdict. Returns one of the stored versioned purls.
 */
export function seedReleases(dataDir: string, count: number): string {
  const store = new SqliteStore(join(dataDir, 'quorum.sqlite'));
  try {
    store.db.transaction(() => {
      for (let n = 0; n < count; n++) {
        seedRelease(store, n);
      }
    })();
  } finally {
    store.close();
  }
  return parseReleasePurl(purlOf(Math.floor(count / VERSIONS_PER_PACKAGE / 2), 2)).canonical;
}

/** An HTTP server process under load, with what it needs stopped afterwards. */
export interface Target {
  name: string;
  url: string;
  stop(): Promise<void>;
}

async function waitUntilUp(url: string, child: ResultPromise, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  let exited = false;
  void child.finally(() => (exited = true));
  while (Date.now() < until && !exited) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer at ${url}`);
}

export async function stopChild(child: ResultPromise): Promise<void> {
  child.kill('SIGTERM');
  await Promise.race([child, new Promise((r) => setTimeout(r, 10_000))]);
  child.kill('SIGKILL');
}

/** The baseline: a fastify hello-world route in its own process (GET, and POST of a JSON body it parses and ignores). */
export async function startHello(): Promise<Target> {
  const port = await freePort();
  const code = `const { default: Fastify } = await import(${JSON.stringify(FASTIFY_URL)});
const app = Fastify();
app.get('/', async () => ({ hello: 'world' }));
app.post('/', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: ${port} });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));`;
  const child = execa(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'inherit'], reject: false });
  const url = `http://127.0.0.1:${port}/`;
  await waitUntilUp(url, child, 'hello-world server');
  return { name: 'hello', url, stop: () => stopChild(child) };
}

/** A data dir seeded with `count` releases, and a Redis of its own for the coordinator on it. */
export interface SeededStore {
  count: number;
  label: string;
  dataDir: string;
  redisUrl: string;
  /** a stored versioned purl */
  purl: string;
  seedS: number;
  dispose(): Promise<void>;
}

/** A data dir seeded by `seed` (default: `count` releases by seedReleases, returning one stored purl), and a Redis of its own. */
export async function seededStore(count: number, seed: (dataDir: string) => string = (d) => seedReleases(d, count)): Promise<SeededStore> {
  const dir = await mkdtemp(join(tmpdir(), 'quorum-p4-'));
  const dataDir = join(dir, 'coordinator');
  await mkdir(dataDir, { recursive: true });
  const t0 = performance.now();
  const redisPort = await freePort();
  const redisDir = join(dir, 'redis');
  let purl: string;
  let redisUrl: string;
  try {
    purl = seed(dataDir);
    await execa('bash', [join(ROOT, 'infra/redis.sh'), String(redisPort), redisDir]);
    redisUrl = (await execa('bash', [join(ROOT, 'infra/redis.sh'), '--url', String(redisPort), redisDir])).stdout.trim();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const seedS = (performance.now() - t0) / 1000;
  return {
    count,
    label: count >= 1000 ? `${count / 1000}k` : String(count),
    dataDir,
    redisUrl,
    purl,
    seedS,
    async dispose() {
      await execa('bash', [join(ROOT, 'infra/redis.sh'), '--stop', String(redisPort), redisDir], { reject: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A coordinator process (`bin.js`, production settings but the addresses) on a seeded store; the target is its seeded purl. */
export async function startCoordinatorOn(store: SeededStore, env: Record<string, string>): Promise<Target> {
  const port = await freePort();
  // only the settings given here: a QUORUM_* variable of the caller's shell must not change what is measured
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QUORUM_')));
  const child = execa(process.execPath, [COORDINATOR_BIN], {
    env: { ...inherited, QUORUM_PORT: String(port), QUORUM_DATA_DIR: store.dataDir, QUORUM_REDIS_URL: store.redisUrl, QUORUM_ADMIN_TOKEN: randomBytes(18).toString('base64url'), ...env },
    extendEnv: false,
    stdio: ['ignore', 'ignore', 'inherit'],
    reject: false,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(`${base}/healthz`, child, 'coordinator');
    const url = `${base}/v1/packages/${encodeURIComponent(store.purl)}`;
    const res = await fetch(url);
    const body = (await res.json()) as { releases?: { purl: string; verdict?: { verdict: string } }[] };
    if (res.status !== 200 || body.releases?.length !== 1 || body.releases[0]!.purl !== store.purl || !body.releases[0]!.verdict) {
      throw new Error(`GET ${url}: HTTP ${res.status}, not the decided release that was seeded`);
    }
    return { name: store.label, url, stop: () => stopChild(child) };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

/** One autocannon run (its own process) against a URL. */
async function load(url: string, durationS: number, connections: number): Promise<{ rps: number; p99: number }> {
  const { stdout } = await execa(process.execPath, [AUTOCANNON_BIN, '--json', '-c', String(connections), '-d', String(durationS), url]);
  const r = JSON.parse(stdout) as { requests: { total: number }; latency: { p99: number }; duration: number; non2xx: number; errors: number; timeouts: number };
  if (r.non2xx || r.errors || r.timeouts) throw new Error(`load on ${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  // not one answer within the run: the latency is at least the run's length
  return { rps: r.requests.total / r.duration, p99: r.requests.total === 0 ? durationS * 1000 : r.latency.p99 };
}

/** Version of the load generator, for the report. */
export const LOAD_GENERATOR = `autocannon ${(createRequire(join(ROOT, 'package.json'))('autocannon/package.json') as { version: string }).version}`;

/** req/s and p99 samples of one target over the runs. */
interface Samples {
  rps: number[];
  p99: number[];
}

/**
 * Measures the targets in interleaved runs (a, b, c, a, b, c, …) so that noise on the machine
 * falls on all of them alike, after one warm-up run each (JIT, SQLite page cache).
 */
async function measure(targets: Target[], runs: number, runS: number, connections: number): Promise<Map<string, Samples>> {
  for (const t of targets) await load(t.url, 1, connections);
  const out = new Map<string, Samples>(targets.map((t) => [t.name, { rps: [], p99: [] }]));
  for (let i = 0; i < runs; i++) {
    for (const t of targets) {
      const r = await load(t.url, runS, connections);
      out.get(t.name)!.rps.push(r.rps);
      out.get(t.name)!.p99.push(r.p99);
    }
  }
  return out;
}

const median = (xs: number[]) => stats(xs).median;
/** per-round quotients a[i] / b[i]: runs next to each other in time share the machine's state */
const quotients = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);
const ratioText = (qs: number[]) => {
  const { median: m, min, max } = stats(qs);
  return qs.length > 1 ? `${m.toFixed(2)}× (${min.toFixed(2)}–${max.toFixed(2)})` : `${m.toFixed(2)}×`;
};
const P99_GOAL_MS = 10;

/** Rows of one configuration: each store size against hello-world, then the largest against the smallest. */
function rowsOf(stores: SeededStore[], m: Map<string, Samples>, suffix: string, what: string, note: string): BenchRow[] {
  const hello = m.get('hello')!;
  const rows: BenchRow[] = stores.map((s, i) => {
    const ours = m.get(s.label)!;
    const ratios = quotients(ours.rps, hello.rps);
    return {
      id: `P4-${s.label}${suffix}`,
      measure: `GET /v1/packages/<purl>, ${s.label} releases stored${what}`,
      ours: `${fmt(ours.rps, 'req/s', 0)}, p99 ${fmt(ours.p99, 'ms', 0)}`,
      baseline: `${fmt(hello.rps, 'req/s', 0)}, p99 ${fmt(hello.p99, 'ms', 0)} (hello-world)`,
      ratio: ratioText(ratios),
      goal: `≥ 0.50× req/s, p99 < ${P99_GOAL_MS} ms`,
      met: median(ratios) >= 0.5 && median(ours.p99) < P99_GOAL_MS,
      ...(note && i === 0 ? { note } : {}),
    };
  });
  const [small, large] = [stores[0]!, stores[stores.length - 1]!];
  // time per request is 1 / req/s: the large store may cost at most 20% more per request
  const slower = quotients(m.get(small.label)!.rps, m.get(large.label)!.rps);
  rows.push({
    id: `P4-${large.label}/${small.label}${suffix}`,
    measure: `time per request, ${large.label} vs ${small.label} releases stored${what}`,
    ours: fmt(m.get(large.label)!.rps, 'req/s', 0),
    baseline: `${fmt(m.get(small.label)!.rps, 'req/s', 0)} at ${small.label}`,
    ratio: ratioText(slower),
    goal: '≤ 1.20× (at most 20% slower)',
    met: median(slower) <= 1.2,
  });
  return rows;
}

/**
 * P4: `GET /v1/packages/<versioned purl>` (one seeded package's status) under load with 1k and
 * with 100k decided releases stored, against a fastify hello-world route; every server runs in
 * its own process and the load generator in another. Measured twice: as deployed (answer cache
 * on), and with the cache off: what the first request for a purl costs after any write to the store.
 */
export async function benchP4(
  opts: {
    /** load time per server and configuration, split into 5 runs; @defaultValue 10 */
    durationS?: number;
    /** concurrent connections of the load generator; @defaultValue 10 */
    connections?: number;
  } = {},
): Promise<BenchRow[]> {
  const durationS = opts.durationS ?? 10;
  const connections = opts.connections ?? 10;
  const runs = 5;
  const runS = Math.max(1, Math.round(durationS / runs));
  const stores: SeededStore[] = [];
  let hello: Target | undefined;
  let coordinators: Target[] = [];
  try {
    hello = await startHello();
    for (const count of [1_000, 100_000]) stores.push(await seededStore(count));
    const rows: BenchRow[] = [];
    const configurations: { suffix: string; what: string; env: Record<string, string> }[] = [
      { suffix: '', what: '', env: {} },
      { suffix: '-nocache', what: ', answer cache off', env: { QUORUM_RESPONSE_CACHE_MB: '0' } },
    ];
    for (const c of configurations) {
      for (const s of stores) coordinators.push(await startCoordinatorOn(s, c.env));
      const m = await measure([hello, ...coordinators], runs, runS, connections);
      await Promise.all(coordinators.map((t) => t.stop()));
      coordinators = [];
      const note = c.suffix
        ? 'without the cache every request reads and JSON-parses the release, its 3 rebuild reports and its verdicts (most of the time), then serializes a ~9 KB answer'
        : `seeded ${stores.map((s) => `${s.label} in ${s.seedS.toFixed(1)} s`).join(', ')}; ${runs} interleaved runs of ${runS} s each, ${connections} connections, ${LOAD_GENERATOR} (latency in whole ms); ratios are medians of per-run ratios`;
      rows.push(...rowsOf(stores, m, c.suffix, c.what, note));
    }
    return rows;
  } finally {
    await Promise.all(coordinators.map((t) => t.stop().catch(() => undefined)));
    await hello?.stop().catch(() => undefined);
    for (const s of stores) await s.dispose().catch(() => undefined);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  console.log(renderTable(await benchP4()));
}
