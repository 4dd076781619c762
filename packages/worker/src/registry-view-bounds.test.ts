import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Builder, BuildPlan, Sandbox, SandboxMounts, SandboxResult } from '@quorum/core';
import { egressPolicy } from '@quorum/net';
import { BuildSlots } from './build-slots.js';
import { REGISTRY_SOCKET, RegistryView } from './registry-view.js';
import { resolveDependencies } from './resolve-dependencies.js';

/** The registry view under a resolution that asks for much at once: its bounds hold. */

function get(socketPath: string, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('registry view under a resolution that asks many things at once ', () => {
  let upstream: Server;
  let registry: string;
  let dir: string;
  const DOC = 4 * 2 ** 20;
  // one body for every answer, allocated once: the test process's own upstream adds nothing per request
  const body = Buffer.alloc(DOC, 0x61);
  const held: (() => void)[] = [];
  beforeAll(async () => {
    // a registry (a mirror, a proxy) that sends most of each document at once and the rest later:
    // every request the resolver has in flight is buffered by the view meanwhile
    upstream = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': DOC });
      res.write(body.subarray(0, DOC - 1024));
      held.push(() => res.end(body.subarray(DOC - 1024)));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    registry = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'quorum-view-bounds-'));
  });
  afterAll(async () => {
    for (const release of held.splice(0)) release();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('holds no more than maxTotalBytes of registry documents in the worker, however many requests are in flight', async () => {
    // npm opens up to 15 sockets at once (npm 6: 50): the view fetches a few at a time, and what is in
    // flight counts against the total
    const maxTotalBytes = 8 * 2 ** 20;
    const view = await RegistryView.start(dir, {
      registry,
      policy: egressPolicy({ allowOrigins: [registry] }),
      signal: new AbortController().signal,
      maxDocumentBytes: 8 * 2 ** 20,
      maxTotalBytes,
      maxConcurrent: 2,
    });
    try {
      const answers = Promise.all(Array.from({ length: 12 }, (_, i) => get(join(dir, REGISTRY_SOCKET), `/doc-${i}`)));
      for (let i = 0; i < 100 && held.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      for (const release of held.splice(0)) release();
      // later requests are answered as their turn comes: release each as it arrives
      const releaser = setInterval(() => held.splice(0).forEach((release) => release()), 20);
      await answers.finally(() => clearInterval(releaser));
      expect(view.stats.peakHeldBytes, 'bytes of documents held at once').toBeLessThanOrEqual(maxTotalBytes);
      expect(view.stats.peakHeldBytes).toBeGreaterThan(0);
    } finally {
      await view.close();
    }
  });
});

describe('a resolution over the view limits is a fact about the release, not a registry fault ', () => {
  let upstream: Server;
  let registry: string;
  let work: string;
  beforeAll(async () => {
    // an honest, healthy registry: every package exists and answers at once
    upstream = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"name":${JSON.stringify(req.url)}}`));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    registry = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    work = await mkdtemp(join(tmpdir(), 'quorum-resolve-bounds-'));
  });
  afterAll(async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
    await rm(work, { recursive: true, force: true });
  });

  it('reports a package.json whose tree needs more registry documents than the bound as ok: false, not as upstream-unavailable', async () => {
    // the requests follow the release's own package.json: every worker would cross the bound the same
    // way, so it is a fact about the release, never a fault that sends the rebuild to the next worker
    const sandbox: Sandbox = {
      async run(_plan: BuildPlan, mounts: SandboxMounts): Promise<SandboxResult> {
        const socket = join(mounts.registryDir!, REGISTRY_SOCKET);
        let next = 0;
        const statuses: number[] = [];
        await Promise.all(
          Array.from({ length: 32 }, async () => {
            for (let i = next++; i <= 200; i = next++) statuses.push((await get(socket, `/pkg-${i}`)).status);
          }),
        );
        const failed = statuses.filter((s) => s !== 200).length;
        return { exitCode: failed ? 1 : 0, outcome: failed ? 'error' : 'ok', durationMs: 1, log: failed ? `npm ERR! ${failed} requests refused\n` : '', logTruncated: false, containerId: 'fake' };
      },
      imageDigest: async () => 'sha256:' + '0'.repeat(64),
      removeOrphans: async () => 0,
    } as unknown as Sandbox;
    const builder = { ecosystem: 'npm', resolvePlan: () => ({ limits: { timeoutMs: 1000 } }) as unknown as BuildPlan } as unknown as Builder;
    const outcome = resolveDependencies({
      builder,
      request: { files: { 'package.json': '{}' }, lockfile: 'package-lock.json' },
      purl: { ecosystem: 'npm', name: 'big-tree', version: '1.0.0' } as never,
      toolchain: {},
      image: 'sha256:' + '0'.repeat(64),
      limits: { timeoutMs: 1000 } as never,
      tools: { tools: {}, install: false, dependencyCount: 0 },
      workDir: work,
      inputsDir: work,
      registry,
      policy: egressPolicy({ allowOrigins: [registry] }),
      sandbox,
      slots: new BuildSlots(1),
      signal: new AbortController().signal,
      labels: {},
      viewLimits: { maxRequests: 200 },
    });
    await expect(outcome).resolves.toMatchObject({ ok: false });
  }, 300_000);
});
