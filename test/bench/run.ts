/**
 * The benchmark suite: every figure next to its baseline measured in the same run, on the machine
 * at hand. Benchmarks never fail on a number; each row says whether its goal was met.
 *
 *   npm run bench [-- --only P1,P3]   (P2-real: --only P2-real)
 */
import { cpus, totalmem } from 'node:os';
import { execa } from 'execa';
import { benchP1P2 } from './p1-p2-farm.js';
import { benchP2Real } from './p2-real.js';
import { benchP3 } from './p3-compare.js';
import { benchP4 } from './p4-status-load.js';
import { benchP4Live } from './p4-live.js';
import { benchP5 } from './p5-audit.js';
import { benchP6 } from './p6-diff.js';
import { benchP7 } from './p7-lockfiles.js';
import { benchP8 } from './p8-dashboard.js';
import { benchP9 } from './p9-gate.js';
import { renderTable, type BenchRow } from './report.js';

const only = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1]!.split(',').map((s) => s.trim().toUpperCase())) : undefined;
})();
const want = (...ids: string[]) => !only || ids.some((id) => only.has(id));

const docker = (await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false })).stdout.trim() || 'unknown';
const machine = `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Docker ${docker}, Node ${process.version}`;
process.stderr.write(`bench: ${machine}\n`);

const rows: BenchRow[] = [];
const run = async (name: string, bench: () => Promise<BenchRow[]>) => {
  process.stderr.write(`bench: ${name} …\n`);
  const t0 = performance.now();
  rows.push(...(await bench()));
  process.stderr.write(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
};
if (want('P1', 'P2')) await run('P1+P2 farm', () => benchP1P2());
if (want('P2-REAL', 'P2REAL')) await run('P2-real releases that build like real packages', () => benchP2Real());
if (want('P3')) await run('P3 stabilized compare', () => benchP3());
if (want('P4')) await run('P4 status under load', () => benchP4());
if (want('P4-LIVE', 'P4LIVE')) await run('P4-live answers on a live farm', () => benchP4Live());
if (want('P5')) await run('P5 lockfile audit', () => benchP5());
if (want('P6')) await run('P6 diff vs diffoscope', () => benchP6());
if (want('P8')) await run('P8 dashboard pages', () => benchP8());
if (want('P7')) await run('P7 lockfile readers on hostile input', () => benchP7());
if (want('P9')) await run('P9 npm ci through the install gate', () => benchP9());

console.log(`Machine: ${machine}\n`);
console.log(renderTable(rows));
