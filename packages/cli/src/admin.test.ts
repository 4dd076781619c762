import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@quorum/attest';
import { runCli } from './main.js';
import { Capture, FakeCoordinator, type FakeAnswer, type SeenRequest } from './test-support/fake-coordinator.js';

const ADMIN = 'admin-secret';

async function quorum(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runCli(argv, { stdout: out, stderr: err, env });
  return { code, stdout: out.text, stderr: err.text };
}

/** The admin API as the coordinator answers it: bearer token, 201 with a token or key id, 409 for enrolled workers. */
function adminApi(req: SeenRequest): FakeAnswer {
  if (req.headers.authorization !== `Bearer ${ADMIN}`) {
    return { status: 403, json: { error: { code: 'forbidden', message: 'admin endpoints need `Authorization: Bearer <admin token>` (QUORUM_ADMIN_TOKEN)' } } };
  }
  if (req.method === 'POST' && req.url === '/v1/admin/workers') {
    const body = JSON.parse(req.body) as { workerId: string; operator: string; publicKey?: string };
    if (body.workerId === 'worker-1' && !body.publicKey)
      return { status: 409, json: { error: { code: 'conflict', message: 'worker worker-1 is already enrolled; give its public key to replace the key' } } };
    if (body.publicKey) return { status: 201, json: { workerId: body.workerId, operator: body.operator, keyId: keyIdFor(body.publicKey) } };
    return { status: 201, json: { workerId: body.workerId, operator: body.operator, token: 'one-time-token', expiresAt: '2030-01-02T00:00:00.000Z' } };
  }
  if (req.method === 'GET' && req.url === '/v1/admin/rejections') return { status: 200, json: rejections };
  return { status: 404, json: { error: { code: 'not-found', message: 'no route' } } };
}

let keyIdFor: (pem: string) => string;
let rejections: unknown[] = [];
const fake = new FakeCoordinator();
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'quorum-admin-test-'));
  await fake.start();
});
afterAll(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.handle = adminApi;
  rejections = [];
});

