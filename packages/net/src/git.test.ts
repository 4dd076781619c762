import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { egressPolicy } from './egress-policy.js';
import { gitClone, gitCloneHistory, gitFetchCommit, gitFetchObjects, gitLocal, gitLsRemote, gitReadBlobs, gitTreeSize, gitVersionProblem } from './git.js';
import { closedPort, failure, gitFixture, gitHttpServer, gitTestEnv, httpServer, makeRepo, type TestServer } from './testing/servers.js';

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

/**
 * A bare repository with history `a` (adds old.txt) → `b` (removes it; tagged `v2`) → `c` (main),
 * served from `<root>/repo.git`, plus a commit that no branch or tag holds any more (`dangling`).
 */
function makeHistory(): { root: string; bare: string; url: string; a: string; b: string; c: string; dangling: string; oldBlob: string } {
  const root = mkdtempSync(join(tmpdir(), 'quorum-net-history-'));
  temporary.push(root);
  const work = join(root, 'work');
  gitFixture(['init', '--quiet', '--initial-branch=main', work]);
  writeFileSync(join(work, 'old.txt'), 'content only the first commit has\n');
  writeFileSync(join(work, 'package.json'), '{"name":"h","version":"1.0.0"}\n');
  gitFixture(['add', '--all'], work);
  gitFixture(['commit', '--quiet', '-m', 'a'], work);
  const a = gitFixture(['rev-parse', 'HEAD'], work);
  const oldBlob = gitFixture(['rev-parse', 'HEAD:old.txt'], work);
  gitFixture(['rm', '--quiet', 'old.txt'], work);
  writeFileSync(join(work, 'package.json'), '{"name":"h","version":"2.0.0"}\n');
  gitFixture(['commit', '--quiet', '-am', 'b'], work);
  const b = gitFixture(['rev-parse', 'HEAD'], work);
  gitFixture(['tag', 'v2'], work);
  writeFileSync(join(work, 'index.js'), 'module.exports = 3;\n');
  gitFixture(['add', '--all'], work);
  gitFixture(['commit', '--quiet', '-m', 'c'], work);
  const c = gitFixture(['rev-parse', 'HEAD'], work);
  const bare = join(root, 'repo.git');
  // a local clone keeps loose objects loose, so that a test can remove one
  gitFixture(['clone', '--quiet', '--bare', work, bare]);
  // as forges do: partial clones served
  gitFixture(['config', 'uploadpack.allowFilter', 'true'], bare);
  gitFixture(['checkout', '--quiet', '-b', 'fork', a], work);
  writeFileSync(join(work, 'index.js'), 'module.exports = "not the project\'s";\n');
  gitFixture(['add', '--all'], work);
  gitFixture(['commit', '--quiet', '-m', 'a commit pushed and deleted again'], work);
  const dangling = gitFixture(['rev-parse', 'HEAD'], work);
  gitFixture(['push', '--quiet', bare, 'fork:refs/heads/fork'], work);
  gitFixture(['push', '--quiet', bare, ':refs/heads/fork'], work);
  return { root, bare, url: `file://${bare}`, a, b, c, dangling, oldBlob };
}

