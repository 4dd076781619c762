import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './main.js';
import { Capture, closedPort } from './test-support/fake-coordinator.js';
import { farmAdminToken, farmEnv, farmWarnings, findRepoRoot, formatChildLine, runUp, type UpContext, type UpOptions } from './up.js';
import { FORGED_LINE, HOSTILE, HOSTILE_ESCAPED, RAW_CONTROL } from './test-support/hostile.js';

describe('formatChildLine', () => {
  const time = Date.parse('2025-01-01T12:34:56.789Z');
  it.each([
    ['a plain line', 'listening on 8080', 'coordinator | listening on 8080'],
    ['a pino line', JSON.stringify({ level: 30, time, pid: 1, hostname: 'h', msg: 'server listening', port: 8080 }), 'coordinator | 12:34:56 INFO  server listening port=8080'],
    [
      'structured fields',
      JSON.stringify({ level: 40, time, msg: 'job failed', releaseId: 'rel-1', purl: 'pkg:npm/a@1', note: 'two words', obj: { a: 1 } }),
      'coordinator | 12:34:56 WARN  job failed releaseId=rel-1 purl=pkg:npm/a@1 note="two words" obj={"a":1}',
    ],
    [
      'an error',
      JSON.stringify({ level: 50, time, msg: 'boom', err: { type: 'Error', message: 'redis down', stack: 'Error: redis down\n  at x' } }),
      'coordinator | 12:34:56 ERROR boom err="Error: redis down"',
    ],
    ['JSON that is not a log record', '{"a":1}', 'coordinator | {"a":1}'],
    ['broken JSON', '{not json', 'coordinator | {not json'],
  ])('prints %s readably', (_name, line, out) => {
    expect(formatChildLine('coordinator', line)).toBe(out);
  });

  it.each([
    ['a plain line', `npm notice ${HOSTILE}`],
    ['the message of a pino line', JSON.stringify({ level: 30, time, msg: `rebuild failed${HOSTILE}\n${FORGED_LINE}` })],
    ['string fields, quoted or not', JSON.stringify({ level: 40, time, msg: 'job', repo: `https://x.example/${HOSTILE}`, reason: `two words ${HOSTILE}\u2028` })],
    ['an error message', JSON.stringify({ level: 50, time, msg: 'boom', err: { type: `Error${HOSTILE}`, message: `packument says ${HOSTILE}` } })],
    ['the level', JSON.stringify({ level: `info${HOSTILE}`, msg: 'x' })],
    ['broken JSON', `{${HOSTILE}`],
  ])('escapes control characters in %s', (_name, line) => {
    const out = formatChildLine('worker-1', line);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).not.toContain('\n');
    expect(out).toMatch(/^worker-1 \| /);
    expect(out.toLowerCase()).toContain('\\u001b]0;pwned\\u0007'); // a level is shown upper-case
  });

  it('shows a hostile plain line in full, escaped', () => {
    expect(formatChildLine('worker-1', `npm notice ${HOSTILE}`)).toBe(`worker-1 | npm notice ${HOSTILE_ESCAPED}`);
  });
});