describe('quorum admin enrol', () => {
  it('asks for a one-time token with the admin token from the environment and prints how to start the worker', async () => {
    const r = await quorum(['admin', 'enrol', 'worker-4', '--operator', 'acme', '--server', fake.url], { QUORUM_ADMIN_TOKEN: ADMIN });
    expect(r.code).toBe(0);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'POST', url: '/v1/admin/workers' });
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${ADMIN}`);
    expect(JSON.parse(fake.requests[0]!.body)).toEqual({ workerId: 'worker-4', operator: 'acme' });
    expect(r.stdout).toContain('one-time enrolment token for worker-4 (operator acme), valid until 2030-01-02T00:00:00.000Z:\n\n  one-time-token\n');
    expect(r.stdout).toContain(`QUORUM_ENROL_TOKEN=one-time-token QUORUM_WORKER_ID=worker-4 QUORUM_OPERATOR=acme QUORUM_COORDINATOR_URL=${fake.url}`);
    expect(r.stdout).toContain('node packages/worker/dist/bin.js');
  });

  it('takes --admin-token and prints the answer with --json', async () => {
    const r = await quorum(['admin', 'enrol', 'worker-4', '--operator', 'Example Org', '--admin-token', ADMIN, '--json', '--server', fake.url]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ workerId: 'worker-4', operator: 'Example Org', token: 'one-time-token', expiresAt: '2030-01-02T00:00:00.000Z' });
  });

  it('enrols a public key directly and prints its key id', async () => {
    const keys = generateKeyPair();
    keyIdFor = () => keys.keyId;
    const file = join(dir, 'signing-key.pub.pem');
    writeFileSync(file, keys.publicKeyPem);
    const r = await quorum(['admin', 'enrol', 'worker-5', '--operator', 'acme', '--public-key', file, '--server', fake.url], { QUORUM_ADMIN_TOKEN: ADMIN });
    expect(r.code).toBe(0);
    expect(JSON.parse(fake.requests[0]!.body)).toEqual({ workerId: 'worker-5', operator: 'acme', publicKey: keys.publicKeyPem });
    expect(r.stdout).toMatch(new RegExp(`^enrolled worker-5 \\(operator acme\\) with key ${keys.keyId}$`, 'm'));
    expect(r.stdout).not.toContain('QUORUM_ENROL_TOKEN');
  });

  it('fails when the coordinator answers another key id than the one of the file', async () => {
    const keys = generateKeyPair();
    keyIdFor = () => generateKeyPair().keyId;
    const file = join(dir, 'other.pub.pem');
    writeFileSync(file, keys.publicKeyPem);
    const r = await quorum(['admin', 'enrol', 'worker-5', '--operator', 'acme', '--public-key', file, '--server', fake.url], { QUORUM_ADMIN_TOKEN: ADMIN });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^quorum: the coordinator answered sha256:[0-9a-f]{64} for the key of .*, whose id is sha256:[0-9a-f]{64}\n$/);
  });

  it('never sends a private key', async () => {
    const file = join(dir, 'signing-key.pem');
    writeFileSync(file, generateKeyPair().privateKeyPem);
    const r = await quorum(['admin', 'enrol', 'worker-5', '--operator', 'acme', '--public-key', file, '--server', fake.url], { QUORUM_ADMIN_TOKEN: ADMIN });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`quorum: ${file} holds a private key; give the worker's public key`);
    expect(fake.requests).toHaveLength(0);
  });

  it.each([
    [
      'no admin token',
      ['worker-4', '--operator', 'acme'],
      {},
      /^quorum: admin commands need the coordinator's admin token: set QUORUM_ADMIN_TOKEN or pass --admin-token \(a farm started by `quorum up` keeps it in \.quorum\/admin-token: export QUORUM_ADMIN_TOKEN=\$\(cat \.quorum\/admin-token\)\)$/m,
    ],
    ['no operator', ['worker-4'], { QUORUM_ADMIN_TOKEN: ADMIN }, /^quorum: required option '--operator <name>' not specified$/m],
    ['a bad worker id', ['Worker 4', '--operator', 'acme'], { QUORUM_ADMIN_TOKEN: ADMIN }, /^quorum: worker id "Worker 4" must match/m],
  ])('exits 1 before any request for %s', async (_name, args, env, message) => {
    const r = await quorum(['admin', 'enrol', ...args, '--server', fake.url], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(fake.requests).toHaveLength(0);
  });

  it.each([
    ['a wrong admin token', 'wrong', 'worker-4', 'quorum: admin endpoints need `Authorization: Bearer <admin token>` (QUORUM_ADMIN_TOKEN)\n'],
    ['an enrolled worker', ADMIN, 'worker-1', 'quorum: worker worker-1 is already enrolled; give its public key to replace the key\n'],
  ])("passes the coordinator's refusal through for %s", async (_name, token, workerId, stderr) => {
    const r = await quorum(['admin', 'enrol', workerId, '--operator', 'acme', '--server', fake.url], { QUORUM_ADMIN_TOKEN: token });
    expect(r).toMatchObject({ code: 1, stdout: '', stderr });
  });
});

describe('quorum admin rejections', () => {
  const list = [
    {
      seq: 2,
      at: '2025-01-01T00:02:00.000Z',
      workerId: 'worker-2',
      rebuildId: 'rb-7',
      reason: 'bad-signature',
      detail: 'the DSSE signature does not verify with key sha256:ab',
      bundleSha256: 'f'.repeat(64),
    },
    { seq: 1, at: '2025-01-01T00:01:00.000Z', reason: 'unknown-key', detail: 'request signed by a key no worker is enrolled with' },
  ];

  it('prints a table', async () => {
    rejections = list;
    const r = await quorum(['admin', 'rejections', '--server', fake.url], { QUORUM_ADMIN_TOKEN: ADMIN });
    expect(r.code).toBe(0);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${ADMIN}`);
    expect(r.stdout).toMatch(/^SEQ +AT +WORKER +REBUILD +REASON +DETAIL$/m);
    expect(r.stdout).toMatch(/^2 +2025-01-01T00:02:00.000Z +worker-2 +rb-7 +bad-signature +the DSSE signature does not verify with key sha256:ab$/m);
    expect(r.stdout).toMatch(/^1 +2025-01-01T00:01:00.000Z +- +- +unknown-key +request signed/m);
  });

  it('prints the list with --json, and says when it is empty', async () => {
    rejections = list;
    expect(JSON.parse((await quorum(['admin', 'rejections', '--json', '--admin-token', ADMIN, '--server', fake.url])).stdout)).toEqual(list);
    rejections = [];
    expect((await quorum(['admin', 'rejections', '--admin-token', ADMIN, '--server', fake.url])).stdout).toBe('no rejected reports or enrolments\n');
  });
});
