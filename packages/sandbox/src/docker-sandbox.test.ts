// Runs against the real Docker engine and the npm builder image (builders/npm/image/build.sh).
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS, QuorumError, type BuildPlan, type SandboxRunOptions } from '@quorum/core';
import Dockerode from 'dockerode';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CappedLog } from './capped-log.js';
import { BUILD_HOSTNAME, containerSpec, validatePlan } from './container-spec.js';
import { DockerSandbox } from './docker-sandbox.js';
import { DiskScratch } from './disk-scratch.js';

const IMAGE_TAG = 'quorum/npm-builder:bookworm';
const docker = new Dockerode({ socketPath: '/var/run/docker.sock' });
const sandbox = new DockerSandbox({ docker });
const image = await sandbox.imageDigest(IMAGE_TAG);
const noImage = image === undefined;
if (noImage) console.warn(`[sandbox tests] image ${IMAGE_TAG} is absent: engine tests skipped (build it with builders/npm/image/build.sh)`);

/** Unique per test file run: every container made here carries it. */
const RUN_LABEL = { 'quorum.test.run': randomUUID() };

let sourceDir = '';
let outputDir = '';
let testLabels: Record<string, string> = {};

function plan(argv: string[], limits: Partial<BuildPlan['limits']> = {}): BuildPlan {
  return {
    image: image ?? `sha256:${'0'.repeat(64)}`,
    argv,
    env: { TZ: 'UTC', LANG: 'C.UTF-8', HOME: '/tmp/home', SOURCE_DATE_EPOCH: '1700000000' },
    sourceMount: '/src',
    outputMount: '/out',
    artifactGlob: '*.txt',
    workdir: '/tmp',
    user: '1000:1000',
    limits: { ...DEFAULT_LIMITS, timeoutMs: 20_000, memoryBytes: 256 * 1024 * 1024, ...limits },
  };
}

function run(argv: string[], limits: Partial<BuildPlan['limits']> = {}, options: SandboxRunOptions = {}, sb = sandbox) {
  return sb.run(plan(argv, limits), { sourceDir, outputDir }, { labels: testLabels, ...options });
}

async function containersWith(labels: Record<string, string>): Promise<number> {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  return (await docker.listContainers({ all: true, filters })).length;
}

beforeEach(async () => {
  sourceDir = await mkdtemp(join(tmpdir(), 'quorum-sandbox-src-'));
  outputDir = await mkdtemp(join(tmpdir(), 'quorum-sandbox-out-'));
  await writeFile(join(sourceDir, 'input.txt'), 'original source\n');
  testLabels = { ...RUN_LABEL, 'quorum.test.case': randomUUID() };
});

afterEach(async () => {
  if (!noImage) expect(await containersWith(testLabels), 'containers left behind').toBe(0);
  await rm(sourceDir, { recursive: true, force: true });
  await rm(outputDir, { recursive: true, force: true });
});

afterAll(async () => {
  // Safety net only; each test already asserts that nothing is left.
  await new DockerSandbox({ docker }).removeOrphans(RUN_LABEL);
});

