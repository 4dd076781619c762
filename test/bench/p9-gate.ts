/**
 * P9: `npm ci` of a 1,000-package lockfile through the install gate (every package verified, the
 * gate's cache warm) next to `npm ci` of the same lockfile straight from the same local registry,
 * interleaved in one run. Each install starts with an empty npm cache, so every tarball is fetched.
 *
 *   npx tsx test/bench/run.ts --only P9
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { execa, type ResultPromise } from 'execa';
import tar from 'tar-stream';
import { SqliteStore } from '@quorum/coordinator';
import { freePort, ROOT } from '../e2e/farm.js';
import { LocalRegistry } from '../fixtures/registry-server.js';
import { digests, seedDecided, seededStore, startCoordinatorOn, stopChild } from './p4-status-load.js';
import { fmt, stats, type BenchRow } from './report.js';

const CLI = join(ROOT, 'packages/cli/bin/quorum.js');

/** A small npm package tarball: package.json and one module, as npm packs them. */
async function tarballOf(name: string, version: string): Promise<Buffer> {
  const pack = tar.pack();
  const mtime = new Date('1985-10-26T08:15:00Z');
  pack.entry({ name: 'package/package.json', mtime, mode: 0o644 }, JSON.stringify({ name, version, main: 'index.js' }, null, 2));
  pack.entry({ name: 'package/index.js', mtime, mode: 0o644 }, `module.exports = ${JSON.stringify(`${name}@${version}`)};\n${'// padding\n'.repeat(200)}`);
  pack.finalize();
  const chunks: Buffer[] = [];
  const gz = pack.pipe(createGzip());
  for await (const c of gz) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `npm ci` of the project in a copy with its own empty cache; the wall time in seconds. */
async function npmCi(project: { dir: string; lock: string }, registry: string, scratch: string, n: number): Promise<number> {
  const dir = join(scratch, `run-${n}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), await readFile(join(project.dir, 'package.json')));
  await writeFile(join(dir, 'package-lock.json'), project.lock);
  const t0 = performance.now();
  await execa('npm', ['ci', `--registry=${registry}/`, '--replace-registry-host=always', '--ignore-scripts', '--no-audit', '--no-fund', '--fetch-retries=0', `--cache=${join(dir, '.npm-cache')}`], {
    cwd: dir,
    env: { npm_config_update_notifier: 'false' },
  });
  const s = (performance.now() - t0) / 1000;
  await rm(dir, { recursive: true, force: true });
  return s;
}

export async function benchP9(opts: { packages?: number; runs?: number } = {}): Promise<BenchRow[]> {
  const count = opts.packages ?? 1000;
  const runs = opts.runs ?? 3;
  const registry = await new LocalRegistry().start();
  const scratch = await mkdtemp(join(tmpdir(), 'quorum-p9-'));
  let gate: ResultPromise | undefined;
  const published: { purl: string; name: string; version: string; tarball: Buffer; url: string; integrity: string }[] = [];
  for (let i = 0; i < count; i++) {
    // every fourth package scoped, as in real trees
    const name = i % 4 === 0 ? `@bench-scope/gated-${i}` : `gated-${i}`;
    const version = `1.${i % 7}.0`;
    const tarball = await tarballOf(name, version);
    const { tarballUrl, integrity } = registry.publish({ tarball, manifest: { name, version } });
    const purl = `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${version}`;
    published.push({ purl, name, version, tarball, url: tarballUrl, integrity });
  }
  const store = await seededStore(count, (dataDir) => {
    const db = new SqliteStore(join(dataDir, 'quorum.sqlite'));
    try {
      db.db.transaction(() =>
        published.forEach((p, n) =>
          seedDecided(db, n, p.purl, digests(p.tarball.length, { sha256: createHash('sha256').update(p.tarball).digest('hex'), sha512: createHash('sha512').update(p.tarball).digest('hex') }), {
            url: p.url,
            integrity: p.integrity,
            filename: p.url.slice(p.url.lastIndexOf('/') + 1),
          }),
        ),
      )();
    } finally {
      db.close();
    }
    return published[1]!.purl;
  });
  const coordinator = await startCoordinatorOn(store, { QUORUM_AUDIT_RATE_PER_MIN: '1000000', QUORUM_NPM_REGISTRY: registry.url });
  try {
    const lock = (base: string) =>
      JSON.stringify({
        name: 'p9-consumer',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'p9-consumer', version: '1.0.0', dependencies: Object.fromEntries(published.map((p) => [p.name, p.version])) },
          ...Object.fromEntries(published.map((p) => [`node_modules/${p.name}`, { version: p.version, resolved: p.url.replace(registry.url, base), integrity: p.integrity }])),
        },
      });
    const project = { dir: join(scratch, 'project'), lock: lock(registry.url) };
    await mkdir(project.dir);
    await writeFile(
      join(project.dir, 'package.json'),
      JSON.stringify({ name: 'p9-consumer', version: '1.0.0', private: true, dependencies: Object.fromEntries(published.map((p) => [p.name, p.version])) }),
    );

    const port = await freePort();
    const gateUrl = `http://127.0.0.1:${port}`;
    const server = new URL(coordinator.url).origin;
    gate = execa('node', [CLI, 'gate', '--port', String(port), '--upstream', registry.url, '--server', server, '--cache-dir', join(scratch, 'gate-cache')], {
      env: { QUORUM_STATE_DIR: join(scratch, 'state') },
      stdio: ['ignore', 'pipe', 'ignore'],
      reject: false,
    });
    let out = '';
    gate.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let t = 0; !out.includes('gate listening on'); t++) {
      if (t > 300) throw new Error('the gate did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // warm-up: the gate's tarball cache, and both paths' first-run costs
    process.stderr.write(`bench: P9 warm-up (${count} packages)\n`);
    const warm = await npmCi(project, gateUrl, scratch, 0);
    await npmCi(project, registry.url, scratch, 1);
    const direct: number[] = [];
    const gated: number[] = [];
    for (let r = 0; r < runs; r++) {
      direct.push(await npmCi(project, registry.url, scratch, 10 + r));
      gated.push(await npmCi(project, gateUrl, scratch, 20 + r));
      process.stderr.write(`bench: P9 run ${r + 1}/${runs}: direct ${direct.at(-1)!.toFixed(1)} s, gate ${gated.at(-1)!.toFixed(1)} s\n`);
    }
    // every tarball went through a decision, and none was refused
    const metrics = await (await fetch(`${gateUrl}/-/quorum/metrics`)).text();
    const served = Number(/quorum_gate_tarballs_total\{outcome="served",policy="block-mismatch"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    if (served < count * (runs + 1)) throw new Error(`the gate served ${served} tarballs, expected ${count * (runs + 1)}: not every install went through it`);
    const ratio = stats(gated).median / stats(direct).median;
    return [
      {
        id: 'P9',
        measure: `npm ci of a ${count}-package lockfile through quorum gate (all verified, gate cache warm), empty npm cache`,
        ours: fmt(gated, 's', 1),
        baseline: `${fmt(direct, 's', 1)} (npm ci straight from the same local registry)`,
        ratio: `${ratio.toFixed(2)}×`,
        goal: '≤ 1.2×',
        met: ratio <= 1.2,
        note: `first install through the gate (cold cache: every tarball downloaded, hashed, audited) ${warm.toFixed(1)} s; ${served} tarballs served, none refused`,
      },
    ];
  } finally {
    if (gate) await stopChild(gate);
    await coordinator.stop();
    await store.dispose();
    await registry.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