describe('farmEnv', () => {
  const parent = { PATH: '/bin', QUORUM_NPM_REGISTRY: 'http://registry.test', QUORUM_ALLOW_LOCAL_REPOS: '1', QUORUM_WORKER_ID: 'ignored' };

  it('configures the coordinator and passes the parent environment through', () => {
    const { coordinator } = farmEnv(parent, { workers: 2, port: 9090, redisPort: 6380, builders: 3, quorum: 2 }, '/data');
    expect(coordinator).toMatchObject({
      PATH: '/bin',
      QUORUM_NPM_REGISTRY: 'http://registry.test',
      QUORUM_ALLOW_LOCAL_REPOS: '1',
      QUORUM_PORT: '9090',
      QUORUM_HOST: '127.0.0.1',
      QUORUM_DATA_DIR: join('/data', 'coordinator'),
      QUORUM_REDIS_URL: 'redis://127.0.0.1:6380',
      QUORUM_BUILDERS: '3',
      QUORUM_QUORUM: '2',
    });
  });

  it('leaves the policy to the coordinator when not given', () => {
    const { coordinator } = farmEnv({}, { workers: 1, port: 1, redisPort: 2 }, '/d');
    expect(coordinator).not.toHaveProperty('QUORUM_BUILDERS');
    expect(coordinator).not.toHaveProperty('QUORUM_QUORUM');
  });

  it('gives the admin token to the coordinator only, and no worker inherits an admin or enrolment token', () => {
    const { coordinator, workers } = farmEnv({ ...parent, QUORUM_ADMIN_TOKEN: 'from-shell', QUORUM_ENROL_TOKEN: 'stale' }, { workers: 2, port: 1, redisPort: 2 }, '/d', 'farm-token');
    expect(coordinator.QUORUM_ADMIN_TOKEN).toBe('farm-token');
    for (const w of workers) {
      expect(w).not.toHaveProperty('QUORUM_ADMIN_TOKEN');
      expect(w).not.toHaveProperty('QUORUM_ENROL_TOKEN');
    }
  });

  it("gives the coordinator's Redis credentials to the coordinator only: workers fetch their own", () => {
    const admin = 'redis://quorum-coordinator:s3cret@127.0.0.1:6380';
    const { coordinator, workers } = farmEnv(parent, { workers: 2, port: 9090, redisPort: 6380 }, '/data', 'farm-token', admin);
    expect(coordinator.QUORUM_REDIS_URL).toBe(admin);
    for (const w of workers) {
      expect(w.QUORUM_REDIS_URL).toBe('redis://127.0.0.1:6380');
      expect(JSON.stringify(w)).not.toContain('s3cret');
    }
  });

  it('gives each worker its own id, operator and data dir', () => {
    const { workers } = farmEnv(parent, { workers: 2, port: 9090, redisPort: 6380 }, '/data');
    expect(workers).toHaveLength(2);
    expect(workers[1]).toMatchObject({
      QUORUM_WORKER_ID: 'worker-2',
      QUORUM_OPERATOR: 'operator-2',
      QUORUM_COORDINATOR_URL: 'http://127.0.0.1:9090',
      QUORUM_REDIS_URL: 'redis://127.0.0.1:6380',
      QUORUM_DATA_DIR: join('/data', 'worker-2'),
      QUORUM_NPM_REGISTRY: 'http://registry.test',
    });
  });
});

/** Stand-ins for the infra scripts and the two apps, as real files and processes. */
const FAKE_COORDINATOR = `
import http from 'node:http';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const out = process.env.QUORUM_TEST_OUT;
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('QUORUM_')));
writeFileSync(join(out, 'coordinator.env.json'), JSON.stringify({ ...env, startedAt: Date.now() }));
const log = (msg, extra = {}) => console.log(JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, hostname: 'h', msg, ...extra }));
const enrolled = new Set((process.env.QUORUM_TEST_ENROLLED ?? '').split(',').filter(Boolean));
if (process.env.QUORUM_TEST_NO_HEALTH) { log('never listening'); setInterval(() => {}, 1000); }
else {
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const send = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
      if (req.url === '/healthz') return send(200, {});
      if (req.method === 'POST' && req.url === '/v1/admin/workers') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        appendFileSync(join(out, 'enrolments.jsonl'), JSON.stringify({ at: Date.now(), authorization: req.headers.authorization, body }) + '\\n');
        if (req.headers.authorization !== 'Bearer ' + process.env.QUORUM_ADMIN_TOKEN) return send(403, { error: { code: 'forbidden', message: 'wrong admin token' } });
        if (process.env.QUORUM_TEST_ENROL_FAIL) return send(500, { error: { code: 'internal', message: 'store is read-only' } });
        if (enrolled.has(body.workerId)) return send(409, { error: { code: 'conflict', message: 'worker ' + body.workerId + ' is already enrolled' } });
        return send(201, { workerId: body.workerId, operator: body.operator, token: 'token-for-' + body.workerId, expiresAt: '2030-01-01T00:00:00.000Z' });
      }
      send(404, { error: { code: 'not-found', message: 'no route' } });
    });
  });
  srv.listen(Number(process.env.QUORUM_PORT), process.env.QUORUM_HOST, () => log('listening', { port: Number(process.env.QUORUM_PORT) }));
  process.on('SIGTERM', () => { log('SIGTERM received'); srv.close(() => process.exit(0)); });
}
`;

