import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseReleasePurl } from '@quorum/core';
import { readConsumerLockfile } from '@quorum/builder-npm';
import { SqliteStore } from '@quorum/coordinator';
import { ROOT } from '../e2e/farm.js';
import { seededStore, startCoordinatorOn } from './p4-status-load.js';
import { fmt, stats, type BenchRow } from './report.js';

const CLI_BIN = join(ROOT, 'packages/cli/bin/quorum.js');

/**
 * A package-lock.json v3 of `entries` releases: most of them stored releases with the sha512 of their
 * published artifact (what npm would have written), the rest never submitted.
 */
function lockfileOf(dataDir: string, entries: number): string {
  const store = new SqliteStore(join(dataDir, 'quorum.sqlite'));
  try {
    const known = Math.round(entries * 0.9);
    const rows = store.db.prepare('SELECT purl, published FROM releases ORDER BY seq LIMIT ?').all(known) as { purl: string; published: string }[];
    const packages: Record<string, unknown> = { '': { name: 'bench-app', version: '1.0.0' } };
    rows.forEach((r, i) => {
      const p = parseReleasePurl(r.purl);
      const name = p.namespace ? `${p.namespace}/${p.name}` : p.name;
      const sha512 = (JSON.parse(r.published) as { sha512: string }).sha512;
      // nested like a real tree: a package may be installed under another's node_modules
      const path = i % 7 === 0 ? `node_modules/holder-${i}/node_modules/${name}` : `node_modules/${name}${packages[`node_modules/${name}`] ? `-${i}` : ''}`;
      packages[path] = { name, version: p.version, resolved: `https://registry.npmjs.org/${name}/-/${p.name}-${p.version}.tgz`, integrity: `sha512-${Buffer.from(sha512, 'hex').toString('base64')}` };
    });
    for (let i = rows.length; i < entries; i++) {
      packages[`node_modules/never-seen-${i}`] = {
        version: '1.0.0',
        resolved: `https://registry.npmjs.org/never-seen-${i}/-/never-seen-${i}-1.0.0.tgz`,
        integrity: `sha512-${Buffer.alloc(64, i % 251).toString('base64')}`,
      };
    }
    return JSON.stringify({ name: 'bench-app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2);
  } finally {
    store.close();
  }
}

/** Wall time of `runs` runs of a command, in seconds. */
async function timeRuns(runs: number, run: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    samples.push((performance.now() - t0) / 1000);
  }
  return samples;
}

/**
 * P5: `quorum audit` of a 1,500-release lockfile against a local coordinator holding 20,000 decided
 * releases, next to reading the same lockfile alone: as a whole CLI process (what a CI step waits
 * for) and as the one request (`POST /v1/audit`) against the reading in-process.
 */
export async function benchP5(opts: { entries?: number; stored?: number; runs?: number } = {}): Promise<BenchRow[]> {
  const entries = opts.entries ?? 1500;
  const runs = opts.runs ?? 10;
  const store = await seededStore(opts.stored ?? 20_000);
  const dir = await mkdtemp(join(tmpdir(), 'quorum-p5-'));
  const coordinator = await startCoordinatorOn(store, { QUORUM_AUDIT_RATE_PER_MIN: '1000000' });
  try {
    const lockPath = join(dir, 'package-lock.json');
    await writeFile(lockPath, lockfileOf(store.dataDir, entries));
    const server = new URL(coordinator.url).origin;

    // the audit must say what was seeded before its time means anything
    const check = await execa(process.execPath, [CLI_BIN, 'audit', '--json', '--server', server, lockPath], { reject: false });
    const report = JSON.parse(check.stdout) as { entries: unknown[]; counts: Record<string, number> };
    const verified = (report.counts.reproducible ?? 0) + (report.counts.equivalent ?? 0);
    if (check.exitCode !== 0 || report.entries.length !== entries || verified !== Math.round(entries * 0.9)) {
      throw new Error(`quorum audit: exit ${check.exitCode}, ${report.entries?.length} entries, ${verified} verified: ${check.stderr.slice(0, 500)}`);
    }

    const readAlone = `import { readFileSync } from 'node:fs';
const { readConsumerLockfile } = await import('@quorum/builder-npm');
const r = readConsumerLockfile('package-lock.json', readFileSync(${JSON.stringify(lockPath)}, 'utf8'));
if (!r.ok || r.releases.length !== ${entries}) process.exit(1);`;
    const cli = await timeRuns(runs, async () => {
      await execa(process.execPath, [CLI_BIN, 'audit', '--json', '--server', server, lockPath]);
    });
    const alone = await timeRuns(runs, async () => {
      await execa(process.execPath, ['--input-type=module', '-e', readAlone], { cwd: join(ROOT, 'packages/cli') });
    });

    const text = await readFile(lockPath, 'utf8');
    const reading = readConsumerLockfile('package-lock.json', text);
    if (!reading.ok) throw new Error(reading.message);
    const body = JSON.stringify({ packages: reading.releases.map((r) => ({ purl: r.purl, integrity: r.integrity })) });
    const request = await timeRuns(runs * 2, async () => {
      const res = await fetch(`${server}/v1/audit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 200) throw new Error(`POST /v1/audit: HTTP ${res.status}`);
      await res.arrayBuffer();
    });
    const parse = await timeRuns(runs * 2, async () => {
      const r = readConsumerLockfile('package-lock.json', text);
      if (!r.ok) throw new Error(r.message);
    });

    const ratio = (a: number[], b: number[]) => `${(stats(a).median / stats(b).median).toFixed(1)}×`;
    return [
      {
        id: 'P5',
        measure: `quorum audit --json of a ${entries}-release package-lock.json (90% stored, ${store.label} releases stored), whole process`,
        ours: fmt(cli, 's'),
        baseline: `${fmt(alone, 's')} (a node process reading the same lockfile alone)`,
        ratio: ratio(cli, alone),
        goal: '< 1 s',
        met: stats(cli).median < 1,
      },
      {
        id: 'P5-api',
        measure: `POST /v1/audit of those ${entries} releases (one request, integrity checked)`,
        ours: fmt(
          request.map((s) => s * 1000),
          'ms',
          0,
        ),
        baseline: `${fmt(
          parse.map((s) => s * 1000),
          'ms',
          0,
        )} (reading the lockfile in-process)`,
        ratio: ratio(request, parse),
        goal: '–',
      },
    ];
  } finally {
    await coordinator.stop();
    await store.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}
