import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { downloadToFile, downloadVerified, integrityMatches } from './download.js';
import { egressPolicy } from './egress-policy.js';
import { failure, httpServer, type TestServer } from './testing/servers.js';

const payload = Buffer.from('the published tarball\n'.repeat(1000));
const sri = (alg: string, data: Buffer) => `${alg}-${createHash(alg).update(data).digest('base64')}`;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function artifactServer(): Promise<{ url: (path: string) => string; policy: ReturnType<typeof egressPolicy> }> {
  server = await httpServer((req, res) => {
    if (req.url === '/pkg.tgz') {
      res.setHeader('content-length', String(payload.length));
      res.end(payload);
    } else if (req.url === '/streamed.tgz') {
      for (let i = 0; i < 10; i++) res.write(payload);
      res.end();
    } else if (req.url === '/broken.tgz') {
      res.setHeader('content-length', String(payload.length * 2));
      res.write(payload);
      setImmediate(() => res.socket?.destroy());
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  const origin = server.origin;
  return { url: (path) => `${origin}${path}`, policy: egressPolicy({ allowOrigins: [origin] }) };
}

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});
const workDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-net-download-'));
  temporary.push(dir);
  return dir;
};

describe('downloadToFile', () => {
  it('writes the body and reports its size and digests', async () => {
    const { url, policy } = await artifactServer();
    const file = join(workDir(), 'pkg.tgz');
    const got = await downloadToFile(url('/pkg.tgz'), file, { policy });
    expect(readFileSync(file)).toEqual(payload);
    expect(got).toEqual({
      bytes: payload.length,
      hex: {
        sha1: createHash('sha1').update(payload).digest('hex'),
        sha256: createHash('sha256').update(payload).digest('hex'),
        sha384: createHash('sha384').update(payload).digest('hex'),
        sha512: createHash('sha512').update(payload).digest('hex'),
      },
    });
  });

  it('refuses a body over the cap, announced or streamed, leaving nothing behind', async () => {
    const { url, policy } = await artifactServer();
    const dir = workDir();
    for (const path of ['/pkg.tgz', '/streamed.tgz']) {
      const e = await failure(downloadToFile(url(path), join(dir, 'out.tgz'), { policy, maxBytes: 1000 }));
      expect(e.code).toBe('unsafe-archive');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves nothing behind when the connection breaks off mid-body', async () => {
    const { url, policy } = await artifactServer();
    const dir = workDir();
    const e = await failure(downloadToFile(url('/broken.tgz'), join(dir, 'out.tgz'), { policy }));
    expect(e.code).toBe('upstream-unavailable');
    expect(e.message).toBe('cannot reach 127.0.0.1');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is not-found for a missing file and egress-refused for a refused host, creating no file', async () => {
    const { url, policy } = await artifactServer();
    const dir = workDir();
    expect((await failure(downloadToFile(url('/missing.tgz'), join(dir, 'a'), { policy }))).code).toBe('not-found');
    expect((await failure(downloadToFile(url('/pkg.tgz'), join(dir, 'b'), { policy: egressPolicy() }))).code).toBe('egress-refused');
    expect((await failure(downloadToFile('file:///etc/passwd', join(dir, 'c'), { policy }))).code).toBe('invalid-input');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('downloadVerified', () => {
  it('keeps a file that matches its integrity', async () => {
    const { url, policy } = await artifactServer();
    const file = join(workDir(), 'pkg.tgz');
    await downloadVerified(url('/pkg.tgz'), sri('sha512', payload), file, { policy });
    expect(readFileSync(file)).toEqual(payload);
  });

  it('throws integrity-mismatch and removes a file that does not match', async () => {
    const { url, policy } = await artifactServer();
    const file = join(workDir(), 'pkg.tgz');
    const e = await failure(downloadVerified(url('/pkg.tgz'), sri('sha512', Buffer.from('something else')), file, { policy }));
    expect(e.code).toBe('integrity-mismatch');
    expect(existsSync(file)).toBe(false);
  });
});

describe('integrityMatches', () => {
  const hex = {
    sha1: createHash('sha1').update(payload).digest('hex'),
    sha256: createHash('sha256').update(payload).digest('hex'),
    sha384: createHash('sha384').update(payload).digest('hex'),
    sha512: createHash('sha512').update(payload).digest('hex'),
  };

  it('checks the strongest algorithm present', () => {
    expect(integrityMatches(`${sri('sha1', payload)} ${sri('sha512', payload)}`, hex)).toBe(true);
    expect(integrityMatches(`${sri('sha1', payload)} ${sri('sha512', Buffer.from('x'))}`, hex)).toBe(false);
    expect(integrityMatches(sri('sha256', payload), hex)).toBe(true);
  });

  it('checks a sha384, never letting a weaker digest beside it decide', () => {
    expect(integrityMatches(sri('sha384', payload), hex)).toBe(true);
    expect(integrityMatches(`${sri('sha384', Buffer.from('x'))} ${sri('sha1', payload)}`, hex)).toBe(false);
    expect(integrityMatches(`${sri('sha384', payload)} ${sri('sha512', Buffer.from('x'))}`, hex)).toBe(false);
  });

  it('accepts any of several digests of the strongest algorithm', () => {
    expect(integrityMatches(`${sri('sha512', Buffer.from('x'))} ${sri('sha512', payload)}`, hex)).toBe(true);
  });

  it('matches nothing without a known algorithm', () => {
    expect(integrityMatches('md5-abc', hex)).toBe(false);
    expect(integrityMatches('', hex)).toBe(false);
  });
});