const FAKE_WORKER = `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const id = process.env.QUORUM_WORKER_ID;
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('QUORUM_')));
writeFileSync(join(process.env.QUORUM_TEST_OUT, id + '.env.json'), JSON.stringify({ ...env, startedAt: Date.now() }));
const log = (msg) => console.log(JSON.stringify({ level: 30, time: Date.now(), msg, workerId: id }));
// handlers first: a SIGTERM that arrives before them would end the process by default
if (process.env.QUORUM_TEST_STUBBORN === id) process.on('SIGTERM', () => log('ignoring SIGTERM'));
else process.on('SIGTERM', () => { log('SIGTERM received'); process.exit(0); });
log('waiting for jobs');
setInterval(() => {}, 1000);
if (process.env.QUORUM_TEST_DIE === id) setTimeout(() => { console.error('fatal: docker is gone'); process.exit(3); }, 300);
`;

/** The enrolment requests the stand-in coordinator saw, in order. */
function readEnrolments(out: string): Array<{ at: number; authorization?: string; body: unknown }> {
  const file = join(out, 'enrolments.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { at: number; authorization?: string; body: unknown });
}

describe('runUp with stand-in scripts and apps', () => {
  let dir: string;
  let root: string;
  let bins: { coordinatorBin: string; workerBin: string };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-up-test-'));
    root = join(dir, 'repo');
    mkdirSync(join(root, 'infra'), { recursive: true });
    writeFileSync(
      join(root, 'infra', 'provision.sh'),
      'echo "docker ok" >&2\nsleep "${QUORUM_TEST_PROVISION_SLEEP:-0}"\necho done > "$QUORUM_TEST_OUT/provisioned"\nexit "${QUORUM_TEST_PROVISION_EXIT:-0}"\n',
    );
    writeFileSync(join(root, 'infra', 'redis.sh'), 'echo "redis already running on $1"\necho "$1 $2" > "$QUORUM_TEST_OUT/redis-args"\n');
    chmodSync(join(root, 'infra', 'provision.sh'), 0o755);
    bins = { coordinatorBin: join(dir, 'coordinator.mjs'), workerBin: join(dir, 'worker.mjs') };
    writeFileSync(bins.coordinatorBin, FAKE_COORDINATOR);
    writeFileSync(bins.workerBin, FAKE_WORKER);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function start(opts: Partial<UpOptions>, env: NodeJS.ProcessEnv = {}, ctx: Partial<UpContext> = {}) {
    const out = mkdtempSync(join(dir, 'run-'));
    const stdout = new Capture();
    const stderr = new Capture();
    const stop = new AbortController();
    const port = await closedPort();
    const full: UpOptions = { workers: 2, port, data: 'farm-data', redisPort: 6399, provision: true, ...opts };
    const done = runUp(full, {
      stdout,
      stderr,
      env: { ...process.env, QUORUM_TEST_OUT: out, QUORUM_NPM_REGISTRY: 'http://registry.test', ...env },
      cwd: out,
      stop: stop.signal,
      root,
      ...bins,
      stopTimeoutMs: 2000,
      ...ctx,
    });
    done.catch(() => undefined);
    return { out, stdout, stderr, stop, port, done, full };
  }

  async function until(cond: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await sleep(25);
    }
  }

  /** Waits for "farm ready" and for the first output line of each of the `workers` workers. */
  async function ready(run: { stdout: Capture }, workers: number): Promise<void> {
    await until(() => run.stdout.text.includes('farm ready'));
    await until(() => Array.from({ length: workers }, (_, i) => `worker-${i + 1} | `).every((p) => run.stdout.text.includes(p)));
  }

  it('provisions, starts redis, the coordinator and the workers, reports ready, and stops them on request', async () => {
    const run = await start({ builders: 2, quorum: 2 });
    await ready(run, 2);
    expect(run.stdout.text).toContain(`farm ready: http://127.0.0.1:${run.port} (2 workers)\n`);
    expect(run.stderr.text).toMatch(/^docker ok$/m);
    expect(run.stderr.text).toMatch(/^redis already running on 6399$/m);
    expect(readFileSync(join(run.out, 'provisioned'), 'utf8')).toBe('done\n');
    expect(readFileSync(join(run.out, 'redis-args'), 'utf8')).toBe(`6399 ${join(run.out, 'farm-data', 'redis')}\n`);
    expect(run.stdout.text).toMatch(/^coordinator \| \d\d:\d\d:\d\d INFO {2}listening port=\d+$/m);
    await until(() => run.stdout.text.includes('worker-2 | '));
    expect(run.stdout.text).toMatch(/^worker-2 \| \d\d:\d\d:\d\d INFO {2}waiting for jobs workerId=worker-2$/m);

    const coordinatorEnv = JSON.parse(readFileSync(join(run.out, 'coordinator.env.json'), 'utf8'));
    expect(coordinatorEnv).toMatchObject({
      QUORUM_PORT: String(run.port),
      QUORUM_HOST: '127.0.0.1',
      QUORUM_DATA_DIR: join(run.out, 'farm-data', 'coordinator'),
      QUORUM_REDIS_URL: 'redis://127.0.0.1:6399',
      QUORUM_BUILDERS: '2',
      QUORUM_QUORUM: '2',
      QUORUM_NPM_REGISTRY: 'http://registry.test',
    });
    // "farm ready" means the workers were started, not that each has written its stand-in files yet
    await until(() => existsSync(join(run.out, 'worker-1.env.json')));
    const workerEnv = JSON.parse(readFileSync(join(run.out, 'worker-1.env.json'), 'utf8'));
    expect(workerEnv).toMatchObject({
      QUORUM_WORKER_ID: 'worker-1',
      QUORUM_OPERATOR: 'operator-1',
      QUORUM_COORDINATOR_URL: `http://127.0.0.1:${run.port}`,
      QUORUM_DATA_DIR: join(run.out, 'farm-data', 'worker-1'),
      QUORUM_NPM_REGISTRY: 'http://registry.test',
      QUORUM_ENROL_TOKEN: 'token-for-worker-1',
    });
    expect(workerEnv).not.toHaveProperty('QUORUM_ADMIN_TOKEN');

    // the admin token: generated into <data>/admin-token (0600) and given to the coordinator only
    const tokenFile = join(run.out, 'farm-data', 'admin-token');
    const adminToken = readFileSync(tokenFile, 'utf8').trim();
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(coordinatorEnv.QUORUM_ADMIN_TOKEN).toBe(adminToken);
    expect(run.stdout.text).toContain(`export QUORUM_ADMIN_TOKEN=$(cat ${tokenFile})`);

    // coordinator first, then one enrolment per worker with the admin token, then the workers
    const enrolments = readEnrolments(run.out);
    expect(enrolments.map((e) => e.body)).toEqual([
      { workerId: 'worker-1', operator: 'operator-1' },
      { workerId: 'worker-2', operator: 'operator-2' },
    ]);
    expect(enrolments.every((e) => e.authorization === `Bearer ${adminToken}`)).toBe(true);
    const workerStarts = [1, 2].map((i) => JSON.parse(readFileSync(join(run.out, `worker-${i}.env.json`), 'utf8')).startedAt as number);
    expect(Math.min(...workerStarts)).toBeGreaterThanOrEqual(Math.max(...enrolments.map((e) => e.at)));
    expect(enrolments[0]!.at).toBeGreaterThan(coordinatorEnv.startedAt);
    expect(JSON.parse(readFileSync(join(run.out, 'worker-2.env.json'), 'utf8')).QUORUM_ENROL_TOKEN).toBe('token-for-worker-2');

    run.stop.abort();
    expect(await run.done).toBe(0);
    expect(run.stdout.text).toMatch(/^coordinator \| .*SIGTERM received$/m);
    expect(run.stdout.text).toMatch(/^worker-1 \| .*SIGTERM received/m);
    expect(run.stdout.text).toMatch(/^worker-2 \| .*SIGTERM received/m);
    expect(run.stdout.text).toContain('farm stopped; Redis (port 6399) and Docker were left running');
  }, 20_000);

  it('reuses the admin token and starts already enrolled workers without a token on a later run', async () => {
    const data = mkdtempSync(join(dir, 'data-'));
    const first = await start({ workers: 2, provision: false, data });
    await ready(first, 2);
    first.stop.abort();
    expect(await first.done).toBe(0);
    const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();

    // worker-1 kept its key from the first run; worker-2 lost its data dir
    mkdirSync(join(data, 'worker-1', 'keys'), { recursive: true });
    writeFileSync(join(data, 'worker-1', 'keys', 'signing-key.pem'), 'key', { mode: 0o600 });
    const second = await start({ workers: 2, provision: false, data }, { QUORUM_TEST_ENROLLED: 'worker-1,worker-2' });
    await ready(second, 2);
    expect(JSON.parse(readFileSync(join(second.out, 'coordinator.env.json'), 'utf8')).QUORUM_ADMIN_TOKEN).toBe(token);
    expect(JSON.parse(readFileSync(join(second.out, 'worker-1.env.json'), 'utf8'))).not.toHaveProperty('QUORUM_ENROL_TOKEN');
    expect(second.stderr.text).toContain(`worker-1 is already enrolled (key in ${join(data, 'worker-1', 'keys')})`);
    expect(second.stderr.text).toContain(`warning: worker-2 is enrolled with the coordinator, but ${join(data, 'worker-2', 'keys', 'signing-key.pem')} is missing`);
    expect(second.stdout.text).not.toContain('(new)');
    second.stop.abort();
    expect(await second.done).toBe(0);
  }, 20_000);

  it('uses QUORUM_ADMIN_TOKEN of its environment for the coordinator and never passes it to workers', async () => {
    const run = await start({ workers: 1, provision: false }, { QUORUM_ADMIN_TOKEN: 'shell-token' });
    await ready(run, 1);
    expect(JSON.parse(readFileSync(join(run.out, 'coordinator.env.json'), 'utf8')).QUORUM_ADMIN_TOKEN).toBe('shell-token');
    expect(JSON.parse(readFileSync(join(run.out, 'worker-1.env.json'), 'utf8'))).not.toHaveProperty('QUORUM_ADMIN_TOKEN');
    expect(existsSync(join(run.out, 'farm-data', 'admin-token'))).toBe(false);
    expect(readEnrolments(run.out)[0]!.authorization).toBe('Bearer shell-token');
    run.stop.abort();
    expect(await run.done).toBe(0);
  }, 20_000);

  it('stops the coordinator and starts no worker when enrolment fails', async () => {
    const run = await start({ workers: 2, provision: false }, { QUORUM_TEST_ENROL_FAIL: '1' });
    await expect(run.done).rejects.toThrow('cannot enrol worker-1 with the coordinator: store is read-only; stopped the farm');
    expect(existsSync(join(run.out, 'worker-1.env.json'))).toBe(false);
    expect(run.stdout.text).toMatch(/^coordinator \| .*SIGTERM received$/m);
  }, 20_000);

  it('skips provisioning with provision: false', async () => {
    const run = await start({ provision: false, workers: 1 });
    await until(() => run.stdout.text.includes('farm ready'));
    expect(existsSync(join(run.out, 'provisioned'))).toBe(false);
    run.stop.abort();
    expect(await run.done).toBe(0);
  }, 20_000);

  it('stops everything and fails when a child dies on its own', async () => {
    const run = await start({ workers: 3 }, { QUORUM_TEST_DIE: 'worker-2' });
    await expect(run.done).rejects.toThrow('worker-2 exited unexpectedly (exit code 3); stopped the farm');
    expect(run.stderr.text).toContain('worker-2 | fatal: docker is gone');
    expect(run.stdout.text).toMatch(/^coordinator \| .*SIGTERM received$/m);
    expect(run.stdout.text).toMatch(/^worker-3 \| .*SIGTERM received/m);
  }, 20_000);

  it('kills a child that ignores SIGTERM after the grace period', async () => {
    const run = await start({ workers: 1 }, { QUORUM_TEST_STUBBORN: 'worker-1' }, { stopTimeoutMs: 300 });
    await ready(run, 1);
    run.stop.abort();
    expect(await run.done).toBe(0);
    expect(run.stdout.text).toContain('worker-1 | ');
    expect(run.stdout.text).toContain('killing worker-1 (still running after SIGTERM)');
  }, 20_000);

  it('fails when provisioning fails, before starting anything', async () => {
    const run = await start({}, { QUORUM_TEST_PROVISION_EXIT: '7' });
    await expect(run.done).rejects.toThrow(/infra\/provision\.sh failed \(exit code 7\)/);
    expect(existsSync(join(run.out, 'coordinator.env.json'))).toBe(false);
  });

  it('exits 0 when interrupted during provisioning', async () => {
    const run = await start({}, { QUORUM_TEST_PROVISION_SLEEP: '5' });
    await until(() => run.stderr.text.includes('docker ok'));
    run.stop.abort();
    expect(await run.done).toBe(0);
    expect(existsSync(join(run.out, 'coordinator.env.json'))).toBe(false);
  });

  it('gives up when the coordinator never becomes healthy', async () => {
    const run = await start({ workers: 1, provision: false }, { QUORUM_TEST_NO_HEALTH: '1' }, { healthTimeoutMs: 500, stopTimeoutMs: 300 });
    await expect(run.done).rejects.toThrow(/did not answer http:\/\/127\.0\.0\.1:\d+\/healthz with 200 within 1 s \(last: no answer\); stopped the farm/);
  }, 20_000);
});

