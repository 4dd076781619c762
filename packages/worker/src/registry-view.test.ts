import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { egressPolicy } from '@quorum/net';
import { REGISTRY_SOCKET, RegistryView, viewPath } from './registry-view.js';

/** One request over the view's socket, as the forwarder in a build container makes it. */
function get(socketPath: string, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('viewPath', () => {
  it('accepts registry paths and refuses anything that could name another place', () => {
    expect(viewPath('/left-pad')).toBe('/left-pad');
    expect(viewPath('/@scope%2fname')).toBe('/@scope%2fname');
    for (const bad of ['left-pad', '//evil.example/x', '/a?b', '/a#b', '/../x', '/a/%2e%2e/b', '/a\\b', 'http://evil.example/', '/%zz', '/a%00']) expect(viewPath(bad), bad).toBeUndefined();
  });
});

describe('RegistryView', () => {
  let upstream: Server;
  let registry: string;
  let dir: string;
  const hits: string[] = [];
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      if (req.url === '/pkg') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"pkg"}');
      if (req.url === '/big') return void res.writeHead(200, { 'content-type': 'application/json' }).end('x'.repeat(5000));
      if (req.url === '/broken') return void res.writeHead(503).end();
      res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    registry = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'quorum-view-'));
  });
  afterAll(async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('serves documents read through the egress policy, answers 404 for a missing package, refuses writes', async () => {
    const view = await RegistryView.start(dir, { registry, policy: egressPolicy({ allowOrigins: [registry] }), signal: new AbortController().signal });
    const socket = join(dir, REGISTRY_SOCKET);
    try {
      expect((await stat(socket)).mode & 0o777).toBe(0o666);
      expect(await get(socket, '/pkg')).toEqual({ status: 200, body: '{"name":"pkg"}' });
      expect((await get(socket, '/nothing')).status).toBe(404);
      expect((await get(socket, '/pkg', 'PUT')).status).toBe(405);
      expect((await get(socket, '/../etc/passwd')).status).toBe(400);
      expect(view.stats.faults).toBe(0);
      expect(hits).not.toContain('PUT /pkg');
    } finally {
      await view.close();
    }
  });

  it('counts a registry failure as a fault, and an oversized document as a limit of the release, not as an answer', async () => {
    const view = await RegistryView.start(dir, { registry, policy: egressPolicy({ allowOrigins: [registry] }), signal: new AbortController().signal, maxDocumentBytes: 1000 });
    const socket = join(dir, REGISTRY_SOCKET);
    try {
      expect((await get(socket, '/broken')).status).toBe(502);
      expect((await get(socket, '/big')).status).toBe(502);
      expect(view.stats.faults).toBe(1);
      expect(view.stats.firstFault).toMatch(/503/);
      expect(view.stats.limit).toMatch(/document over 1000 bytes/);
    } finally {
      await view.close();
    }
  });

  it('refuses a registry the egress policy forbids, as a fault', async () => {
    const view = await RegistryView.start(dir, { registry: 'http://169.254.169.254', policy: egressPolicy(), signal: new AbortController().signal });
    try {
      expect((await get(join(dir, REGISTRY_SOCKET), '/pkg')).status).toBe(502);
      expect(view.stats.faults).toBe(1);
    } finally {
      await view.close();
    }
  });
});
