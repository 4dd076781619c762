import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { egressPolicy } from './egress-policy.js';
import { egressFetch, expectOk, fetchJson } from './http.js';
import { closedPort, failure, httpServer, rudeServer, type TestServer } from './testing/servers.js';

const REFUSED = "is refused by this farm's egress policy (loopback, private, link-local and metadata addresses are not fetched)";
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: Parameters<typeof httpServer>[0]): Promise<TestServer> {
  const server = await httpServer(handler);
  servers.push(server);
  return server;
}

const hello = () =>
  serve((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"hello":"world"}');
  });

describe('egressFetch under the default policy', () => {
  const policy = egressPolicy();

  it('refuses a loopback server, which never sees a connection', async () => {
    const server = await hello();
    const e = await failure(egressFetch(`${server.origin}/x`, { policy }));
    expect(e.code).toBe('egress-refused');
    expect(e.message).toBe(`127.0.0.1 ${REFUSED}`);
    expect(server.connections()).toBe(0);
  });

  it('refuses a name that resolves to loopback', async () => {
    const server = await hello();
    const e = await failure(egressFetch(`http://localhost:${server.port}/`, { policy }));
    expect(e.code).toBe('egress-refused');
    expect(e.message).toBe(`localhost ${REFUSED}`);
    expect(server.connections()).toBe(0);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://100.100.100.200/latest/meta-data/', '100.100.100.200'],
    ['http://[fd00:ec2::254]/latest/meta-data/', '[fd00:ec2::254]'],
    ['http://[::ffff:169.254.169.254]/', '[::ffff:a9fe:a9fe]'],
    ['http://[64:ff9b::a9fe:a9fe]/', '[64:ff9b::a9fe:a9fe]'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://10.0.0.1:8080/', '10.0.0.1'],
    ['https://192.168.1.1/', '192.168.1.1'],
  ])('refuses %s', async (url, label) => {
    const e = await failure(egressFetch(url, { policy }));
    expect(e.code).toBe('egress-refused');
    expect(e.message).toBe(`${label} ${REFUSED}`);
    expect(e.cause).toBeInstanceOf(Error);
  });
});

describe('egressFetch with operator exceptions', () => {
  it('fetches a loopback server whose origin is configured', async () => {
    const server = await hello();
    const res = await egressFetch(`${server.origin}/doc`, { policy: egressPolicy({ allowOrigins: [server.origin] }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: 'world' });
    expect(server.requests).toEqual(['/doc']);
  });

  it('fetches a loopback server allowed by a CIDR, an ip:port or a host:port rule', async () => {
    const server = await hello();
    for (const allow of ['127.0.0.0/8', `127.0.0.1:${server.port}`]) {
      const res = await egressFetch(`${server.origin}/`, { policy: egressPolicy({ allow }) });
      expect(await res.text()).toBe('{"hello":"world"}');
    }
    const byName = await egressFetch(`http://localhost:${server.port}/`, { policy: egressPolicy({ allow: `localhost:${server.port}` }) });
    expect(byName.status).toBe(200);
    await byName.body?.cancel();
  });

  it('refuses a port that the rule does not name', async () => {
    const server = await hello();
    const e = await failure(egressFetch(`${server.origin}/`, { policy: egressPolicy({ allow: `127.0.0.1:${server.port + 1}` }) }));
    expect(e.code).toBe('egress-refused');
    expect(server.connections()).toBe(0);
  });

  it('fetches anything under the open policy', async () => {
    const server = await hello();
    const res = await egressFetch(`${server.origin}/`, { policy: egressPolicy({ open: true }) });
    expect(res.ok).toBe(true);
    await res.body?.cancel();
  });
});

describe('egressFetch redirects', () => {
  it('refuses a redirect to a loopback port that is not allowed, at the redirect hop', async () => {
    const inside = await hello();
    const outside = await serve((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${inside.port}/secret` });
      res.end();
    });
    const e = await failure(egressFetch(`${outside.origin}/start`, { policy: egressPolicy({ allowOrigins: [outside.origin] }) }));
    expect(e.code).toBe('egress-refused');
    expect(e.message).toBe(`127.0.0.1 ${REFUSED}`);
    expect(outside.requests).toEqual(['/start']);
    expect(inside.connections()).toBe(0);
  });

  it('refuses a redirect to a name that resolves to loopback', async () => {
    const inside = await hello();
    const outside = await serve((_req, res) => {
      res.writeHead(301, { location: `http://localhost:${inside.port}/` });
      res.end();
    });
    const e = await failure(egressFetch(outside.origin, { policy: egressPolicy({ allowOrigins: [outside.origin] }) }));
    expect(e.code).toBe('egress-refused');
    expect(inside.connections()).toBe(0);
  });

  it('follows redirects between allowed servers, dropping credentials at the origin change', async () => {
    const seen: (string | undefined)[] = [];
    const target = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.end('arrived');
    });
    const start = await serve((req, res) => {
      seen.push(req.headers.authorization);
      if (req.url === '/a') res.writeHead(307, { location: '/b' });
      else res.writeHead(308, { location: `${target.origin}/c` });
      res.end();
    });
    const policy = egressPolicy({ allowOrigins: [start.origin, target.origin] });
    const res = await egressFetch(`${start.origin}/a`, { policy, headers: { Authorization: 'Bearer t' } });
    expect(await res.text()).toBe('arrived');
    expect(res.url).toBe(`${target.origin}/c`);
    expect(start.requests).toEqual(['/a', '/b']);
    expect(seen).toEqual(['Bearer t', 'Bearer t', undefined]);
  });

  it('gives up after maxRedirects with the uniform message', async () => {
    const loop = await serve((_req, res) => {
      res.writeHead(302, { location: '/again' });
      res.end();
    });
    const e = await failure(egressFetch(loop.origin, { policy: egressPolicy({ allowOrigins: [loop.origin] }), maxRedirects: 3 }));
    expect(e.code).toBe('upstream-unavailable');
    expect(e.message).toBe('cannot reach 127.0.0.1');
    expect(loop.requests).toHaveLength(4);
  });

  it('with redirectOrigins, follows a redirect within them and refuses one elsewhere, even to a host the policy allows', async () => {
    const elsewhere = await serve((_req, res) => res.end('elsewhere'));
    const start = await serve((req, res) => {
      if (req.url === '/same') res.writeHead(302, { location: '/arrived' });
      else if (req.url === '/away') res.writeHead(302, { location: `${elsewhere.origin}/x` });
      else res.write('home');
      res.end();
    });
    const policy = egressPolicy({ allowOrigins: [start.origin, elsewhere.origin] });
    expect(await (await egressFetch(`${start.origin}/same`, { policy, redirectOrigins: [start.origin] })).text()).toBe('home');
    const e = await failure(egressFetch(`${start.origin}/away`, { policy, redirectOrigins: [start.origin] }));
    expect(e.code).toBe('egress-refused');
    expect(e.message).toBe('127.0.0.1 redirected to another origin, which this fetch does not follow');
    expect(elsewhere.requests).toEqual([]);
  });

  it('refuses a redirect to a scheme other than http(s)', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(302, { location: 'file:///etc/passwd' });
      res.end();
    });
    const e = await failure(egressFetch(server.origin, { policy: egressPolicy({ allowOrigins: [server.origin] }) }));
    expect(e.code).toBe('egress-refused');
  });
});

