import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { egressPolicy } from './egress-policy.js';
import { gitClone, gitLocal, gitLsRemote } from './git.js';
import { closedPort, failure, gitFixture, gitHttpServer, httpServer, makeRepo, type TestServer } from './testing/servers.js';

let repo: ReturnType<typeof makeRepo>;
let fileUrl: string;
const open = egressPolicy({ open: true });
const local = { policy: open, allowLocal: true };
const servers: TestServer[] = [];
const temporary: string[] = [];

beforeAll(() => {
  repo = makeRepo();
  temporary.push(repo.root);
  fileUrl = `file://${repo.bare}`;
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

async function serve(server: Promise<TestServer>): Promise<TestServer> {
  const started = await server;
  servers.push(started);
  return started;
}

const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-net-clone-'));
  temporary.push(dir);
  return dir;
};

describe('gitClone of a local repository', () => {
  it('clones a file: repository without checking out when local repositories are allowed', async () => {
    const dir = join(scratch(), 'src');
    await gitClone(fileUrl, dir, local);
    expect(readdirSync(dir)).toEqual(['.git']);
    expect(await gitLocal(['rev-parse', 'refs/tags/v1.0.0^{commit}'], { cwd: dir })).toBe(repo.first);
    expect(await gitLocal(['rev-parse', 'HEAD'], { cwd: dir })).toBe(repo.second);
  });

  it('refuses a file: repository when local repositories are not allowed, before git runs', async () => {
    const dir = join(scratch(), 'src');
    const e = await failure(gitClone(fileUrl, dir, { policy: open, allowLocal: false }));
    expect(e.code).toBe('invalid-input');
    expect(e.message).not.toContain(repo.bare);
    expect(existsSync(dir)).toBe(false);
  });

  it.each([
    ['ext::sh -c touch% CANARY', 'a transport command'],
    ['ext::sh -c touch CANARY', 'a transport command with spaces'],
    ['ssh://git@example.org/x.git', 'ssh'],
    ['git@example.org:x/y.git', 'scp-like ssh'],
    ['git://example.org/x.git', 'the git protocol'],
    ['-oProxyCommand=touch CANARY', 'an option'],
    ['--upload-pack=touch CANARY', 'a long option'],
    ['/srv/repos/x.git', 'a plain path'],
    ['./x.git', 'a relative path'],
    ['fd::touch CANARY', 'a remote helper'],
    ['https://user:secret@example.org/x.git', 'credentials'],
    ['https://example.org/x.git?x=1', 'a query'],
    ['', 'nothing'],
  ])('refuses %j (%s) as invalid-input, even with local repositories allowed', async (text) => {
    const dir = scratch();
    const canary = join(dir, 'pwned');
    const url = text.replaceAll('CANARY', canary);
    expect((await failure(gitClone(url, join(dir, 'src'), local))).code).toBe('invalid-input');
    expect((await failure(gitLsRemote(url, ['v1.0.0'], local))).code).toBe('invalid-input');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names no local path when the directory is not a repository', async () => {
    const notRepo = scratch();
    writeFileSync(join(notRepo, 'file'), 'x');
    const e = await failure(gitClone(`file://${notRepo}`, join(scratch(), 'src'), local));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe('cannot clone the local repository: not a git repository');
  });

  it('names no local path when the destination is not empty', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'occupied'), 'x');
    const e = await failure(gitClone(fileUrl, dir, local));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe('cannot clone the local repository: the destination is not empty');
  });
});

describe('gitLsRemote', () => {
  it('peels an annotated tag to its commit and finds lightweight tags and branches', async () => {
    const refs = await gitLsRemote(fileUrl, ['v1.0.0', 'light', 'release', 'main', 'missing', 'refs/tags/v1.0.0'], local);
    expect(repo.annotatedTag).not.toBe(repo.first);
    expect(Object.fromEntries(refs)).toEqual({
      'v1.0.0': repo.first,
      light: repo.second,
      release: repo.second,
      main: repo.second,
      'refs/tags/v1.0.0': repo.first,
    });
  });

  it('prefers a tag over a branch of the same name', async () => {
    const root = makeRepo();
    temporary.push(root.root);
    gitFixture(['branch', 'v1.0.0', 'main'], root.work);
    const refs = await gitLsRemote(`file://${root.work}`, ['v1.0.0'], local);
    expect(refs.get('v1.0.0')).toBe(root.first);
  });

  it.each(['v*', '-h', '--upload-pack=x', 'a..b', 'x^{}', 'x~1', 'a b', 'x:y', 'ref/', '@{-1}', 'x.lock', '[ab]'])('refuses the ref %j', async (ref) => {
    expect((await failure(gitLsRemote(fileUrl, [ref], local))).code).toBe('invalid-input');
  });

  it('answers an empty map for no refs', async () => {
    expect((await gitLsRemote(fileUrl, [], local)).size).toBe(0);
  });
});

describe('gitLocal', () => {
  it('never touches the network, not even a file: remote', async () => {
    const dir = join(scratch(), 'src');
    await gitClone(fileUrl, dir, local);
    const e = await failure(gitLocal(['fetch', '--quiet', 'origin'], { cwd: dir }));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe('git fetch failed: needed the network');
  });

  it('does not look above its directory for a repository', async () => {
    const inside = join(repo.work, 'nested');
    mkdirSync(inside, { recursive: true });
    const e = await failure(gitLocal(['rev-parse', 'HEAD'], { cwd: inside }));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe('git rev-parse failed: not a git repository');
  });

  it('reports an unknown revision without echoing git', async () => {
    const e = await failure(gitLocal(['rev-parse', '--verify', 'no-such-ref^{commit}'], { cwd: repo.work }));
    expect(e.message).toBe('git rev-parse failed: unknown revision');
  });
});

