import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { execa } from 'execa';
import { SqliteStore } from '@quorum/coordinator';
import { ROOT } from '../e2e/farm.js';
import { seededStore, startCoordinatorOn, type Target } from './p4-status-load.js';
import { fmt, stats, type BenchRow } from './report.js';

const AUTOCANNON_BIN = createRequire(join(ROOT, 'package.json')).resolve('autocannon/autocannon.js');

/** Latency of one request at a time (ms, mean and p99) over a run. */
async function latency(url: string, durationS: number): Promise<{ mean: number; p99: number }> {
  const { stdout } = await execa(process.execPath, [AUTOCANNON_BIN, '--json', '-c', '1', '-d', String(durationS), url]);
  const r = JSON.parse(stdout) as { latency: { p99: number }; requests: { total: number }; duration: number; non2xx: number; errors: number };
  if (r.non2xx || r.errors || r.requests.total === 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.requests.total} requests`);
  // one connection, one request at a time: the wall time per request is the latency a person waits
  return { mean: (r.duration * 1000) / r.requests.total, p99: r.latency.p99 };
}

/**
 * P8: the dashboard's release page and home page with 100k decided releases stored, one request
 * at a time (what a person waits for), next to the JSON of the same release from the API.
 */
export async function benchP8(opts: { stored?: number; runs?: number; runS?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 3;
  const runS = opts.runS ?? 3;
  const store = await seededStore(opts.stored ?? 100_000);
  let coordinator: Target | undefined;
  try {
    const db = new SqliteStore(join(store.dataDir, 'quorum.sqlite'));
    const id = (db.db.prepare('SELECT id FROM releases WHERE purl = ? LIMIT 1').get(store.purl) as { id: string }).id;
    db.close();
    coordinator = await startCoordinatorOn(store, { QUORUM_ADMIN_TOKEN: randomBytes(18).toString('base64url'), QUORUM_RESPONSE_CACHE_MB: '0' });
    const base = new URL(coordinator.url).origin;
    const urls = { page: `${base}/ui/releases/${id}`, home: `${base}/`, api: `${base}/v1/releases/${id}` };
    const got = { page: [] as number[], home: [] as number[], api: [] as number[], pageP99: [] as number[] };
    for (const u of Object.values(urls)) await latency(u, 1);
    for (let i = 0; i < runs; i++) {
      const page = await latency(urls.page, runS);
      got.page.push(page.mean);
      got.pageP99.push(page.p99);
      got.home.push((await latency(urls.home, runS)).mean);
      got.api.push((await latency(urls.api, runS)).mean);
    }
    return [
      {
        id: 'P8-release-page',
        measure: `dashboard release page (HTML, answer cache off), ${store.label} releases stored, one request at a time`,
        ours: `${fmt(got.page, 'ms')} mean, p99 ${fmt(got.pageP99, 'ms', 0)}`,
        baseline: `${fmt(got.api, 'ms')} (GET /v1/releases/:id, the same release as JSON)`,
        ratio: `${(stats(got.page).median / stats(got.api).median).toFixed(2)}×`,
        goal: '< 200 ms',
        met: stats(got.pageP99).median < 200,
      },
      {
        id: 'P8-home',
        measure: `dashboard home page (newest releases, verdict mix), ${store.label} releases stored`,
        ours: fmt(got.home, 'ms'),
        baseline: '–',
        ratio: '–',
        goal: '< 200 ms',
        met: stats(got.home).median < 200,
      },
    ];
  } finally {
    await coordinator?.stop();
    await store.dispose();
  }
}
