import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { npmBuilder } from '@quorum/builder-npm';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { ProcessFarm } from './farm-process.js';
import { plainRunFlags } from './plain-docker.js';
import { fmt, peakRssMiB, renderTable, stats, type BenchRow } from './report.js';

const INDEX = `'use strict';\nmodule.exports = (a, b) => a + b;\n`;

/** The baseline container: the same image and the same `npm pack`, with nothing of the farm around it. */
async function bareRun(image: string, src: string): Promise<number> {
  const out = await mkdtemp(join(tmpdir(), 'quorum-bare-out-'));
  await execa('chmod', ['0777', out]);
  const t0 = performance.now();
  await execa('docker', [
    'run',
    ...plainRunFlags({ tmpSize: '512m', user: '1000:1000' }),
    '-e',
    'HOME=/tmp/home',
    '-v',
    `${src}:/src:ro`,
    '-v',
    `${out}:/out`,
    image,
    'sh',
    '-c',
    'mkdir -p /tmp/home /tmp/w && cp -R /src/. /tmp/w && cd /tmp/w && npm pack --pack-destination /out >/dev/null',
  ]);
  const ms = performance.now() - t0;
  await rm(out, { recursive: true, force: true });
  return ms;
}

async function imageId(): Promise<string> {
  return (await execa('docker', ['image', 'inspect', '-f', '{{.Id}}', npmBuilder.imageTag])).stdout.trim();
}

/**
 * P1 (farm overhead on one pack-only release, 3 builders) and P2 (sustained throughput of 50
 * releases verified 3-of-3), each against plain `docker run`s of the same image and build.
 */
export async function benchP1P2(opts: { p1Runs?: number; p2Releases?: number } = {}): Promise<BenchRow[]> {
  const p1Runs = opts.p1Runs ?? 5;
  const p2Releases = opts.p2Releases ?? 50;
  const image = await imageId();
  const farm = await new ProcessFarm({ workers: 3, builders: 3, quorum: 3 }).start();
  const rows: BenchRow[] = [];
  try {
    // P1: one release at a time
    const e2e: number[] = [];
    const overhead: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < p1Runs; i++) {
      const pkg = await makeGitPackage(join(farm.dir, 'p1', `v${i}`), { 'package.json': packageJson('p1-pkg', `1.0.${i}`), 'index.js': INDEX }, `v1.0.${i}`);
      await publishFromGit(farm.registry, pkg, { how: 'image' });
      const t0 = performance.now();
      const view = await farm.decided(await farm.submit(`pkg:npm/p1-pkg@1.0.${i}`));
      const total = performance.now() - t0;
      if (view.verdict?.verdict !== 'reproducible') throw new Error(`P1 release decided ${view.verdict?.verdict}`);
      e2e.push(total / 1000);
      overhead.push((total - Math.max(...view.rebuilds.map((r) => r.durations.buildMs ?? 0))) / 1000);
      bare.push((await bareRun(image, pkg.dir)) / 1000);
    }
    const o = stats(overhead).median;
    const ratio = stats(e2e).median / stats(bare).median;
    rows.push({
      id: 'P1',
      measure: 'submit → signed verdict, 1 pack-only release, 3 builders',
      ours: `${fmt(e2e, 's')}; overhead ${fmt(overhead, 's')}`,
      baseline: `bare docker run ${fmt(bare, 's')}`,
      ratio: `${ratio.toFixed(2)}×; overhead ${o.toFixed(2)} s`,
      goal: 'overhead ≤ 1.0 s; e2e ≤ 2× bare',
      met: o <= 1.0 && ratio <= 2,
      note: "overhead = end to end minus the slowest builder's container run (create, start and removal of containers, git clone, downloads, hashing, signing and queue round trips count as overhead)",
    });

    // P2: many releases at once
    const names: { purl: string; dir: string }[] = [];
    for (let i = 0; i < p2Releases; i++) {
      const name = `p2-pkg-${i}`;
      const pkg = await makeGitPackage(join(farm.dir, 'p2', name), { 'package.json': packageJson(name, '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
      await publishFromGit(farm.registry, pkg, { how: 'host' });
      names.push({ purl: `pkg:npm/${name}@1.0.0`, dir: pkg.dir });
    }
    const t0 = performance.now();
    const ids = await Promise.all(names.map((n) => farm.submit(n.purl)));
    const views = await Promise.all(ids.map((id) => farm.decided(id)));
    const farmS = (performance.now() - t0) / 1000;
    const verified = views.filter((v) => v.verdict?.verdict === 'reproducible' || v.verdict?.verdict === 'equivalent').length;
    const coordinatorRss = await peakRssMiB(farm.coordinator.pid!);
    const workerRss = await peakRssMiB(farm.workers[0]!.pid!);
    // baseline: the same 150 containers in a plain shell loop, 3 at a time
    const srcs = join(farm.dir, 'p2-srcs');
    await mkdir(srcs, { recursive: true });
    const list: string[] = [];
    for (const n of names) {
      const copy = join(srcs, n.purl.replace(/\W+/g, '_'));
      await cp(n.dir, copy, { recursive: true, filter: (s) => !/[/]\.git([/]|$)/.test(s) });
      list.push(copy, copy, copy);
    }
    const loop = `xargs -P 3 -I{} sh -c 'o=$(mktemp -d); chmod 777 "$o"; docker run ${plainRunFlags({ tmpSize: '512m', user: '1000:1000' }).join(' ')} -e HOME=/tmp/home -v "{}":/src:ro -v "$o":/out ${image} sh -c "mkdir -p /tmp/home /tmp/w && cp -R /src/. /tmp/w && cd /tmp/w && npm pack --pack-destination /out >/dev/null"; rm -rf "$o"'`;
    const l0 = performance.now();
    await execa('bash', ['-c', loop], { input: list.join('\n') });
    const loopS = (performance.now() - l0) / 1000;
    const share = p2Releases / farmS / (p2Releases / loopS);
    rows.push({
      id: 'P2',
      measure: `${p2Releases} pack-only releases verified 3-of-3 (${verified} verified)`,
      ours: `${(p2Releases / farmS).toFixed(2)} releases/s (${farmS.toFixed(1)} s)`,
      baseline: `shell loop, ${p2Releases * 3} containers, -P 3: ${(p2Releases / loopS).toFixed(2)}/s (${loopS.toFixed(1)} s)`,
      ratio: `${(share * 100).toFixed(0)}% of the loop`,
      goal: '≥ 70% of the loop',
      met: share >= 0.7,
      note: `peak RSS during P1+P2: coordinator ${coordinatorRss?.toFixed(0) ?? '?'} MiB, one worker ${workerRss?.toFixed(0) ?? '?'} MiB`,
    });
  } finally {
    await farm.stop();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(renderTable(await benchP1P2()));
}