describe('containerSpec', () => {
  it('expresses the hermetic build contract exactly', () => {
    const p = { ...plan(['sh', '-c', 'true']), image: `sha256:${'a'.repeat(64)}` };
    const spec = containerSpec(p, { sourceDir: '/jobs/1/src', outputDir: '/jobs/1/out' }, { job: '1' }, { init: true, cpus: 2 });
    expect(spec).toEqual({
      Image: p.image,
      Entrypoint: [],
      Cmd: ['sh', '-c', 'true'],
      Env: ['TZ=UTC', 'LANG=C.UTF-8', 'HOME=/tmp/home', 'SOURCE_DATE_EPOCH=1700000000'],
      WorkingDir: '/tmp',
      User: '1000:1000',
      Hostname: BUILD_HOSTNAME,
      Labels: { job: '1' },
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: false,
      Tty: false,
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Privileged: false,
        PidsLimit: 256,
        Memory: 256 * 1024 * 1024,
        MemorySwap: 256 * 1024 * 1024,
        NanoCpus: 1_000_000_000,
        Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${DEFAULT_LIMITS.scratchBytes},mode=1777` },
        Binds: ['/jobs/1/src:/src:ro', '/jobs/1/out:/out:rw'],
        Init: true,
        AutoRemove: false,
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'none', Config: {} },
      },
    });
  });

  it('binds disk scratch at /tmp instead of a tmpfs when the sandbox has it', () => {
    const spec = containerSpec(plan(['true']), { sourceDir: '/s', outputDir: '/o' }, {}, { init: true, cpus: 2 }, '/scratch/1/mnt');
    expect(spec.HostConfig).not.toHaveProperty('Tmpfs');
    expect(spec.HostConfig?.Binds).toEqual(['/scratch/1/mnt:/tmp:rw', '/s:/src:ro', '/o:/out:rw']);
  });

  it('leaves Init out when the engine has no init binary and clamps CPUs to the host', () => {
    const p = plan(['true'], { cpus: 8 });
    const spec = containerSpec(p, { sourceDir: '/s', outputDir: '/o' }, {}, { init: false, cpus: 2 });
    expect(spec.HostConfig).not.toHaveProperty('Init');
    expect(spec.HostConfig?.NanoCpus).toBe(2_000_000_000);
  });

  it.each([['0'], ['0:0'], ['root'], ['root:1000'], ['1000:0'], ['000'], ['']])('refuses to run as root or the image default (user %j)', (user) => {
    const p = { ...plan(['true']), image: `sha256:${'a'.repeat(64)}`, user };
    expect(() => validatePlan(p)).toThrow(QuorumError);
  });

  it.each([
    ['an unpinned image tag', { image: 'quorum/npm-builder:bookworm' }],
    ['an empty argv', { argv: [] }],
    ['unlimited pids', { limits: { ...DEFAULT_LIMITS, pids: 0 } }],
    ['a relative mount', { sourceMount: 'src' }],
    ['the source mount inside the output mount', { sourceMount: '/out/src' }],
    ['a mount over the scratch tmpfs', { outputMount: '/tmp/out' }],
  ])('refuses %s', (_name, patch) => {
    const p = { ...plan(['true']), image: `sha256:${'a'.repeat(64)}`, ...patch } as BuildPlan;
    expect(() => validatePlan(p)).toThrow(/build plan rejected/);
  });
});

describe('CappedLog', () => {
  it('keeps whole characters, marks truncation once and always appends notes', () => {
    const chunks: string[] = [];
    const log = new CappedLog(10, (c) => chunks.push(c));
    log.push('stdout', Buffer.from('héllo '));
    log.push('stderr', Buffer.from('wörld and more'));
    log.push('stdout', Buffer.from('dropped'));
    log.note('build killed after 1 s (timeout)');
    expect(log.truncated).toBe(true);
    expect(log.text()).toBe('héllo wö\n[quorum] log truncated at 10 bytes; further build output was discarded\n[quorum] build killed after 1 s (timeout)\n');
    expect(chunks.join('')).toBe(log.text());
  });

  it('reassembles characters split across chunks', () => {
    const log = new CappedLog(100);
    const bytes = Buffer.from('€');
    log.push('stdout', bytes.subarray(0, 1));
    log.push('stdout', bytes.subarray(1));
    expect(log.text()).toBe('€');
  });
});

describe.skipIf(noImage)(`DockerSandbox on the real engine (${IMAGE_TAG})`, () => {
  it('runs a build that writes its output to the output mount', async () => {
    const chunks: string[] = [];
    const r = await run(['sh', '-c', 'echo "built at $SOURCE_DATE_EPOCH" > /out/out.txt; echo to-stdout; echo to-stderr >&2'], {}, { onLog: (c) => chunks.push(c) });
    expect(r.outcome).toBe('ok');
    expect(r.exitCode).toBe(0);
    expect(await readFile(join(outputDir, 'out.txt'), 'utf8')).toBe('built at 1700000000\n');
    expect(r.log).toContain('to-stdout\n');
    expect(r.log).toContain('to-stderr\n');
    expect(chunks.join('')).toBe(r.log);
    expect(r.logTruncated).toBe(false);
    expect(r.containerId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the build no network: only lo, no routes, no name resolution', async () => {
    const probe = `
      const net = require('net'), dns = require('dns');
      const s = net.connect({ host: '1.1.1.1', port: 80, timeout: 3000 });
      s.on('connect', () => { console.log('CONNECT-OK'); process.exit(0); });
      s.on('timeout', () => { console.log('CONNECT-TIMEOUT'); s.destroy(); });
      s.on('error', (e) => console.log('CONNECT-FAILED ' + e.code));
      dns.lookup('registry.npmjs.org', (e) => console.log(e ? 'DNS-FAILED ' + e.code : 'DNS-OK'));`;
    const p = plan(['sh', '-c', 'cat /proc/net/dev; hostname; node -e "$PROBE"']);
    const r = await sandbox.run({ ...p, env: { ...p.env, PROBE: probe } }, { sourceDir, outputDir }, { labels: testLabels });
    expect(r.outcome).toBe('ok');
    const interfaces = r.log
      .split('\n')
      .filter((l) => /^\s*[\w.-]+:\s+\d/.test(l))
      .map((l) => l.trim().split(':')[0]);
    expect(interfaces).toEqual(['lo']);
    expect(r.log).toContain(`${BUILD_HOSTNAME}\n`);
    expect(r.log).toMatch(/CONNECT-FAILED (ENETUNREACH|EHOSTUNREACH|ECONNREFUSED)/);
    expect(r.log).toMatch(/DNS-FAILED (EAI_AGAIN|ENOTFOUND)/);
    expect(r.log).not.toMatch(/CONNECT-OK|DNS-OK/);
  });

  it('keeps the root filesystem read-only', async () => {
    const r = await run(['node', '-e', "require('fs').writeFileSync('/usr/local/probe', 'x')"]);
    expect(r.outcome).toBe('error');
    expect(r.exitCode).not.toBe(0);
    expect(r.log).toContain('EROFS');
  });

  it('keeps the source mount read-only and the host source untouched', async () => {
    const before = await stat(join(sourceDir, 'input.txt'));
    const r = await run(['node', '-e', "const fs = require('fs'); fs.writeFileSync('/src/input.txt', 'tampered'); fs.writeFileSync('/src/new.txt', 'x')"]);
    expect(r.outcome).toBe('error');
    expect(r.log).toContain('EROFS');
    expect(await readdir(sourceDir)).toEqual(['input.txt']);
    expect(await readFile(join(sourceDir, 'input.txt'), 'utf8')).toBe('original source\n');
    expect((await stat(join(sourceDir, 'input.txt'))).mtimeMs).toBe(before.mtimeMs);
  });

  it('mounts fetched inputs read-only where the plan says, and nowhere writable', async () => {
    const inputsDir = await mkdtemp(join(tmpdir(), 'quorum-sandbox-in-'));
    try {
      await writeFile(join(inputsDir, 'dep.tgz'), 'locked dependency\n');
      const p = { ...plan(['sh', '-c', 'exec 2>&1; cat /inputs/dep.tgz; echo x > /inputs/dep.tgz || echo refused; echo y > /inputs/new || echo refused-new']), inputsMount: '/inputs' };
      const r = await sandbox.run(p, { sourceDir, outputDir, inputsDir });
      expect(r.log).toContain('locked dependency');
      // one stream (exec 2>&1): the engine's separate stdout and stderr would interleave mid-line
      expect(r.log).toContain('Read-only file system');
      expect(r.log).toMatch(/^refused$/m);
      expect(r.log).toMatch(/^refused-new$/m);
      expect(await readdir(inputsDir)).toEqual(['dep.tgz']);
      expect(await readFile(join(inputsDir, 'dep.tgz'), 'utf8')).toBe('locked dependency\n');
    } finally {
      await rm(inputsDir, { recursive: true, force: true });
    }
  });

  it('lets a resolution reach the registry-view socket on its read-only mount, and nothing else through it', async () => {
    const registryDir = await mkdtemp(join(tmpdir(), 'quorum-sandbox-reg-'));
    const { createServer } = await import('node:http');
    const { chmod } = await import('node:fs/promises');
    const server = createServer((req, res) => res.end(`view answered ${req.method} ${req.url}`));
    try {
      await new Promise<void>((r) => server.listen(join(registryDir, 'registry.sock'), r));
      await chmod(join(registryDir, 'registry.sock'), 0o666);
      const script = [
        'exec 2>&1',
        `node -e "require('http').get({ socketPath: '/registry/registry.sock', path: '/left-pad' }, (r) => r.on('data', (d) => console.log(String(d))))"`,
        'echo x > /registry/new || echo refused-new',
      ].join('; ');
      const p = { ...plan(['sh', '-c', script]), registryMount: '/registry' };
      const r = await sandbox.run(p, { sourceDir, outputDir, registryDir });
      expect(r.log).toContain('view answered GET /left-pad');
      expect(r.log).toMatch(/^refused-new$/m);
      expect((await readdir(registryDir)).sort()).toEqual(['registry.sock']);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(registryDir, { recursive: true, force: true });
    }
  });

  it('refuses a registry mount over another mount or a system path', () => {
    expect(() => validatePlan({ ...plan(['true']), image: `sha256:${'a'.repeat(64)}`, registryMount: '/out/registry' })).toThrow(/must not contain each other/);
    expect(() => validatePlan({ ...plan(['true']), image: `sha256:${'a'.repeat(64)}`, registryMount: '/tmp/registry' })).toThrow(/would shadow/);
  });

  it('refuses an inputs mount inside the output mount', () => {
    const p = { ...plan(['true']), image: `sha256:${'a'.repeat(64)}`, inputsMount: '/out/inputs' };
    expect(() => validatePlan(p)).toThrow(/must not contain each other/);
  });

  it('runs as uid 1000 with no capabilities, no-new-privileges and an init process', async () => {
    const r = await run(['sh', '-c', 'id -u; id -g; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs):" /proc/self/status; cat /proc/1/comm']);
    expect(r.outcome).toBe('ok');
    const lines = r.log.split('\n');
    expect(lines[0]).toBe('1000');
    expect(lines[1]).toBe('1000');
    expect(r.log).toMatch(/^CapEff:\s+0{16}$/m);
    expect(r.log).toMatch(/^CapPrm:\s+0{16}$/m);
    expect(r.log).toMatch(/^CapBnd:\s+0{16}$/m);
    expect(r.log).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(lines[6]).toMatch(/init|tini/);
  });

  it('kills a build at the wall-clock limit', async () => {
    const r = await run(['sh', '-c', 'echo started; sleep 30; echo finished'], { timeoutMs: 1500 });
    expect(r.outcome).toBe('timeout');
    // 137 = 128 + SIGKILL: the container was killed, not waited for
    expect(r.exitCode).toBe(137);
    expect(r.log).toMatch(/^started$/m);
    expect(r.log).not.toContain('finished');
    expect(r.log).toContain('[quorum] build killed after 1.5 s (timeout)');
  });

  it('kills a build when the caller aborts', async () => {
    const ac = new AbortController();
    // aborted once the build is seen running, so that the kill, not the start, is what is tested
    const onLog = (chunk: string) => {
      if (chunk.includes('started')) ac.abort();
    };
    const r = await run(['sh', '-c', 'echo started; sleep 30; echo finished'], {}, { signal: ac.signal, onLog });
    expect(r.outcome).toBe('aborted');
    expect(r.exitCode).toBe(137);
    expect(r.log).not.toContain('finished');
    expect(r.log).toMatch(/\[quorum\] build aborted by the caller/);
  });

  it('does not start a build whose signal is already aborted', async () => {
    const r = await run(['sh', '-c', 'echo ran > /out/out.txt'], {}, { signal: AbortSignal.abort() });
    expect(r.outcome).toBe('aborted');
    expect(await readdir(outputDir)).toEqual([]);
  });

  it('ends a memory hog at the memory limit instead of hanging', async () => {
    const r = await run(['node', '-e', 'const keep = []; for (;;) keep.push(Buffer.alloc(8 << 20, 1));'], { memoryBytes: 64 * 1024 * 1024, timeoutMs: 20_000 });
    // a hog that hung would be killed at the wall-clock limit: outcome 'timeout'
    expect(['oom', 'error']).toContain(r.outcome);
    expect(r.exitCode).not.toBe(0);
    if (r.outcome === 'oom') expect(r.log).toMatch(/\[quorum\] build killed by the memory limit \(64 MiB/);
  });

  it('caps a flood of output with a truncation marker', async () => {
    const small = new DockerSandbox({ docker, logCapBytes: 64 * 1024 });
    const chunks: string[] = [];
    const r = await run(['sh', '-c', 'yes quorum-flood | head -c 5000000; echo END-OF-FLOOD'], {}, { onLog: (c) => chunks.push(c) }, small);
    expect(r.outcome).toBe('ok');
    expect(r.logTruncated).toBe(true);
    expect(Buffer.byteLength(r.log)).toBeLessThan(64 * 1024 + 200);
    expect(r.log).toContain('[quorum] log truncated at 65536 bytes');
    expect(r.log).not.toContain('END-OF-FLOOD');
    expect(chunks.join('')).toBe(r.log);
  });

  it('honours the pids limit', async () => {
    const r = await run(['sh', '-c', 'for i in $(seq 100); do sleep 5 & done; wait; echo ALL-STARTED'], { pids: 32, timeoutMs: 15_000 });
    expect(r.outcome).toBe('error');
    expect(r.log).not.toContain('ALL-STARTED');
    expect(r.log).toMatch(/fork/i);
  });

  it('reports a command that cannot be started as a build error', async () => {
    const r = await run(['/no/such/binary']);
    expect(r.outcome).toBe('error');
    expect(r.exitCode).toBe(127);
    expect(r.log).toMatch(/\/no\/such\/binary.*(No such file|not found)/);
  });

  it('throws not-found for a missing image and refuses root before creating anything', async () => {
    const missing = { ...plan(['true']), image: `sha256:${'0'.repeat(64)}` };
    await expect(sandbox.run(missing, { sourceDir, outputDir }, { labels: testLabels })).rejects.toMatchObject({ name: 'QuorumError', code: 'not-found' });
    await expect(sandbox.run({ ...plan(['true']), user: '0:0' }, { sourceDir, outputDir }, { labels: testLabels })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(sandbox.run(plan(['true']), { sourceDir, outputDir: join(sourceDir, 'nope') }, { labels: testLabels })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(sandbox.run(plan(['true']), { sourceDir: '/var/run', outputDir }, { labels: testLabels })).rejects.toThrow(/Docker socket/);
  });

  it('resolves image digests and reports missing images as undefined', async () => {
    expect(image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await sandbox.imageDigest(image!)).toBe(image);
    expect(await sandbox.imageDigest('quorum/no-such-image:never')).toBeUndefined();
  });

  it('throws internal when the engine is unreachable', async () => {
    const gone = new DockerSandbox({ socketPath: join(tmpdir(), 'quorum-no-such-docker.sock') });
    await expect(gone.imageDigest(IMAGE_TAG)).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/unreachable/) });
    await expect(gone.run(plan(['true']), { sourceDir, outputDir })).rejects.toMatchObject({ code: 'internal' });
  });

  it('removes orphaned containers by label', async () => {
    const left = await docker.createContainer({ Image: image!, Cmd: ['sleep', '30'], Labels: testLabels, HostConfig: { NetworkMode: 'none' } });
    await left.start();
    expect(await containersWith(testLabels)).toBe(1);
    expect(await sandbox.removeOrphans(testLabels)).toBe(1);
    expect(await containersWith(testLabels)).toBe(0);
    expect(await sandbox.removeOrphans(testLabels)).toBe(0);
    await expect(sandbox.removeOrphans({})).rejects.toMatchObject({ code: 'invalid-input' });
  });

  describe('with disk scratch', () => {
    let base = '';
    beforeEach(async () => {
      base = await mkdtemp(join(tmpdir(), 'quorum-sandbox-scratch-'));
    });
    afterEach(async () => {
      expect(await mountsUnder(base), 'scratch mounts left behind').toEqual([]);
      expect(await readdir(base), 'scratch files left behind').toEqual([]);
      await rm(base, { recursive: true, force: true });
    });

    it('gives a build more scratch than its memory and the old 512 MiB tmpfs, and nothing beyond its size', async () => {
      const disk = new DockerSandbox({ docker, scratch: new DiskScratch(base) });
      const limits = { scratchBytes: 1024 * 2 ** 20, memoryBytes: 256 * 2 ** 20 };
      // 700 MiB in a 256 MiB container: a tmpfs would be charged to its memory and killed
      const fits = await run(['sh', '-c', 'dd if=/dev/zero of=/tmp/big bs=1M count=700 status=none && ls -ld /tmp && echo WROTE'], limits, {}, disk);
      expect(fits.outcome, fits.log).toBe('ok');
      expect(fits.log).toMatch(/^drwxrwxrwt .*\/tmp\nWROTE/m);
      const over = await run(['sh', '-c', 'dd if=/dev/zero of=/tmp/big bs=1M count=1100 status=none'], limits, {}, disk);
      expect(over.outcome).toBe('error');
      expect(over.log).toMatch(/No space left on device/);
    });

    it('starts every build with an empty scratch', async () => {
      const disk = new DockerSandbox({ docker, scratch: new DiskScratch(base) });
      expect((await run(['sh', '-c', 'touch /tmp/left-over && ls -A /tmp'], { scratchBytes: 64 * 2 ** 20 }, {}, disk)).log.trim()).toBe('left-over');
      expect((await run(['sh', '-c', 'ls -A /tmp; echo END'], { scratchBytes: 64 * 2 ** 20 }, {}, disk)).log.trim()).toBe('END');
    });

    it('removes the scratch a crashed worker left mounted', async () => {
      const area = await new DiskScratch(base).create(32 * 2 ** 20);
      expect(await mountsUnder(base)).toEqual([area.dir]);
      expect(await new DiskScratch(base).removeStale()).toBe(1);
    });
  });
});

/** Mount points below a directory, from this process's mount table. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${dir}/`));
}