describe('farmAdminToken', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-admin-token-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a random token in <data>/admin-token readable by the owner only, and reuses it', () => {
    const data = join(dir, 'farm');
    const first = farmAdminToken(data, {});
    expect(first).toMatchObject({ file: join(data, 'admin-token'), created: true });
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(join(data, 'admin-token'), 'utf8')).toBe(`${first.token}\n`);
    expect(statSync(join(data, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(farmAdminToken(data, {})).toEqual({ token: first.token, file: join(data, 'admin-token'), created: false });
    expect(farmAdminToken(join(dir, 'other'), {}).token).not.toBe(first.token);
  });

  it('takes QUORUM_ADMIN_TOKEN when set and writes no file', () => {
    const data = join(dir, 'from-env');
    expect(farmAdminToken(data, { QUORUM_ADMIN_TOKEN: 'shell-token' })).toEqual({ token: 'shell-token', created: false });
    expect(existsSync(join(data, 'admin-token'))).toBe(false);
  });
});

describe('farmWarnings', () => {
  it.each([
    ['enough workers for the default policy', { workers: 3 }, {}, []],
    ['fewer workers than builders', { workers: 2 }, {}, ['2 worker(s) for 3 builders per release; releases will use at most 2']],
    ['fewer workers than the quorum', { workers: 1 }, {}, ['1 worker(s) can never reach a quorum of 2; every verdict will be "failed"']],
    ['a policy from the inherited environment', { workers: 3 }, { QUORUM_BUILDERS: '5', QUORUM_QUORUM: '4' }, ['3 worker(s) can never reach a quorum of 4; every verdict will be "failed"']],
    ['options over the environment', { workers: 2, builders: 2, quorum: 2 }, { QUORUM_BUILDERS: '5' }, []],
  ])('handles %s', (_name, opts, env, warnings) => {
    expect(farmWarnings(opts, env)).toEqual(warnings);
  });
});

describe('quorum up options', () => {
  it.each([
    [['up', '--workers', '0'], /^quorum: option '--workers <n>' argument '0' is invalid/],
    [['up', '--port', '70000'], /^quorum: option '--port <port>' argument '70000' is invalid/],
    [['up', '--builders', '2', '--quorum', '3'], /^quorum: --quorum 3 cannot exceed --builders 2$/m],
  ])('rejects %j', async (argv, message) => {
    const out = new Capture();
    const err = new Capture();
    const stop = new AbortController();
    expect(await runCli(argv, { stdout: out, stderr: err, env: {}, stop: stop.signal })).toBe(1);
    expect(err.text).toMatch(message);
  });
});

describe('findRepoRoot', () => {
  it('finds the checkout this package lives in', () => {
    const here = new URL('.', import.meta.url).pathname;
    const root = findRepoRoot(here);
    if (root) expect(existsSync(join(root, 'infra', 'provision.sh'))).toBe(true);
    else expect(root).toBeUndefined(); // infra/provision.sh not written yet
  });

  it('answers undefined outside a checkout', () => {
    expect(findRepoRoot(tmpdir())).toBeUndefined();
  });
});