describe('gitFetchCommit', () => {
  it('fetches a tagged commit alone, without the rest of its history', async () => {
    const dir = join(scratch(), 'src');
    expect(await gitFetchCommit(fileUrl, dir, repo.first, local)).toEqual({ depth: 'shallow', reachableFrom: 'refs/tags/v1.0.0' });
    await gitLocal(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', repo.first], { cwd: dir });
    expect(await gitLocal(['rev-parse', 'HEAD'], { cwd: dir })).toBe(repo.first);
    expect(existsSync(join(dir, '.git/shallow'))).toBe(true);
    expect(await gitLocal(['rev-list', '--count', '--all'], { cwd: dir })).toBe('1');
  });

  it('fetches a commit in the middle of a branch, after checking that the branch holds it', async () => {
    const h = makeHistory();
    const dir = join(scratch(), 'src');
    expect(await gitFetchCommit(h.url, dir, h.a, local)).toEqual({ depth: 'shallow', reachableFrom: 'refs/heads/main' });
    expect(await gitLocal(['rev-list', '--count', h.a], { cwd: dir })).toBe('1');
  });

  it('fetches the tagged commit of a repository whose history lost an object, which a full clone cannot', async () => {
    const h = makeHistory();
    const loose = join(h.bare, 'objects', h.oldBlob.slice(0, 2), h.oldBlob.slice(2));
    expect(existsSync(loose)).toBe(true);
    rmSync(loose);
    const cloned = await failure(gitClone(h.url, join(scratch(), 'clone'), local));
    expect(cloned.code).toBe('source-not-found');
    expect(cloned.message).toBe('cannot clone the local repository: the repository is damaged');
    const dir = join(scratch(), 'src');
    expect(await gitFetchCommit(h.url, dir, h.b, local)).toEqual({ depth: 'shallow', reachableFrom: 'refs/tags/v2' });
    await gitLocal(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', h.b], { cwd: dir });
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toContain('"2.0.0"');
    // without its tag, the commit's branch is checked on a clone of commits only
    gitFixture(['tag', '-d', 'v2'], h.bare);
    expect(await gitFetchCommit(h.url, join(scratch(), 'src'), h.b, local)).toEqual({ depth: 'shallow', reachableFrom: 'refs/heads/main' });
  });

  it("refuses a commit that the server has but no branch or tag holds (a deleted branch, a fork's commit)", async () => {
    const h = makeHistory();
    const dir = join(scratch(), 'src');
    const e = await failure(gitFetchCommit(h.url, dir, h.dangling, local));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe(`cannot fetch the local repository: commit ${h.dangling} is on no branch or tag of it`);
    expect(existsSync(dir)).toBe(false);
  });

  it('says a commit the repository does not have is not in it', async () => {
    const e = await failure(gitFetchCommit(fileUrl, join(scratch(), 'src'), 'f'.repeat(40), local));
    expect(e.code).toBe('source-not-found');
    expect(e.message).toBe(`cannot fetch the local repository: commit ${'f'.repeat(40)} is not in it`);
  });

  it('falls back to every branch and tag when the server refuses a fetch by SHA', async () => {
    const h = makeHistory();
    const server = await serve(gitHttpServer(h.root, { protocol: 0 }));
    const url = `${server.origin}/repo.git`;
    const opts = { policy: egressPolicy({ allowOrigins: [server.origin] }), allowLocal: false };
    // a tip is advertised, so even this server serves it alone
    expect(await gitFetchCommit(url, join(scratch(), 'src'), h.c, opts)).toEqual({ depth: 'shallow', reachableFrom: 'refs/heads/main' });
    const dir = join(scratch(), 'src');
    expect(await gitFetchCommit(url, dir, h.a, opts)).toEqual({ depth: 'full', reachableFrom: 'refs/heads/main' });
    await gitLocal(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', h.a], { cwd: dir });
    expect(readFileSync(join(dir, 'old.txt'), 'utf8')).toContain('first commit');
    const dangling = await failure(gitFetchCommit(url, join(scratch(), 'src'), h.dangling, opts));
    expect(dangling.message).toBe(`cannot fetch ${url}: commit ${h.dangling} is not in it`);
  });

  it('fetches over smart HTTP pinned to the vetted address', async () => {
    const h = makeHistory();
    const server = await serve(gitHttpServer(h.root));
    const url = `http://localhost:${server.port}/repo.git`;
    const opts = { policy: egressPolicy({ allow: `localhost:${server.port}` }), allowLocal: false };
    expect(await gitFetchCommit(url, join(scratch(), 'src'), h.a, opts)).toEqual({ depth: 'shallow', reachableFrom: 'refs/heads/main' });
    const e = await failure(gitFetchCommit(url, join(scratch(), 'src'), h.dangling, opts));
    expect(e.message).toBe(`cannot fetch ${url}: commit ${h.dangling} is on no branch or tag of it`);
  });

  it('refuses a directory that is not empty and leaves it alone', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'occupied'), 'x');
    const e = await failure(gitFetchCommit(fileUrl, dir, repo.first, local));
    expect(e.message).toBe('cannot fetch the local repository: the destination is not empty');
    expect(readdirSync(dir)).toEqual(['occupied']);
  });

  it.each(['HEAD', 'v1.0.0', '-h', 'abc', 'F'.repeat(40)])('refuses %j as a commit before git runs', async (commit) => {
    expect((await failure(gitFetchCommit(fileUrl, join(scratch(), 'src'), commit, local))).code).toBe('invalid-input');
  });

  it("brings the commit's parents along at depth 2", async () => {
    const h = makeHistory();
    const dir = join(scratch(), 'src');
    expect(await gitFetchCommit(h.url, dir, h.b, { ...local, depth: 2 })).toEqual({ depth: 'shallow', reachableFrom: 'refs/tags/v2' });
    expect(await gitLocal(['rev-parse', `${h.a}:package.json`], { cwd: dir })).toMatch(/^[0-9a-f]{40}$/);
    expect((await failure(gitFetchCommit(h.url, join(scratch(), 'src'), h.b, { ...local, depth: 0 }))).code).toBe('invalid-input');
  });

  it('leaves nothing of its own next to the destination, where its commits-only clone was kept', async () => {
    const h = makeHistory();
    const parent = scratch();
    // no tip names h.a: reachability is checked on a commits-only clone beside the destination
    await gitFetchCommit(h.url, join(parent, 'src'), h.a, local);
    expect(readdirSync(parent)).toEqual(['src']);
  });

  it('refuses what gitClone refuses', async () => {
    const dir = scratch();
    expect((await failure(gitFetchCommit('ext::sh -c touch% x', join(dir, 'src'), repo.first, local))).code).toBe('invalid-input');
    expect((await failure(gitFetchCommit(fileUrl, join(dir, 'src'), repo.first, { policy: open, allowLocal: false }))).code).toBe('invalid-input');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('gitCloneHistory, gitFetchObjects and gitReadBlobs', () => {
  it('clones history without file contents and fetches only the blobs asked for', async () => {
    const h = makeHistory();
    const dir = join(scratch(), 'history.git');
    expect(await gitCloneHistory(h.url, dir, local)).toEqual({ partial: true });
    const blobs = (await gitLocal(['log', '--format=', '--raw', '--no-abbrev', '--no-renames', 'main', '--', 'package.json'], { cwd: dir }))
      .split('\n')
      .filter((l) => l.startsWith(':'))
      .map((l) => l.split(' ')[3]!);
    expect(blobs).toHaveLength(2);
    // reading a blob that is not there needs the network, which a local run never has
    expect((await failure(gitReadBlobs(blobs, { cwd: dir }))).message).toBe('git cat-file failed: needed the network');
    await gitFetchObjects(h.url, dir, blobs, local);
    const read = await gitReadBlobs(blobs, { cwd: dir });
    expect([...read.values()].map((b) => b.toString('utf8')).sort()).toEqual(['{"name":"h","version":"1.0.0"}\n', '{"name":"h","version":"2.0.0"}\n']);
    expect((await gitReadBlobs(blobs, { cwd: dir, maxBytes: 10 })).size).toBe(0);
  });

  it('clones in full from a server without filters, whose blobs are then all there', async () => {
    const h = makeHistory();
    gitFixture(['config', '--unset', 'uploadpack.allowFilter'], h.bare);
    const server = await serve(gitHttpServer(h.root));
    const opts = { policy: egressPolicy({ allowOrigins: [server.origin] }), allowLocal: false };
    const dir = join(scratch(), 'history.git');
    await gitCloneHistory(`${server.origin}/repo.git`, dir, opts);
    expect((await gitReadBlobs([h.oldBlob], { cwd: dir })).get(h.oldBlob)?.toString('utf8')).toBe('content only the first commit has\n');
  });

  it('refuses object names that are not SHAs', async () => {
    const dir = join(scratch(), 'history.git');
    await gitCloneHistory(fileUrl, dir, local);
    expect((await failure(gitFetchObjects(fileUrl, dir, ['--upload-pack=x'], local))).code).toBe('invalid-input');
  });
});

describe('gitTreeSize', () => {
  it('counts the files of a commit and their bytes from the tree alone, and stops at its entry bound', async () => {
    const h = makeHistory();
    // a: old.txt (34 bytes) and package.json (31 bytes)
    expect(await gitTreeSize(h.a, { cwd: h.bare })).toEqual({ entries: 2, bytes: 65, truncated: false });
    expect(await gitTreeSize(h.c, { cwd: h.bare, maxEntries: 1 })).toMatchObject({ truncated: true });
    expect((await failure(gitTreeSize('HEAD', { cwd: h.bare }))).code).toBe('invalid-input');
  });
});

describe('gitVersionProblem', () => {
  it.each([
    ['git version 2.39.4', true],
    ['git version 2.39.5', true],
    ['git version 2.40.2', true],
    ['git version 2.43.4', true],
    ['git version 2.45.1', true],
    ['git version 2.46.0', true],
    ['git version 2.50.1 (Apple Git-155)', true],
    ['git version 3.0.0', true],
    ['git version 2.39.3', false],
    ['git version 2.40.1', false],
    ['git version 2.43.3', false],
    ['git version 2.45.0', false],
    ['git version 2.38.5', false],
    ['git version 2.36.6', false],
    ['not git', false],
  ])('judges %j (usable: %s)', (text, usable) => {
    const problem = gitVersionProblem(text);
    if (usable) expect(problem).toBeUndefined();
    else expect(problem).toMatch(/cannot be used to fetch repositories: it needs GIT_NO_LAZY_FETCH/);
  });
});

// A repository (or an operator's mirror) that is itself shallow. `git clone --filter=…` of such a
// repository would never end: the new partial clone lazily fetches what the shallow server cannot
// send, that fetch lazily fetches again, and so on, thousands of processes until the deadline.
// gitCloneHistory (the history search) and gitFetchCommit (its commits-only clone for a commit no tip
// names) both clone with a filter.
describe('git against a shallow repository', () => {
  /** A history of three commits on main, served from a shallow (depth 2) bare copy that allows filters. */
  function shallowServed() {
    const root = mkdtempSync(join(tmpdir(), 'quorum-net-shallow-'));
    temporary.push(root);
    const work = join(root, 'work');
    gitFixture(['init', '--quiet', '--initial-branch=main', work]);
    const commits: string[] = [];
    for (const v of ['1.0.0', '1.0.1', '1.0.2']) {
      writeFileSync(join(work, 'package.json'), `{"name":"s","version":"${v}"}\n`);
      gitFixture(['add', '--all'], work);
      gitFixture(['commit', '--quiet', '-m', v], work);
      commits.push(gitFixture(['rev-parse', 'HEAD'], work));
    }
    const bare = join(root, 'repo.git');
    execFileSync('git', ['clone', '--quiet', '--bare', '--depth=2', `file://${work}`, bare], { env: gitTestEnv() });
    gitFixture(['config', 'uploadpack.allowFilter', 'true'], bare);
    gitFixture(['config', 'uploadpack.allowAnySHA1InWant', 'true'], bare);
    return { root, bare, commits };
  }

  /**
   * Most lazy-fetch processes (`git fetch origin … --stdin`, as git's promisor fetch runs it) seen at
   * once while `work` runs, and what it ended with. A chain of lazy fetches runs until the deadline,
   * so its outcome is "git did not finish in time" (or unreachable, over HTTP), never the answer.
   */
  async function peakLazyFetches(work: () => Promise<unknown>): Promise<{ peak: number; outcome: unknown }> {
    let peak = 0;
    const sample = () => {
      try {
        const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
        peak = Math.max(peak, out.split('\n').filter((l) => l.includes('fetch.negotiationAlgorithm=noop fetch origin')).length);
      } catch {
        // ps itself may fail to fork while a bomb runs
      }
    };
    const timer = setInterval(sample, 250);
    const outcome = await work().then(
      (v) => v,
      (e: unknown) => e,
    );
    clearInterval(timer);
    return { peak, outcome };
  }

  it('gitCloneHistory (file:) spawns no chain of lazy fetches and refuses the shallow history before its deadline', async () => {
    const s = shallowServed();
    const dir = join(scratch(), 'history.git');
    const { peak, outcome } = await peakLazyFetches(() => gitCloneHistory(`file://${s.bare}`, dir, { ...local, timeoutMs: 8_000 }));
    expect(peak).toBeLessThan(5);
    expect(outcome).toMatchObject({ code: 'source-not-found', message: 'cannot clone the local repository: its history is shallow' });
    expect(existsSync(dir)).toBe(false);
  }, 30_000);

  it('gitCloneHistory over smart HTTP does not either', async () => {
    const s = shallowServed();
    const server = await serve(gitHttpServer(s.root));
    const policy = egressPolicy({ allowOrigins: [server.origin] });
    const url = `${server.origin}/repo.git`;
    const { peak, outcome } = await peakLazyFetches(() => gitCloneHistory(url, join(scratch(), 'history.git'), { policy, allowLocal: false, timeoutMs: 8_000 }));
    expect(peak).toBeLessThan(5);
    expect(outcome).toMatchObject({ code: 'source-not-found', message: `cannot clone ${url}: its history is shallow` });
  }, 30_000);

  it('gitFetchCommit of a commit below the tip (commits-only clone to check reachability) does not either', async () => {
    const s = shallowServed();
    // the middle commit is in the shallow repository (depth 2) but no tip names it
    const { peak, outcome } = await peakLazyFetches(() => gitFetchCommit(`file://${s.bare}`, join(scratch(), 'src'), s.commits[1]!, { ...local, timeoutMs: 8_000 }));
    expect(peak).toBeLessThan(5);
    expect(outcome).toEqual({ depth: 'shallow', reachableFrom: 'refs/heads/main' });
  }, 30_000);
});