describe('git over http', () => {
  it('clones and lists refs over smart HTTP, pinned to the vetted address of an allowed name', async () => {
    const server = await serve(gitHttpServer(repo.root));
    const url = `http://localhost:${server.port}/repo.git`;
    const opts = { policy: egressPolicy({ allow: `localhost:${server.port}` }), allowLocal: false };
    expect((await gitLsRemote(url, ['v1.0.0'], opts)).get('v1.0.0')).toBe(repo.first);
    const dir = join(scratch(), 'src');
    await gitClone(url, dir, opts);
    expect(await gitLocal(['rev-parse', 'HEAD'], { cwd: dir })).toBe(repo.second);
  });

  it('follows the repository redirect to an allowed host', async () => {
    const target = await serve(gitHttpServer(repo.root));
    const front = await serve(
      httpServer((req, res) => {
        res.writeHead(301, { location: `${target.origin}/repo.git${(req.url ?? '').slice('/moved'.length)}` });
        res.end();
      }),
    );
    const opts = { policy: egressPolicy({ allowOrigins: [front.origin, target.origin] }), allowLocal: false };
    expect((await gitLsRemote(`${front.origin}/moved`, ['light'], opts)).get('light')).toBe(repo.second);
    expect(front.requests).toEqual(['/moved/info/refs?service=git-upload-pack']);
  });

  it('refuses a repository redirect to a loopback port that is not allowed, which sees no connection', async () => {
    const target = await serve(gitHttpServer(repo.root));
    const front = await serve(
      httpServer((_req, res) => {
        res.writeHead(302, { location: `${target.origin}/repo.git/info/refs?service=git-upload-pack` });
        res.end();
      }),
    );
    const e = await failure(gitClone(`${front.origin}/x`, join(scratch(), 'src'), { policy: egressPolicy({ allowOrigins: [front.origin] }), allowLocal: false }));
    expect(e.code).toBe('egress-refused');
    expect(target.connections()).toBe(0);
  });

  it('refuses an http repository on a refused address before git runs', async () => {
    const server = await serve(gitHttpServer(repo.root));
    const dir = join(scratch(), 'src');
    const e = await failure(gitClone(`${server.origin}/repo.git`, dir, { policy: egressPolicy(), allowLocal: true }));
    expect(e.code).toBe('egress-refused');
    expect(server.connections()).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('reports a web server that is not a git server as source-not-found, without git detail', async () => {
    const server = await serve(httpServer((_req, res) => res.end('<html>hello</html>')));
    const url = `${server.origin}/project`;
    const e = await failure(gitLsRemote(url, ['v1.0.0'], { policy: egressPolicy({ allowOrigins: [server.origin] }), allowLocal: false }));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe(`cannot list the refs of ${url}: not a git repository`);
    expect(e.message).not.toMatch(/fatal|update-server-info|curl/i);
  });

  it('reports a missing repository as source-not-found', async () => {
    const server = await serve(gitHttpServer(repo.root));
    const url = `${server.origin}/absent.git`;
    const e = await failure(gitClone(url, join(scratch(), 'src'), { policy: egressPolicy({ allowOrigins: [server.origin] }), allowLocal: false }));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe(`cannot clone ${url}: repository not found`);
  });

  it('reports an unreachable git host with the uniform message', async () => {
    const port = await closedPort();
    const e = await failure(gitClone(`http://127.0.0.1:${port}/repo.git`, join(scratch(), 'src'), { policy: egressPolicy({ allow: '127.0.0.1' }), allowLocal: false }));
    expect(e.code).toBe('upstream-unavailable');
    expect(e.message).toBe('cannot reach 127.0.0.1');
  });

  describe('a git server that stops answering once git itself connects', () => {
    const stalling = () => {
      let gitArrived: () => void = () => undefined;
      const arrived = new Promise<void>((resolve) => (gitArrived = resolve));
      let requests = 0;
      const server = serve(
        httpServer((_req, res) => {
          // The first request is the discovery; the next one is git's own.
          if (++requests === 1) {
            res.setHeader('content-type', 'application/x-git-upload-pack-advertisement');
            res.end();
            return;
          }
          gitArrived();
        }),
      );
      return { server, arrived };
    };

    it('kills git at the timeout with the uniform message', async () => {
      const { server } = stalling();
      const { origin } = await server;
      const e = await failure(gitLsRemote(`${origin}/repo.git`, ['v1'], { policy: egressPolicy({ allowOrigins: [origin] }), allowLocal: false, timeoutMs: 2000 }));
      expect(e.code).toBe('upstream-unavailable');
      expect(e.message).toBe('cannot reach 127.0.0.1');
    });

    it("kills git on the caller's cancellation, rethrows its reason and leaves no directory", async () => {
      const { server, arrived } = stalling();
      const { origin } = await server;
      const controller = new AbortController();
      const dir = join(scratch(), 'src');
      const pending = gitClone(`${origin}/repo.git`, dir, { policy: egressPolicy({ allowOrigins: [origin] }), allowLocal: false, signal: controller.signal });
      await arrived;
      controller.abort(new Error('job cancelled'));
      await expect(pending).rejects.toThrow('job cancelled');
      expect(existsSync(dir)).toBe(false);
    });
  });
});
