import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chromium } from 'playwright-core';
import { commitToGitPackage, makeGitPackage, type GitPackage } from '../fixtures/git-package.js';
import { LocalGoProxy, LocalSumDb, makeModuleZip, publishModule, type GoVersion } from '../fixtures/go-proxy.js';
import { Farm, ROOT } from './farm.js';

const QUORUM = join(ROOT, 'packages/cli/bin/quorum.js');
/** The fixtures' modules live on a host whose layout Quorum knows: the module path names the repository. */
const GH = 'github.com/quorum-fixtures';
const GO_MOD = (module: string) => `module ${module}\n\ngo 1.19\n`;
const ANSWER = 'package answer\n\n// Answer is the answer.\nfunc Answer() int { return 42 }\n';
const BACKDOOR = 'func init() { go exfiltrate() }\n';

type DiffView = { changed: { path: string; kind: string; unified?: string }[]; added: unknown[]; removed: unknown[] };

describe('Go modules on a farm of three workers (N=3, M=2), from a module proxy and a checksum database served over HTTP', () => {
  const proxy = new LocalGoProxy();
  const sumdb = new LocalSumDb();
  let farm: Farm;
  /** the fixtures' repositories: the farm fetches https://github.com/quorum-fixtures/<name> from here (the operator's git mirror) */
  let repos: string;
  beforeAll(async () => {
    repos = await mkdtemp(join(tmpdir(), 'quorum-go-repos-'));
    await Promise.all([proxy.start(), sumdb.start()]);
    const mirrors = JSON.stringify({ [`https://${GH}/`]: `${repos}/` });
    farm = await new Farm({ workers: 3, builders: 3, quorum: 2, env: { QUORUM_GOPROXY: proxy.url, QUORUM_GOSUMDB: sumdb.setting, QUORUM_GIT_MIRRORS: mirrors } }).start();
  }, 180_000);
  afterAll(async () => {
    await farm?.stop();
    await Promise.all([proxy.close(), sumdb.close()]);
    await rm(repos, { recursive: true, force: true });
  }, 60_000);

  /** A module version as the proxy records it: its Origin names the module's own repository. */
  const publish = (pkg: GitPackage, module: string, version: string) => publishModule(proxy, pkg, module, version, { originUrl: `https://${module}` });

  /** What the world sees of a version: the proxy serves it and the checksum database records its h1:. */
  const serve = async (module: string, version: string, v: GoVersion): Promise<string> => {
    proxy.publish(module, version, v);
    return sumdb.record(module, version, v.zip, v.mod);
  };

  it("calls a module whose zip the go command's rules make from its tag reproducible, by its h1: dirhash", async () => {
    const module = `${GH}/answer`;
    const pkg = await makeGitPackage(join(repos, 'answer'), { 'go.mod': GO_MOD(module), 'answer.go': ANSWER, LICENSE: 'MIT\n' }, 'v1.0.0');
    const recorded = await serve(module, 'v1.0.0', await publish(pkg, module, 'v1.0.0'));
    const view = await farm.submitAndDecide({ purl: `pkg:golang/${module}@v1.0.0` });
    expect(view.verdict?.verdict, view.verdict?.reason).toBe('reproducible');
    expect(view.verdict?.agreeingCount).toBe(3);
    for (const r of view.rebuilds) {
      expect(r.source?.commit).toBe(pkg.commit);
      expect(r.source?.ref).toBe('v1.0.0');
      expect(r.matchesPublished).toBe('bitwise');
    }
    const log = await (await fetch(`${farm.url}${view.rebuilds[0]!.logUrl}`)).text();
    expect(log).toContain(`quorum-gomodzip: ${module}@v1.0.0 h1:`);
    // what the build printed is the dirhash of the published zip: Go's own h1: and ours agree
    const h1 = /h1:[A-Za-z0-9+/]{43}=/.exec(log)![0];
    expect(Buffer.from(h1.slice(3), 'base64').toString('hex')).toBe(view.published!.stabilizedSha256);
    // and it is what the checksum database records, proven in its signed tree
    expect(h1).toBe(recorded);
    expect(view.verdict?.notes?.join('\n')).toContain(`the checksum database sum.test records ${recorded} for ${module}@v1.0.0`);
    // a consumer recounts the signed statements against the zip it downloads from the proxy itself
    const trust = join(farm.dir, 'go-trust.json');
    await execa('node', [QUORUM, 'keys', 'export', '--server', farm.url, '--out', trust]);
    const verify = await execa('node', [QUORUM, 'verify', `pkg:golang/${module}@v1.0.0`, '--trust', trust, '--json', '--server', farm.url], {
      reject: false,
      env: { QUORUM_GOPROXY: proxy.url, QUORUM_GOSUMDB: sumdb.setting },
    });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ verified: true, artifact: { source: 'registry', sha256: view.published!.sha256 } });
    // a project's go.sum audited against the verdicts: the h1: it pins is the one verified
    const project = join(farm.dir, 'go-project');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'go.sum'), `${module} v1.0.0 ${h1}\n${module} v1.0.0/go.mod h1:${Buffer.alloc(32).toString('base64')}\n`);
    const audit = await execa('node', [QUORUM, 'audit', join(project, 'go.sum'), '--json', '--server', farm.url], { reject: false });
    expect(audit.exitCode, audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({ format: 'go.sum', entries: [{ purl: `pkg:golang/${module}@v1.0.0`, status: 'reproducible', integrity: 'match' }] });
    // a go.sum pinning another zip under that version installs what nobody verified
    await writeFile(join(project, 'go.sum'), `${module} v1.0.0 h1:${Buffer.alloc(32, 1).toString('base64')}\n`);
    const other = await execa('node', [QUORUM, 'audit', join(project, 'go.sum'), '--json', '--server', farm.url], { reject: false });
    expect(other.exitCode).not.toBe(0);
    expect(JSON.parse(other.stdout)).toMatchObject({ entries: [{ status: 'mismatch', integrity: 'differs' }] });
    // and the dashboard shows the release like any other
    const page = await (await fetch(`${farm.url}/ui/releases/${view.id}`)).text();
    expect(page).toContain(`pkg:golang/${module}@v1.0.0`);
    expect(page).toContain('reproducible');
  });

  it('flags an xz-style line injected into the published zip as mismatch, the line in the diff, high risk', async () => {
    const module = `${GH}/xzlike`;
    const pkg = await makeGitPackage(join(repos, 'xzlike'), { 'go.mod': GO_MOD(module), 'answer.go': ANSWER }, 'v1.2.0');
    const clean = await publish(pkg, module, 'v1.2.0');
    // the zip-only change: the tagged commit stays clean, the proxy serves a zip made from a tree with one more line
    await writeFile(join(pkg.dir, 'answer.go'), ANSWER + BACKDOOR);
    await serve(module, 'v1.2.0', { ...clean, zip: await makeModuleZip(pkg.dir, module, 'v1.2.0') });
    const view = await farm.submitAndDecide({ purl: `pkg:golang/${module}@v1.2.0` });
    expect(view.verdict?.verdict, view.verdict?.reason).toBe('mismatch');
    expect(view.verdict?.agreeingCount).toBe(3);
    expect(view.verdict?.risk).toMatchObject({ level: 'high', flags: [{ code: 'code-changed' }], changed: { count: 1, paths: [`${module}@v1.2.0/answer.go`] } });
    const diff = await farm.json<DiffView>('GET', `/v1/releases/${view.id}/diff`);
    expect(diff.changed.map((c) => [c.path, c.kind])).toEqual([[`${module}@v1.2.0/answer.go`, 'text']]);
    expect(diff.changed[0]!.unified!.split('\n').filter((l) => /^[+-](?![+-]{2})/.test(l))).toEqual([`+${BACKDOOR.trimEnd()}`]);
    const cli = await execa('node', [QUORUM, 'diff', `pkg:golang/${module}@v1.2.0`, '--server', farm.url], { reject: false });
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(BACKDOOR.trimEnd());

    // an auditor sees the same in the dashboard, in Chromium: the verdict, the risk, the injected line
    const browser = await chromium.launch({ executablePath: process.env.QUORUM_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.route('**/*', (route) => (route.request().url().startsWith(farm.url) ? route.continue() : route.abort()));
      await page.goto(`${farm.url}/ui/releases/${view.id}`);
      await expect(page.locator('hgroup mark').textContent()).resolves.toBe('mismatch');
      await expect(page.locator('article[aria-label="Risk summary"] header').textContent()).resolves.toBe(`high risk: 1 Go source file changed: ${module}@v1.2.0/answer.go`);
      await page.getByRole('button', { name: 'What differs' }).click();
      await page.waitForURL(/\/diff$/);
      await expect(page.locator('summary.file-changed').first().textContent()).resolves.toBe(`changed ${module}@v1.2.0/answer.go`);
      await expect(page.locator('.d.add').filter({ hasText: 'exfiltrate' }).count()).resolves.toBe(1);
    } finally {
      await browser.close();
    }
  });

  it("catches the proxy's backdoored zip while the repository's tag was moved to clean code: mismatch, and the move said loudly", async () => {
    // the attack on a Go module mirror: the tag first pointed at a backdoored commit, the proxy fetched
    // and kept that zip, then the tag was moved to clean code so that the repository looks innocent
    const module = `${GH}/boltlike`;
    const pkg = await makeGitPackage(join(repos, 'boltlike'), { 'go.mod': GO_MOD(module), 'answer.go': ANSWER + BACKDOOR }, 'v1.3.1');
    await serve(module, 'v1.3.1', await publish(pkg, module, 'v1.3.1'));
    const backdoored = pkg.commit;
    const clean = await commitToGitPackage(pkg, { 'answer.go': ANSWER }, { message: 'clean', tag: 'v1.3.1', force: true });
    const view = await farm.submitAndDecide({ purl: `pkg:golang/${module}@v1.3.1` });
    expect(view.verdict?.verdict, view.verdict?.reason).toBe('mismatch');
    for (const r of view.rebuilds) expect(r.source?.commit).toBe(clean);
    const said = [...(view.verdict?.notes ?? []), ...(view.source?.steps ?? [])].join('\n');
    expect(said).toContain(`tag v1.3.1 moved: the registry recorded it at ${backdoored}`);
    const pkgView = await farm.json<{ answers: { movedTags: { ref: string; firstCommit: string; commit: string }[] }[] }>('GET', `/v1/packages/${encodeURIComponent(`pkg:golang/${module}`)}`);
    expect(pkgView.answers[0]!.movedTags).toEqual([expect.objectContaining({ ref: 'v1.3.1', firstCommit: backdoored, commit: clean })]);
    // the badge a README shows says it too
    const badge = await (await fetch(`${farm.url}/v1/badges/${encodeURIComponent(`pkg:golang/${module}@v1.3.1`)}.svg`)).text();
    expect(badge).toContain('mismatch');
    const diff = await farm.json<DiffView>('GET', `/v1/releases/${view.id}/diff`);
    expect(diff.changed[0]!.unified).toContain(`+${BACKDOOR.trimEnd()}`);
  });

  it("builds a module from its module path's repository whatever the proxy names, and never fetches from an internal address it names", async () => {
    const hits: string[] = [];
    const internal = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('secret');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
    try {
      const module = `${GH}/inside`;
      const pkg = await makeGitPackage(join(repos, 'inside'), { 'go.mod': GO_MOD(module), 'answer.go': ANSWER }, 'v1.0.0');
      const v = await publish(pkg, module, 'v1.0.0');
      const elsewhere = `http://127.0.0.1:${(internal.address() as AddressInfo).port}/inside.git`;
      await serve(module, 'v1.0.0', { ...v, origin: { ...v.origin!, URL: elsewhere } });
      const view = await farm.submitAndDecide({ purl: `pkg:golang/${module}@v1.0.0` });
      expect(view.verdict?.verdict, view.verdict?.reason).toBe('reproducible');
      expect(view.source?.repo).toBe(`https://${module}`);
      expect(view.source?.steps.join('\n')).toContain(`WARNING: the module proxy's Origin names another repository (${elsewhere})`);
      expect(hits).toEqual([]);
    } finally {
      await new Promise<void>((r) => internal.close(() => r()));
    }
  });

  it('decides a proxy zip an extractor could be tricked with failed, naming why, and a tree declaring another module failed too', async () => {
    const module = `${GH}/escape`;
    const pkg = await makeGitPackage(join(repos, 'escape'), { 'go.mod': GO_MOD(module), 'aa/evil.go': ANSWER }, 'v1.0.0');
    const v = await publish(pkg, module, 'v1.0.0');
    // the same zip with one entry renamed, in the central directory and the local header alike, to leave the module's directory
    const from = Buffer.from(`${module}@v1.0.0/aa/evil.go`);
    const to = Buffer.from(`${module}@v1.0.0/../evil.go`.padEnd(from.length, '/'));
    const zip = Buffer.from(v.zip);
    for (let at = zip.indexOf(from); at !== -1; at = zip.indexOf(from, at + 1)) to.copy(zip, at);
    await serve(module, 'v1.0.0', { ...v, zip });
    const view = await farm.submitAndDecide({ purl: `pkg:golang/${module}@v1.0.0` });
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(/unsafe-archive|\.\./);

    const named = `${GH}/named`;
    const other = await makeGitPackage(join(repos, 'named'), { 'go.mod': GO_MOD(`${GH}/someone-else`), 'answer.go': ANSWER }, 'v1.0.0');
    await serve(named, 'v1.0.0', await publish(other, named, 'v1.0.0'));
    const decided = await farm.submitAndDecide({ purl: `pkg:golang/${named}@v1.0.0` });
    expect(decided.verdict?.verdict).toBe('failed');
    for (const r of decided.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'source-mismatch' });
  });

  it('refuses a proxy zip that is not the one the checksum database records, before any build', async () => {
    const module = `${GH}/swapped`;
    const pkg = await makeGitPackage(join(repos, 'swapped'), { 'go.mod': GO_MOD(module), 'answer.go': ANSWER }, 'v1.0.0');
    const honest = await publish(pkg, module, 'v1.0.0');
    await serve(module, 'v1.0.0', honest);
    // the proxy now serves this client another zip than the one the world's go.sum files pin
    await writeFile(join(pkg.dir, 'answer.go'), ANSWER + BACKDOOR);
    proxy.publish(module, 'v1.0.0', { ...honest, zip: await makeModuleZip(pkg.dir, module, 'v1.0.0') });
    const view = await farm.submitAndDecide({ purl: `pkg:golang/${module}@v1.0.0` });
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(/^integrity-mismatch: .*is not the h1:.* the checksum database records/);
    expect(view.rebuilds).toEqual([]);
  });

  it('makes a consumer refuse a checksum database whose tree head another key signed', async () => {
    const module = `${GH}/impostor`;
    const pkg = await makeGitPackage(join(repos, 'impostor'), { 'go.mod': GO_MOD(module), 'answer.go': ANSWER }, 'v1.0.0');
    const v = await publish(pkg, module, 'v1.0.0');
    await serve(module, 'v1.0.0', v);
    expect((await farm.submitAndDecide({ purl: `pkg:golang/${module}@v1.0.0` })).verdict?.verdict).toBe('reproducible');
    const impostor = await new LocalSumDb().start();
    try {
      // the same records, served at another address with another key: the consumer trusts the farm database's key
      await impostor.record(module, 'v1.0.0', v.zip, v.mod);
      const key = sumdb.setting.split(' ')[0]!;
      const env = { QUORUM_GOPROXY: proxy.url, QUORUM_GOSUMDB: `${key} ${impostor.url}` };
      const verify = await execa('node', [QUORUM, 'verify', `pkg:golang/${module}@v1.0.0`, '--json', '--server', farm.url], { reject: false, env });
      expect(verify.exitCode, verify.stderr).not.toBe(0);
      expect(verify.stderr).toMatch(/the checksum database sum\.test sent a tree head not signed by its key/);
      const trusted = await execa('node', [QUORUM, 'verify', `pkg:golang/${module}@v1.0.0`, '--json', '--server', farm.url], { reject: false, env: { ...env, QUORUM_GOSUMDB: sumdb.setting } });
      expect(trusted.exitCode, trusted.stderr).toBe(0);
    } finally {
      await impostor.close();
    }
  });
});
