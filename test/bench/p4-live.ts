import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { execa } from 'execa';
import { generateKeyPair } from '@quorum/attest';
import { signRequest } from '@quorum/core';
import { SqliteStore } from '@quorum/coordinator';
import { ROOT } from '../e2e/farm.js';
import { seededStore, seedRelease, startCoordinatorOn, startHello, type Target } from './p4-status-load.js';
import { fmt, stats, type BenchRow } from './report.js';

const AUTOCANNON_BIN = createRequire(join(ROOT, 'package.json')).resolve('autocannon/autocannon.js');

/** One load run of a request (its own process), as req/s and p99 latency. */
async function load(req: { url: string; method?: string; body?: string }, durationS: number, connections: number): Promise<{ rps: number; p99: number }> {
  const args = [AUTOCANNON_BIN, '--json', '-c', String(connections), '-d', String(durationS)];
  if (req.method) args.push('-m', req.method);
  if (req.body) args.push('-b', req.body, '-H', 'content-type=application/json');
  const { stdout } = await execa(process.execPath, [...args, req.url]);
  const r = JSON.parse(stdout) as { requests: { total: number }; latency: { p99: number }; duration: number; non2xx: number; errors: number; timeouts: number };
  if (r.non2xx || r.errors || r.timeouts) throw new Error(`load on ${req.url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  return { rps: r.requests.total / r.duration, p99: r.requests.total === 0 ? durationS * 1000 : r.latency.p99 };
}

/**
 * The farm's own traffic while consumers ask: `workers` enrolled workers heartbeating every
 * `heartbeatMs` (signed, as real workers do), and a release decided every `decideMs` (its rebuilds
 * and verdict written by another connection, as the coordinator would).
 */
async function liveTraffic(base: string, adminToken: string, dataDir: string, opts: { workers: number; heartbeatMs: number; decideMs: number; firstSeed: number }) {
  const timers: NodeJS.Timeout[] = [];
  let heartbeats = 0;
  let decided = 0;
  for (let i = 1; i <= opts.workers; i++) {
    const key = generateKeyPair();
    const workerId = `live-w${i}`;
    const operator = `live-op${i}`;
    const res = await fetch(`${base}/v1/admin/workers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ workerId, operator, publicKey: key.publicKeyPem }),
    });
    if (!res.ok) throw new Error(`enrol ${workerId}: HTTP ${res.status} ${await res.text()}`);
    const path = `/v1/workers/${workerId}/heartbeat`;
    const beat = async () => {
      const text = JSON.stringify({ v: 1, workerId, operator, images: { npm: `sha256:${'0'.repeat(64)}` }, running: [] });
      const r = await fetch(`${base}${path}`, { method: 'POST', body: text, headers: { 'content-type': 'application/json', ...signRequest(key, 'POST', path, text) } }).catch(() => undefined);
      if (r?.ok) heartbeats++;
      await r?.arrayBuffer().catch(() => undefined);
    };
    await beat();
    timers.push(setInterval(() => void beat(), opts.heartbeatMs));
  }
  const writer = new SqliteStore(join(dataDir, 'quorum.sqlite'));
  let n = opts.firstSeed;
  timers.push(
    setInterval(() => {
      writer.db.transaction(() => seedRelease(writer, n++))();
      decided++;
    }, opts.decideMs),
  );
  return {
    counts: () => ({ heartbeats, decided }),
    stop() {
      for (const t of timers) clearInterval(t);
      writer.close();
    },
  };
}

/**
 * P4-live: status (`GET /v1/packages/<purl>`), badge and one-release audit answers against a
 * coordinator on 1k decided releases while three workers heartbeat every 500 ms and a release is
 * decided every second, next to fastify's hello world in the same run (interleaved runs).
 */
export async function benchP4Live(opts: { runs?: number; runS?: number; connections?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 5;
  const runS = opts.runS ?? 2;
  const connections = opts.connections ?? 10;
  const store = await seededStore(1000);
  const adminToken = randomBytes(18).toString('base64url');
  let hello: Target | undefined;
  let coordinator: Target | undefined;
  let live: Awaited<ReturnType<typeof liveTraffic>> | undefined;
  try {
    hello = await startHello();
    coordinator = await startCoordinatorOn(store, { QUORUM_ADMIN_TOKEN: adminToken, QUORUM_AUDIT_RATE_PER_MIN: '1000000', QUORUM_WORKER_TIMEOUT_MS: '5000' });
    const base = new URL(coordinator.url).origin;
    const requests = {
      hello: { url: hello.url },
      status: { url: coordinator.url },
      badge: { url: `${base}/v1/badges/${encodeURIComponent(store.purl)}.svg` },
      audit: { url: `${base}/v1/audit`, method: 'POST', body: JSON.stringify({ packages: [{ purl: store.purl }] }) },
      // the same request body to the hello world: what a POST costs Node and fastify alone
      helloPost: { url: hello.url, method: 'POST', body: JSON.stringify({ packages: [{ purl: store.purl }] }) },
    };
    live = await liveTraffic(base, adminToken, store.dataDir, { workers: 3, heartbeatMs: 500, decideMs: 1000, firstSeed: 1000 });
    const samples = new Map(Object.keys(requests).map((k) => [k, { rps: [] as number[], p99: [] as number[] }]));
    for (const r of Object.values(requests)) await load(r, 1, connections);
    for (let i = 0; i < runs; i++) {
      for (const [name, r] of Object.entries(requests)) {
        const got = await load(r, runS, connections);
        samples.get(name)!.rps.push(got.rps);
        samples.get(name)!.p99.push(got.p99);
      }
    }
    const { heartbeats, decided } = live.counts();
    const get = samples.get('hello')!;
    const post = samples.get('helloPost')!;
    return (['status', 'badge', 'audit'] as const).map((name, i) => {
      const s = samples.get(name)!;
      // a POST is measured against the hello world answering a POST of the same body: parsing a JSON
      // body costs fastify itself a third of its GET rate, which no route of ours can win back
      const h = name === 'audit' ? post : get;
      const ratios = s.rps.map((x, k) => x / h.rps[k]!);
      const { median, min, max } = stats(ratios);
      const what = { status: 'GET /v1/packages/<purl>', badge: 'GET /v1/badges/<purl>.svg', audit: 'POST /v1/audit (one release)' }[name];
      const notes = [
        ...(i === 0 ? [`during the runs: ${heartbeats} heartbeats answered, ${decided} releases decided`] : []),
        ...(name === 'audit' ? [`against the hello world's GET (${fmt(get.rps, 'req/s', 0)}): ${stats(s.rps.map((x, k) => x / get.rps[k]!)).median.toFixed(2)}×`] : []),
      ];
      return {
        id: `P4-live-${name}`,
        measure: `${what}, 1k releases stored, 3 workers heartbeating every 0.5 s, a release decided every 1 s`,
        ours: `${fmt(s.rps, 'req/s', 0)}, p99 ${fmt(s.p99, 'ms', 0)}`,
        baseline: `${fmt(h.rps, 'req/s', 0)}, p99 ${fmt(h.p99, 'ms', 0)} (hello-world ${name === 'audit' ? 'POST of the same body' : 'GET'})`,
        ratio: `${median.toFixed(2)}× (${min.toFixed(2)}–${max.toFixed(2)})`,
        goal: '≥ 0.50× req/s, p99 < 10 ms',
        met: median >= 0.5 && stats(s.p99).median < 10,
        ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
      };
    });
  } finally {
    live?.stop();
    await coordinator?.stop();
    await hello?.stop();
    await store.dispose();
  }
}
