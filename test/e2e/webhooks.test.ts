import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { verifyBundle, webhookSignatureProblem } from '@quorum/attest';
import type { VerdictEvent } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, ROOT } from './farm.js';

const INDEX = `'use strict';\nmodule.exports = (a, b) => a + b;\n`;

/** One delivery as the receiver got it. */
interface Delivery {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A submitter's real HTTP receiver: it records every delivery and answers with the next status of
 * its script for that path (then 200).
 */
class Receiver {
  readonly deliveries: Delivery[] = [];
  readonly script = new Map<string, number[]>();
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.deliveries.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const status = this.script.get(path)?.shift() ?? 200;
        res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  at(path: string): Delivery[] {
    return this.deliveries.filter((d) => d.path === path);
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('verdict callbacks (webhooks)', () => {
  const receiver = new Receiver();
  let farm: Farm;

  beforeAll(async () => {
    await receiver.start();
    // the receiver is on loopback, which the coordinator calls only when the operator allows it
    farm = new Farm({
      workers: 2,
      builders: 2,
      quorum: 2,
      env: { QUORUM_CALLBACK_ALLOW: `127.0.0.1:${receiver.port}`, QUORUM_CALLBACK_BACKOFF_MS: '200', QUORUM_CALLBACK_ATTEMPTS: '4', QUORUM_CALLBACK_MAX_WAITING: '3' },
    });
    await farm.start();
  }, 180_000);
  afterAll(async () => {
    await farm?.stop();
    await receiver.stop();
  }, 60_000);

  it("POSTs the verdict, signed with the coordinator's key and carrying the signed VSA, retrying through the receiver's failures", async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/adder'), { 'package.json': packageJson('adder', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    // the receiver is down twice (503, then 500) before it takes the delivery
    receiver.script.set('/hooks/adder', [503, 500]);
    const cli = await execa(
      'node',
      [
        join(ROOT, 'packages/cli/bin/quorum.js'),
        'submit',
        'pkg:npm/adder@1.0.0',
        '--callback',
        `http://127.0.0.1:${receiver.port}/hooks/adder`,
        '--token',
        farm.submitToken,
        '--wait',
        '--json',
        '--server',
        farm.url,
      ],
      { reject: false },
    );
    expect(cli.exitCode, cli.stderr).toBe(0);
    const view = JSON.parse(cli.stdout) as { verdict: string; release: { id: string } };
    expect(view.verdict).toBe('reproducible');
    await farm.waitFor(async () => receiver.at('/hooks/adder').length >= 3, 60_000, 'the third attempt');
    const attempts = receiver.at('/hooks/adder');
    expect(attempts.map((d) => d.headers['x-quorum-attempt'])).toEqual(['1', '2', '3']);
    // one delivery: the same id and body every time
    expect(new Set(attempts.map((d) => d.headers['x-quorum-delivery'])).size).toBe(1);
    const delivered = attempts[2]!;
    const event = JSON.parse(delivered.body) as VerdictEvent;
    expect(event).toMatchObject({ event: 'verdict', release: { id: view.release.id, purl: 'pkg:npm/adder@1.0.0', canonical: true, verdict: 'reproducible', url: `/v1/releases/${view.release.id}` } });

    // the receiver checks it with the key from the trust file, as a consumer pins it
    const keys = await farm.json<{ coordinator: { keyId: string; publicKeyPem: string } }>('GET', '/v1/keys');
    expect(webhookSignatureProblem(delivered.headers['x-quorum-signature'] as string, delivered.body, keys.coordinator.publicKeyPem, keys.coordinator.keyId)).toBeUndefined();
    expect(
      webhookSignatureProblem(delivered.headers['x-quorum-signature'] as string, delivered.body.replace('reproducible', 'mismatch!!!!'), keys.coordinator.publicKeyPem, keys.coordinator.keyId),
    ).toBe('the signature does not match the body');
    // and the VSA inside is the signed verdict itself, checkable offline like any attestation
    const vsa = await verifyBundle(event.vsa!, [{ keyId: keys.coordinator.keyId, publicKeyPem: keys.coordinator.publicKeyPem }]);
    expect((vsa.statement.predicate as { verificationResult: string }).verificationResult).toBe('PASSED');

    // nothing more once delivered
    const after = receiver.at('/hooks/adder').length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.at('/hooks/adder').length).toBe(after);
  });

  it('gives up after the configured attempts, and a callback needs a submit token and an address the coordinator may call', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/adder2'), { 'package.json': packageJson('adder2', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    receiver.script.set('/hooks/down', [500, 500, 500, 500, 500, 500]);
    const anonymous = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/adder2@1.0.0', callback: `http://127.0.0.1:${receiver.port}/hooks/down` });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { message: string } }).error.message).toMatch(/a callback needs a submit token/);
    const auth = { authorization: `Bearer ${farm.submitToken}` };
    // the cloud metadata address, a port of loopback the operator did not allow, and the farm's own
    // registry, which the builds may reach but a submitter's callback may not
    for (const url of ['http://169.254.169.254/latest/meta-data/', `http://127.0.0.1:${receiver.port + 1}/x`, `${farm.registry.url}/adder2`]) {
      const refused = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/adder2@1.0.0', callback: url }, auth);
      expect(refused.status, url).toBe(422);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('egress-refused');
    }
    expect((await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/adder2@1.0.0', callback: 'file:///etc/passwd' }, auth)).status).toBe(400);

    const accepted = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/adder2@1.0.0', callback: `http://127.0.0.1:${receiver.port}/hooks/down` }, auth);
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    expect((await farm.decided(id)).verdict?.verdict).toBe('reproducible');
    await farm.waitFor(async () => farm.coordinator.ctx.store.callbacksOf(id)[0]?.state === 'failed', 60_000, 'the callback to be given up');
    expect(receiver.at('/hooks/down')).toHaveLength(4);
    expect(farm.coordinator.ctx.store.callbacksOf(id)[0]).toMatchObject({ attempts: 4, lastError: 'the receiver answered HTTP 500' });
  });

  it('keeps at most QUORUM_CALLBACK_MAX_WAITING callbacks of one submit token waiting, and refuses the next with 429 before doing anything', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/adder3'), { 'package.json': packageJson('adder3', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const auth = { authorization: `Bearer ${farm.submitToken}` };
    const hook = (n: number) => `http://127.0.0.1:${receiver.port}/hooks/many-${n}`;
    for (let n = 1; n <= 4; n++) receiver.script.set(`/hooks/many-${n}`, [500, 500, 500, 500]);
    let id = '';
    for (let n = 1; n <= 3; n++) {
      const res = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/adder3@1.0.0', callback: hook(n) }, auth);
      expect(res.status).toBe(202);
      id = ((await res.json()) as { id: string }).id;
    }
    const refused = await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/adder3@1.0.0', callback: hook(4) }, auth);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/has 3 callbacks waiting/);
    // the refused one was never recorded: three callbacks of the one release, all given up in the end
    expect(farm.coordinator.ctx.store.callbacksOf(id)).toHaveLength(3);
    await farm.decided(id);
    await farm.waitFor(async () => farm.coordinator.ctx.store.callbacksOf(id).every((c) => c.state === 'failed'), 60_000, 'the callbacks to be given up');
    expect(receiver.at('/hooks/many-4')).toHaveLength(0);
    // none waiting any more: the token may ask again
    receiver.script.set('/hooks/many-4', [200]);
    expect((await farm.request('POST', '/v1/releases', { purl: 'pkg:npm/adder3@1.0.0', callback: hook(4) }, auth)).status).toBe(202);
  });

  it('holds the callback cap when submissions with callbacks arrive at once', async () => {
    const admin = { authorization: `Bearer ${farm.adminToken}` };
    const issued = (await (await farm.request('POST', '/v1/admin/submitters', { name: 'racer' }, admin)).json()) as { token: string };
    const auth = { authorization: `Bearer ${issued.token}` };
    // distinct new releases: each submission fetches the registry's metadata before it records anything
    for (let n = 0; n < 6; n++) {
      farm.registry.publish({ tarball: Buffer.from(`racer ${n}`), manifest: { name: 'racer-pkg', version: `1.0.${n}`, repository: { type: 'git', url: 'https://example.invalid/racer.git' } } });
      receiver.script.set(`/hooks/racer-${n}`, [500, 500, 500, 500]);
    }
    const answers = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((n) => farm.request('POST', '/v1/releases', { purl: `pkg:npm/racer-pkg@1.0.${n}`, callback: `http://127.0.0.1:${receiver.port}/hooks/racer-${n}` }, auth)),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    expect(farm.coordinator.ctx.store.waitingCallbackCount('racer')).toBeLessThanOrEqual(3);
  });
});
