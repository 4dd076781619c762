import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Regular expressions that read the repository's own files before any size-aware parser backtrack super-linearly, synchronously, on the
 * worker's event loop. The job deadline (an AbortSignal) cannot stop a running regular expression, so
 * the worker stops heartbeating, the coordinator moves the rebuild to the next worker, which hangs on
 * the same file, and so on for every worker of the farm. Anyone can trigger it: publish a package
 * whose repository commits such a file, and submit its purl (no token needed).
 *
 * The decision runs in a child process here, so that this test fails by timeout instead of hanging
 * the test runner the way it hangs a worker.
 */
const DECIDE_INPUTS = fileURLToPath(new URL('./decide-inputs.ts', import.meta.url));

/** Runs decideNpmInputs on the files in a child process; undefined when it did not finish in `ms`. */
function decideWithin(files: Record<string, string>, ms: number): { ok: boolean; elapsedMs: number; out: string } {
  const code = `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import { decideNpmInputs } from ${JSON.stringify(DECIDE_INPUTS)};
const files = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const d = decideNpmInputs(files, { node: '22.12.0', npm: '10.9.0' }, 'http://registry.test');
console.log(JSON.stringify(d.problem ?? 'no problem'));`;
  const started = Date.now();
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { input: JSON.stringify(files), timeout: ms, encoding: 'utf8' });
  return { ok: res.status === 0, elapsedMs: Date.now() - started, out: `${res.error?.message ?? ''}${res.stdout}${res.stderr}`.slice(0, 500) };
}

const BUILDS = JSON.stringify({ name: 'victim', version: '1.0.0', scripts: { build: 'node build.js' }, devDependencies: { ms: '2.1.3' } });

describe('regular expressions over repository files', () => {
  it('decides a yarn project without packageManager whose yarn.lock is "__metadata:" and 64 KiB of newlines in seconds, not hours', () => {
    // inferYarn: /^__metadata:\s*\n\s+version:.../m backtracks polynomially: 8,000 newlines take ~1 s,
    // 32,000 take ~9 s; the 32 MiB a plan file may have is beyond any deadline
    const lock = `__metadata:${'\n'.repeat(64 * 1024)}x`;
    const got = decideWithin({ 'package.json': BUILDS, 'yarn.lock': lock }, 10_000);
    expect(got.ok, `decideNpmInputs did not finish within 10 s (${got.elapsedMs} ms): ${got.out}`).toBe(true);
  }, 60_000);

  it('decides a yarn 2+ project whose .yarnrc.yml is "yarnPath:", 16 KiB of spaces and "#" in seconds, not hours', () => {
    // yarnPathIn: /^yarnPath:\s*["']?([^"'\n#]{1,200}?)["']?\s*$/m backtracks cubically over the spaces
    // after "yarnPath:" when the line ends in a character the path cannot hold: 1,000 spaces take ~1 s,
    // 4,000 take ~27 s; 16 KiB is hours
    const lock = `__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"ms@npm:2.1.3":\n  version: 2.1.3\n  resolution: "ms@npm:2.1.3"\n  checksum: 10c0/${'ab'.repeat(64)}\n  languageName: node\n  linkType: hard\n`;
    const manifest = JSON.stringify({ ...JSON.parse(BUILDS), packageManager: 'yarn@4.0.0' });
    const yarnrc = `yarnPath:${' '.repeat(16 * 1024)}#\n`;
    const got = decideWithin({ 'package.json': manifest, 'yarn.lock': lock, '.yarnrc.yml': yarnrc }, 10_000);
    expect(got.ok, `decideNpmInputs did not finish within 10 s (${got.elapsedMs} ms): ${got.out}`).toBe(true);
  }, 60_000);
});