describe('egressFetch transport failures', () => {
  const policy = egressPolicy({ allow: '127.0.0.1' });

  it('reports a closed port, a reset and a silent server with byte-identical messages', async () => {
    const reset = await rudeServer('reset');
    const silent = await rudeServer('hang');
    servers.push(reset, silent);
    const urls = [`http://127.0.0.1:${await closedPort()}/`, `${reset.origin}/`, `${silent.origin}/`];
    const errors = await Promise.all(urls.map((url) => failure(egressFetch(url, { policy, timeoutMs: 1000 }))));
    expect(reset.connections()).toBeGreaterThan(0);
    expect(silent.connections()).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.code).toBe('upstream-unavailable');
      expect(e.message).toBe('cannot reach 127.0.0.1');
      expect(e.cause).toBeDefined();
    }
  });

  it('reports a name that does not resolve with the same wording', async () => {
    const e = await failure(egressFetch('http://nothing-here.invalid/', { policy }));
    expect(e.code).toBe('upstream-unavailable');
    expect(e.message).toBe('cannot reach nothing-here.invalid');
  });

  it('reports a certificate it cannot trust with the same wording, having sent the host name for SNI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-net-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    const names: string[] = [];
    const tls = createTlsServer(
      {
        key: readFileSync(join(dir, 'key.pem')),
        cert: readFileSync(join(dir, 'cert.pem')),
        SNICallback: (name, done) => {
          names.push(name);
          done(null, undefined);
        },
      },
      (socket: TLSSocket) => socket.end(),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const { port } = tls.address() as AddressInfo;
    try {
      const e = await failure(egressFetch(`https://localhost:${port}/`, { policy: egressPolicy({ allow: `localhost:${port}` }) }));
      expect(e.code).toBe('upstream-unavailable');
      expect(e.message).toBe('cannot reach localhost');
      expect(names).toContain('localhost');
    } finally {
      await new Promise((resolve) => tls.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rethrows the caller's own cancellation as is", async () => {
    const silent = await rudeServer('hang');
    servers.push(silent);
    const controller = new AbortController();
    const pending = egressFetch(silent.origin, { policy, signal: controller.signal });
    controller.abort(new Error('job cancelled'));
    await expect(pending).rejects.toThrow('job cancelled');
  });
});

