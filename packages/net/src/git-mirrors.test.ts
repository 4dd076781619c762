import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { egressPolicy } from './egress-policy.js';
import { gitClone, gitFetchCommit, gitLsRemote } from './git.js';
import { gitTarget, MAX_GIT_MIRRORS, parseGitMirrors } from './git-mirrors.js';
import { failure, gitFixture, gitHttpServer, makeRepo, type TestServer } from './testing/servers.js';

const mirrors = (map: Record<string, string>) => parseGitMirrors(JSON.stringify(map));

describe('parseGitMirrors', () => {
  it('is empty when the setting is unset or blank', () => {
    expect(parseGitMirrors(undefined)).toEqual([]);
    expect(parseGitMirrors('  ')).toEqual([]);
  });

  it('turns directories into file: URLs, orders prefixes longest first and tells repositories from prefixes ending in /', () => {
    const parsed = mirrors({
      'https://github.com/': '/srv/git/',
      'https://github.com/vercel/ms.git': '/srv/mirrors/vercel+ms/repo',
      'http://git.internal:8080/a/': 'https://mirror.internal/a/',
      'https://gitlab.com': 'https://mirror.internal/gitlab',
      'https://github.com/x/y.git/': '/srv/y',
    });
    expect(parsed).toEqual([
      { prefix: 'https://github.com/vercel/ms', target: 'file:///srv/mirrors/vercel+ms/repo', below: false },
      { prefix: 'http://git.internal:8080/a', target: 'https://mirror.internal/a', below: true },
      { prefix: 'https://github.com/x/y', target: 'file:///srv/y', below: false },
      { prefix: 'https://github.com', target: 'file:///srv/git', below: true },
      { prefix: 'https://gitlab.com', target: 'https://mirror.internal/gitlab', below: true },
    ]);
    expect(Object.isFrozen(parsed)).toBe(true);
  });

  it.each([
    ['not JSON', '{', /QUORUM_GIT_MIRRORS must be a JSON object/],
    ['an array', '["https://github.com/"]', /must be a JSON object/],
    ['a key that is not a URL', '{"github.com/x": "/srv/x"}', /is not an http\(s\) URL/],
    ['an ssh key', '{"ssh://git@github.com/x": "/srv/x"}', /is not an http\(s\) URL/],
    ['a key with credentials', '{"https://u:p@github.com/x": "/srv/x"}', /without credentials/],
    ['a relative directory', '{"https://github.com/x": "srv/x"}', /absolute directory or a file:, http: or https: URL/],
    ['another transport', '{"https://github.com/x": "ext::sh -c id"}', /must be a file:, http: or https: URL, not ext:/],
    ['a file: URL with a host', '{"https://github.com/x": "file://host/srv/x"}', /must be a plain URL/],
    ['a mirror with credentials', '{"https://github.com/x": "https://u:p@mirror/x"}', /must be a plain URL/],
    ['a location that is not a string', '{"https://github.com/x": 1}', /must be a string/],
  ])('refuses %s, naming the setting', (_what, raw, message) => {
    expect(() => parseGitMirrors(raw)).toThrow(message);
    expect(() => parseGitMirrors(raw)).toThrow(/QUORUM_GIT_MIRRORS/);
  });

  it('refuses more mirrors than it holds', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_GIT_MIRRORS + 1 }, (_, i) => [`https://github.com/o/r${i}`, `/srv/r${i}`]));
    expect(() => mirrors(many)).toThrow(/at most/);
  });
});

describe('gitTarget', () => {
  const parsed = mirrors({ 'https://github.com/vercel/ms': '/srv/mirrors/vercel+ms/repo', 'https://github.com/org/': 'file:///srv/org', 'https://gitlab.com': 'https://mirror.internal/gitlab' });

  it('gives git the mirror of a repository named exactly, with or without .git or a trailing slash', () => {
    for (const repo of ['https://github.com/vercel/ms', 'https://github.com/vercel/ms.git', 'https://github.com/vercel/ms/', 'https://GitHub.com/vercel/ms']) {
      expect(gitTarget(repo, parsed)).toEqual({ url: 'file:///srv/mirrors/vercel+ms/repo', mirrored: true });
    }
  });

  it('maps nothing below a mirror of one repository: a path below it is another repository', () => {
    // each would make git read a directory inside the mirror (a bare mirror's worktrees/ or modules/,
    // or a repository committed in a non-bare mirror's tree)
    for (const repo of ['https://github.com/vercel/ms/objects', 'https://github.com/vercel/ms/worktrees/x', 'https://github.com/vercel/ms/test/fixtures/repo.git']) {
      expect(gitTarget(repo, parsed), repo).toEqual({ url: repo, mirrored: false });
    }
    // nor is a prefix ending in / a repository of its own
    expect(gitTarget('https://github.com/org', parsed)).toEqual({ url: 'https://github.com/org', mirrored: false });
  });

  it('appends the rest of the path below a prefix ending in / (or a whole host) to the mirror location', () => {
    expect(gitTarget('https://github.com/org/tool.git', parsed)).toEqual({ url: 'file:///srv/org/tool', mirrored: true });
    expect(gitTarget('https://gitlab.com/group/sub/project', parsed)).toEqual({ url: 'https://mirror.internal/gitlab/group/sub/project', mirrored: true });
  });

  it('leaves every other repository as it is', () => {
    for (const repo of [
      'https://github.com/vercel/ms-extra',
      'https://github.com/organisation/x',
      'http://github.com/vercel/ms',
      'https://github.com:8443/vercel/ms',
      'file:///srv/mirrors/vercel+ms/repo',
      'not a url',
    ]) {
      expect(gitTarget(repo, parsed)).toEqual({ url: repo, mirrored: false });
    }
    expect(gitTarget('https://github.com/vercel/ms', [])).toEqual({ url: 'https://github.com/vercel/ms', mirrored: false });
    expect(gitTarget('https://github.com/vercel/ms', undefined)).toEqual({ url: 'https://github.com/vercel/ms', mirrored: false });
  });

  it('never lets a submitted path climb out of a mirror directory or carry encoded separators', () => {
    for (const repo of [
      'https://github.com/org/%2e%2e/%2e%2e/etc',
      'https://github.com/org/a%2fb',
      'https://github.com/org/.hidden',
      'https://github.com/org/a?x=1',
      'https://u:p@github.com/org/a',
      'https://github.com/org/-upload-pack=id',
    ]) {
      const target = gitTarget(repo, parsed);
      expect(target.mirrored, repo).toBe(false);
      expect(target.url).toBe(repo);
    }
  });
});