describe('egressFetch answers', () => {
  const statusServer = () =>
    serve((req, res) => {
      res.statusCode = Number(req.url?.slice(1));
      res.end('status body');
    });

  it.each([404, 410])('turns HTTP %i into not-found', async (status) => {
    const server = await statusServer();
    const e = await failure(egressFetch(`${server.origin}/${status}`, { policy: egressPolicy({ allowOrigins: [server.origin] }) }));
    expect(e.code).toBe('not-found');
    expect(e.message).toBe(`127.0.0.1 answered HTTP ${status} for /${status}`);
  });

  it('returns other statuses for the caller to judge, and expectOk turns them into faults', async () => {
    const server = await statusServer();
    const policy = egressPolicy({ allowOrigins: [server.origin] });
    const res = await egressFetch(`${server.origin}/503`, { policy });
    expect(res.status).toBe(503);
    const e = await failure(Promise.resolve().then(() => expectOk(res, `${server.origin}/503`)));
    expect(e.code).toBe('upstream-unavailable');
    expect(e.message).toBe('127.0.0.1 answered HTTP 503 for /503');
    const ok = await egressFetch(`${server.origin}/200`, { policy });
    expect(expectOk(ok, `${server.origin}/200`)).toBe(ok);
    await ok.body?.cancel();
  });
});

describe('egressFetch input', () => {
  it.each(['not a url', '', '/relative/path', 'ftp://example.org/x', 'file:///etc/passwd', 'javascript:alert(1)', 'gopher://127.0.0.1:6379/_INFO', 'http://', 'http://user:secret@example.org/'])(
    'refuses %j as invalid-input',
    async (url) => {
      const e = await failure(egressFetch(url, { policy: egressPolicy({ open: true }) }));
      expect(e.code).toBe('invalid-input');
    },
  );

  it.each(['CONNECT', 'TRACE', 'GET /x HTTP/1.1', ''])('refuses the method %j as invalid-input', async (method) => {
    const e = await failure(egressFetch('https://example.org/', { policy: egressPolicy({ open: true }), method }));
    expect(e.code).toBe('invalid-input');
  });
});

describe('fetchJson', () => {
  it('parses a JSON answer', async () => {
    const server = await hello();
    expect(await fetchJson(`${server.origin}/`, { policy: egressPolicy({ allowOrigins: [server.origin] }) })).toEqual({ hello: 'world' });
  });

  it('calls a body that is not JSON upstream-unavailable', async () => {
    const server = await serve((_req, res) => res.end('<html>'));
    const e = await failure(fetchJson(`${server.origin}/`, { policy: egressPolicy({ allowOrigins: [server.origin] }) }));
    expect(e.code).toBe('upstream-unavailable');
    expect(e.message).toBe('127.0.0.1 sent invalid JSON');
  });

  it('refuses a body over maxBytes, announced or streamed', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/announced') {
        res.setHeader('content-length', '2048');
        res.end('x'.repeat(2048));
        return;
      }
      for (let i = 0; i < 8; i++) res.write(`"${'y'.repeat(254)}"`);
      res.end();
    });
    const policy = egressPolicy({ allowOrigins: [server.origin] });
    for (const path of ['/announced', '/streamed']) {
      const e = await failure(fetchJson(`${server.origin}${path}`, { policy, maxBytes: 1024 }));
      expect(e.code).toBe('unsafe-archive');
      expect(e.message).toBe('127.0.0.1 sent more than 1024 bytes');
    }
  });

  it('maps a 500 to upstream-unavailable and a 404 to not-found', async () => {
    const server = await serve((req, res) => {
      res.statusCode = req.url === '/gone' ? 404 : 500;
      res.end();
    });
    const policy = egressPolicy({ allowOrigins: [server.origin] });
    expect((await failure(fetchJson(`${server.origin}/broken`, { policy }))).code).toBe('upstream-unavailable');
    expect((await failure(fetchJson(`${server.origin}/gone`, { policy }))).code).toBe('not-found');
  });
});