describe('a mirrored repository through git', () => {
  let repo: ReturnType<typeof makeRepo>;
  beforeAll(() => {
    repo = makeRepo();
  });
  afterAll(() => rmSync(repo.root, { recursive: true, force: true }));

  it("lists the tags of the canonical URL from the operator's mirror directory", async () => {
    const mirrorRoot = join(repo.root, 'mirrors');
    mkdirSync(join(mirrorRoot, 'owner'), { recursive: true });
    gitFixture(['clone', '--quiet', '--bare', repo.work, join(mirrorRoot, 'owner', 'name')], dirname(repo.work));
    const policy = egressPolicy({ gitMirrors: mirrors({ 'https://github.com/': mirrorRoot }) });
    const via = gitTarget('https://github.com/owner/name.git', policy.gitMirrors);
    expect(via.mirrored).toBe(true);
    const refs = await gitLsRemote(via.url, ['v1.0.0'], { policy, allowLocal: true });
    expect(refs.get('v1.0.0')).toBe(repo.first);
  });
});

describe("an operator's mirror on an http host", () => {
  const servers: TestServer[] = [];
  let repo: ReturnType<typeof makeRepo>;
  beforeAll(() => {
    repo = makeRepo();
    mkdirSync(join(repo.root, 'srv', 'owner'), { recursive: true });
    gitFixture(['clone', '--quiet', '--bare', repo.work, join(repo.root, 'srv', 'owner', 'name.git')], dirname(repo.work));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  afterAll(() => rmSync(repo.root, { recursive: true, force: true }));

  const mirrored = async () => {
    const server = await gitHttpServer(join(repo.root, 'srv'));
    servers.push(server);
    // no egress exception for the mirror's loopback address: the mirror is allowed as a mirror only
    const policy = egressPolicy({ gitMirrors: mirrors({ 'https://github.com/': `${server.origin}/` }) });
    return { server, policy };
  };

  it('is fetched although the policy refuses its address to anything else', async () => {
    const { server, policy } = await mirrored();
    const opts = { policy, allowLocal: false };
    expect((await gitLsRemote('https://github.com/owner/name', ['v1.0.0'], opts)).get('v1.0.0')).toBe(repo.first);
    // the same location named directly, as a submitter could, stays refused
    expect((await failure(gitLsRemote(`${server.origin}/owner/name.git`, ['v1.0.0'], opts))).code).toBe('egress-refused');
  });

  it("names the repository in its errors, never the mirror's host, port or path", async () => {
    const { server, policy } = await mirrored();
    const opts = { policy, allowLocal: false };
    const missing = await failure(gitFetchCommit('https://github.com/owner/name', join(repo.root, 'dest-1', 'src'), 'f'.repeat(40), opts));
    expect(missing).toMatchObject({ code: 'source-not-found', message: `cannot fetch https://github.com/owner/name from the operator's mirror: commit ${'f'.repeat(40)} is not in it` });
    const absent = await failure(gitClone('https://github.com/owner/absent', join(repo.root, 'dest-2', 'src'), opts));
    expect(absent).toMatchObject({ code: 'source-not-found', message: "cannot clone https://github.com/owner/absent from the operator's mirror: repository not found" });
    await server.close();
    const down = await failure(gitLsRemote('https://github.com/owner/name', ['v1.0.0'], opts));
    expect(down).toMatchObject({ code: 'upstream-unavailable', message: "cannot list the refs of https://github.com/owner/name from the operator's mirror: the mirror cannot be reached" });
    for (const e of [missing, absent, down]) {
      expect(e.message).not.toContain('127.0.0.1');
      expect(e.message).not.toContain(String(server.port));
    }
    expect(readdirSync(join(repo.root, 'dest-1'))).toEqual([]);
  });
});
