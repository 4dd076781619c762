import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReleaseView, Verdict } from '@quorum/core';
import { runCli, type CliIo } from './main.js';
import { Capture, closedPort, FakeCoordinator } from './test-support/fake-coordinator.js';
import { lifecycle, packageView, release, verdict, worker } from './test-support/views.js';
import { FORGED_LINE, HOSTILE, HOSTILE_ESCAPED, hostileRelease, RAW_CONTROL } from './test-support/hostile.js';
import { safeText } from './terminal-text.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  out: Capture;
}

/** Runs `quorum <argv>` in-process against the fake coordinator (unless argv names another server). */
async function quorum(argv: string[], opts: { tty?: boolean; stdoutTty?: boolean; env?: NodeJS.ProcessEnv; io?: Partial<CliIo> } = {}): Promise<Run> {
  const out = new Capture(opts.stdoutTty ?? false);
  const err = new Capture(opts.tty ?? false);
  const code = await runCli(argv, { stdout: out, stderr: err, env: opts.env ?? {}, pollIntervalMs: 20, ...opts.io });
  return { code, stdout: out.text, stderr: err.text, out };
}

const fake = new FakeCoordinator();
let server: string[];
beforeAll(async () => {
  await fake.start();
  server = ['--server', fake.url];
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.requests.length = 0;
});

const PURL = 'pkg:npm/left-pad@1.3.0';

describe('quorum submit', () => {
  it('prints the new release id and exits 0 without --wait', async () => {
    fake.serveLifecycle(lifecycle('reproducible'));
    const r = await quorum(['submit', PURL, ...server]);
    expect(r).toMatchObject({ code: 0, stdout: 'rel-1\n', stderr: '' });
    expect(fake.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['POST /v1/releases']);
  });

  it('prints the submitted release with --json, verdict null until decided', async () => {
    fake.serveLifecycle(lifecycle('reproducible'));
    const r = await quorum(['submit', PURL, '--json', ...server]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.verdict).toBeNull();
    expect(out.release).toEqual(lifecycle('reproducible')[0]);
  });

  it('sends --repo and --ref with the purl and the submit token', async () => {
    fake.serveLifecycle(lifecycle('reproducible'));
    await quorum(['submit', PURL, '--repo', 'https://github.com/left-pad/left-pad', '--ref', 'v1.3.0', '--token', 'qs_secret', ...server]);
    expect(JSON.parse(fake.requests[0]!.body)).toEqual({ purl: PURL, repo: 'https://github.com/left-pad/left-pad', ref: 'v1.3.0' });
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer qs_secret');
  });

  it('takes the submit token from QUORUM_SUBMIT_TOKEN, and refuses overrides without one before any request', async () => {
    fake.serveLifecycle(lifecycle('reproducible'));
    await quorum(['submit', PURL, '--ref', 'v1.3.0', ...server], { env: { QUORUM_SUBMIT_TOKEN: 'qs_env' } });
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer qs_env');
    fake.requests.length = 0;
    const r = await quorum(['submit', PURL, '--ref', 'v1.3.0', ...server]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--repo and --ref override the source the registry declares, which needs a submit token/);
    expect(fake.requests).toHaveLength(0);
  });

  it('uses QUORUM_SERVER when --server is absent', async () => {
    fake.serveLifecycle(lifecycle('reproducible'));
    const r = await quorum(['submit', PURL], { env: { QUORUM_SERVER: fake.url } });
    expect(r.code).toBe(0);
    expect(fake.requests).toHaveLength(1);
  });

  const verdicts: Array<[Verdict, number]> = [
    ['reproducible', 0],
    ['equivalent', 0],
    ['mismatch', 2],
    ['unreproducible', 3],
    ['failed', 4],
  ];
  it('exits 7, not 0, for a passing verdict about an override source, and says so first', async () => {
    const views = lifecycle('reproducible').map((v) => ({
      ...v,
      canonical: false,
      submittedBy: 'mallory',
      source: { origin: 'override' as const, repo: 'https://evil.example/x.git', refs: ['v1'], toolchain: {}, steps: [] },
    }));
    fake.serveLifecycle(views);
    const r = await quorum(['submit', PURL, '--repo', 'https://evil.example/x.git', '--token', 'qs_x', '--wait', ...server]);
    expect(r.code).toBe(7);
    expect(r.stdout.split('\n')[0]).toMatch(/^OVERRIDE: +built from a submitter's source \(submitted by mallory\)/);
  });

  it.each(verdicts)('follows a release to a %s verdict and exits %i', async (v, code) => {
    fake.serveLifecycle(lifecycle(v));
    const r = await quorum(['submit', PURL, '--wait', ...server]);
    expect(r.code).toBe(code);
    // progress: one line per change on stderr (not a terminal)
    expect(r.stderr).toMatch(/^\[ *[\d.]+m?s\] release rel-1 queued \(quorum 2 of 3\)$/m);
    expect(r.stderr).toMatch(/\] release rel-1 building$/m);
    expect(r.stderr).toMatch(/\] worker-1 \(operator-1\) running$/m);
    expect(r.stderr).toMatch(/\] worker-3 \(operator-3\) assigned$/m);
    expect(r.stderr).toMatch(new RegExp(`\\] release rel-1 decided: ${v}$`, 'm'));
    expect(r.stderr.match(/worker-2 \(operator-2\) running/g)).toHaveLength(1);
    // the summary on stdout
    expect(r.stdout).toMatch(new RegExp(`^verdict: +${v}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^reason: +reason for ${v}$`, 'm'));
    expect(r.stdout).toContain(`${fake.url}/v1/rebuilds/rb-1/log`);
    expect(r.stdout).not.toContain('release rel-1 building');
  });

  it('lists agreeing builders, stabilizers and per-builder digests for equivalent', async () => {
    fake.serveLifecycle(lifecycle('equivalent'));
    const r = await quorum(['submit', PURL, '--wait', ...server]);
    expect(r.stdout).toMatch(/^agreeing: +worker-1, worker-2, worker-3 \(3 independent\)$/m);
    expect(r.stdout).toMatch(/^stabilizers: +gzip-time, tar-times$/m);
    expect(r.stdout).toMatch(/^\* worker-2 +operator-2 +succeeded +bbbbbbbbbbbb +same \(stabilized\)/m);
  });

  it('reports a release decided at submission without polling', async () => {
    const rec = verdict('failed', { reason: 'source not found' });
    const decidedAtOnce = release({ state: 'decided', problem: { code: 'source-not-found', message: 'no repository field' }, verdict: rec, verdictHistory: [rec] });
    fake.handle = () => ({ status: 202, json: decidedAtOnce });
    const r = await quorum(['submit', PURL, '--wait', ...server]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^problem: +source-not-found: no repository field$/m);
    expect(fake.requests.map((q) => q.method)).toEqual(['POST']);
  });

  it('prints only the final verdict and release on stdout with --wait --json, and no progress off a terminal', async () => {
    const views = lifecycle('mismatch');
    fake.serveLifecycle(views);
    const r = await quorum(['submit', PURL, '--wait', '--json', ...server]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.verdict).toBe('mismatch');
    expect(out.rebuilds).toEqual(views[3]!.rebuilds);
    expect(out.release).toEqual(views[3]);
    expect(r.stderr).toBe('');
  });

  it('draws the live table on a terminal stderr even with --json', async () => {
    const views = lifecycle('reproducible');
    fake.serveLifecycle(views);
    const r = await quorum(['submit', PURL, '--wait', '--json', ...server], { tty: true });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).release).toEqual(views[3]);
    expect(r.stderr).toContain('BUILDER');
    expect(r.stderr).toMatch(/worker-2 +operator-2 +running/);
  });

  it('polls every 500 ms by default', async () => {
    fake.serveLifecycle(lifecycle('reproducible'));
    const r = await quorum(['submit', PURL, '--wait', ...server], { io: { pollIntervalMs: 500 } });
    expect(r.code).toBe(0);
    const polls = fake.requests.filter((q) => q.method === 'GET').map((q) => q.at);
    expect(polls).toHaveLength(3);
    for (let i = 1; i < polls.length; i++) expect(polls[i]! - polls[i - 1]!).toBeGreaterThanOrEqual(450);
  }, 10_000);

  it('gives up after --timeout seconds with exit 1', async () => {
    fake.serveLifecycle(lifecycle('reproducible').slice(0, 2));
    const r = await quorum(['submit', PURL, '--wait', '--timeout', '0.3', ...server]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`quorum: no verdict within 0.3 s: release rel-1 is still building; follow it with \`quorum status ${PURL}\`\n`);
    expect(r.stdout).toBe('');
  });

  it('keeps waiting through a brief coordinator outage', async () => {
    const views = lifecycle('reproducible');
    let polls = 0;
    fake.handle = (req) => {
      if (req.method === 'POST') return { status: 202, json: views[0] };
      polls += 1;
      if (polls === 2) return { status: 503, json: { error: { code: 'internal', message: 'coordinator restarting' } } };
      return { status: 200, json: views[Math.min(polls, 3)] };
    };
    const r = await quorum(['submit', PURL, '--wait', ...server]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('coordinator restarting; retrying');
  });

  it('prints a 400 error body as "quorum: <message>" and exits 1', async () => {
    fake.handle = () => ({ status: 400, json: { error: { code: 'unknown-registry', message: 'registry "pypi" is not supported' } } });
    const r = await quorum(['submit', 'pkg:pypi/requests@2.0.0', '--wait', ...server]);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'quorum: registry "pypi" is not supported\n' });
  });

  it('stops waiting on a 4xx while polling', async () => {
    let first = true;
    fake.handle = () => {
      if (first) {
        first = false;
        return { status: 202, json: release() };
      }
      return { status: 404, json: { error: { code: 'not-found', message: 'release rel-1 not found' } } };
    };
    const r = await quorum(['submit', PURL, '--wait', ...server]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/quorum: release rel-1 not found\n$/);
  });

  it('explains a refused connection without a stack trace', async () => {
    const port = await closedPort();
    const r = await quorum(['submit', PURL, '--wait', '--server', `http://127.0.0.1:${port}`]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe(`quorum: cannot reach the coordinator at http://127.0.0.1:${port} (is \`quorum up\` running?)\n`);
  });

  it.each([
    ['a purl without version', ['submit', 'pkg:npm/left-pad'], /^quorum: purl "pkg:npm\/left-pad" has no version/],
    ['a malformed purl', ['submit', 'left-pad'], /^quorum: malformed purl "left-pad"/],
    ['a missing purl', ['submit'], /^quorum: missing required argument 'purl'/],
    ['an unknown option', ['submit', PURL, '--frobnicate'], /^quorum: unknown option '--frobnicate'/],
    ['a bad timeout', ['submit', PURL, '--wait', '--timeout', 'soon'], /^quorum: option '--timeout <seconds>' argument 'soon' is invalid/],
    ['a bad server URL', ['submit', PURL, '--server', 'localhost:8080'], /^quorum: invalid coordinator URL "localhost:8080"/],
  ])('rejects %s with exit 1 before any request', async (_name, argv, message) => {
    const r = await quorum(argv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('quorum status', () => {
  const decided = (v: Verdict, id: string, createdAt: string): ReleaseView => {
    const rec = verdict(v);
    return { ...lifecycle(v)[3]!, id, createdAt, verdict: rec, verdictHistory: [rec] };
  };
  const newer = decided('mismatch', 'rel-2', '2025-01-02T00:00:00.000Z');
  const older = decided('reproducible', 'rel-1', '2025-01-01T00:00:00.000Z');
  const servePackage = (releases: ReleaseView[], purl = PURL) => {
    fake.handle = (req) => (req.url.startsWith('/v1/packages/') ? { status: 200, json: packageView(purl, releases) } : { status: 404, json: { error: { code: 'not-found', message: 'no route' } } });
  };

  it('shows the release that answers for a version and exits with its verdict', async () => {
    servePackage([newer, older]);
    const r = await quorum(['status', PURL, ...server]);
    expect(r.code).toBe(2);
    expect(fake.requests[0]!.url).toBe(`/v1/packages/${encodeURIComponent(PURL)}`);
    expect(r.stdout).toMatch(/^answer: +pkg:npm\/left-pad@1\.3\.0: mismatch$/m);
    expect(r.stdout).toMatch(/^verdict: +mismatch$/m);
    expect(r.stdout).toContain('rel-2');
    expect(r.stdout).not.toMatch(/^release: +rel-1/m);
    expect(r.stdout).toContain(`(1 other release of ${PURL}; --all shows them)`);
  });

  it('never lets a newer override verdict replace a mismatch in the headline or the exit code', async () => {
    const override = {
      ...decided('reproducible', 'rel-9', '2025-01-09T00:00:00.000Z'),
      canonical: false,
      submittedBy: 'mallory',
      source: { origin: 'override' as const, repo: 'https://evil.example/left-pad.git', commit: 'e'.repeat(40), refs: [], toolchain: {}, steps: [] },
    };
    servePackage([override, newer]);
    const r = await quorum(['status', PURL, ...server]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^answer: +pkg:npm\/left-pad@1\.3\.0: mismatch$/m);
    expect(r.stdout).toMatch(/^ALARM: +mismatch for artifact sha256 a{64} \(release rel-2/m);
    expect(r.stdout).toMatch(/^overrides: +1 release\(s\) built from a submitter's source/m);
    const all = await quorum(['status', PURL, '--all', ...server]);
    expect(all.stdout).toMatch(/^OVERRIDE: +built from a submitter's source \(submitted by mallory\), not the package's own: this verdict never answers for pkg:npm\/left-pad@1\.3\.0$/m);
    const json = JSON.parse((await quorum(['status', PURL, '--json', ...server])).stdout);
    expect(json).toMatchObject({ verdict: 'mismatch', answer: { verdict: 'mismatch', releaseId: 'rel-2', overrideReleases: 1 }, release: { id: 'rel-2' } });
  });

  it("prints a mismatch's risk under its alarm and in the report, and includes it in --json", async () => {
    const risk = {
      level: 'high' as const,
      text: 'high risk: install script postinstall added in package.json',
      onlyPublished: { count: 0, paths: [] },
      onlyRebuilt: { count: 0, paths: [] },
      changed: { count: 1, paths: ['package/package.json'] },
      modeChanged: { count: 0, paths: [] },
      flags: [{ code: 'install-script', level: 'high' as const, message: 'install script postinstall added in package.json' }],
    };
    const rec = verdict('mismatch', { risk });
    const risky = { ...newer, verdict: rec, verdictHistory: [rec] };
    servePackage([risky, older]);
    const r = await quorum(['status', PURL, ...server]);
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines[lines.findIndex((l) => l.startsWith('ALARM:')) + 1]).toBe('risk:        HIGH — install script postinstall added in package.json');
    expect(lines[lines.findIndex((l) => l.startsWith('ALERT:')) + 1]).toBe('risk:        HIGH — install script postinstall added in package.json');
    const json = JSON.parse((await quorum(['status', PURL, '--json', ...server])).stdout);
    expect(json.release.verdict.risk).toEqual(risk);
    expect(json.answer.alarms[0].risk).toEqual({ level: 'high', text: risk.text });
  });

  it('shows every release with --all, newest first', async () => {
    servePackage([older, newer]);
    const r = await quorum(['status', PURL, '--all', ...server]);
    expect(r.code).toBe(2);
    const first = r.stdout.indexOf('rel-2');
    const second = r.stdout.indexOf('rel-1 (submitted');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThan(first);
    expect(r.stdout).toContain('(release 1 of 2, newest first)');
  });

  it('shows every release of an unversioned purl', async () => {
    servePackage([newer, older], 'pkg:npm/left-pad');
    const r = await quorum(['status', 'pkg:npm/left-pad', ...server]);
    expect(fake.requests[0]!.url).toBe('/v1/packages/pkg%3Anpm%2Fleft-pad');
    expect(r.stdout).toMatch(/^verdict: +reproducible$/m);
    expect(r.stdout).toMatch(/^verdict: +mismatch$/m);
  });

  it('prints { purl, verdict, answer, answers, release, releases } with --json', async () => {
    servePackage([newer, older]);
    const r = await quorum(['status', PURL, '--json', ...server]);
    expect(r.code).toBe(2);
    const view = packageView(PURL, [newer, older]);
    expect(JSON.parse(r.stdout)).toEqual({ purl: PURL, verdict: 'mismatch', answer: view.answers[0], answers: view.answers, release: newer, releases: [newer, older] });
  });

  it('exits 5 with verdict null while no release of the version is decided', async () => {
    const building = { ...lifecycle('reproducible')[2]!, id: 'rel-3', createdAt: '2025-01-03T00:00:00.000Z' };
    servePackage([building]);
    const r = await quorum(['status', PURL, '--json', ...server]);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: null, answer: { pending: true }, release: { id: 'rel-3' } });
    const human = await quorum(['status', PURL, ...server]);
    expect(human.code).toBe(5);
    expect(human.stdout).toMatch(/^verdict: +not decided yet \(building, 1\/3 builders finished\)$/m);
  });

  it('keeps answering with the decided release while a newer one is verified', async () => {
    const building = { ...lifecycle('reproducible')[2]!, id: 'rel-3', createdAt: '2025-01-03T00:00:00.000Z' };
    servePackage([building, older]);
    const r = await quorum(['status', PURL, ...server]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^answer: +pkg:npm\/left-pad@1\.3\.0: reproducible \(a newer release is being verified\)$/m);
  });

  it.each([
    ['an empty release list', () => servePackage([])],
    ['a 404', () => (fake.handle = () => ({ status: 404, json: { error: { code: 'not-found', message: 'unknown package' } } }))],
  ])('exits 1 for a purl with no release (%s)', async (_name, serve) => {
    serve();
    const r = await quorum(['status', PURL, ...server]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`quorum: no release of ${PURL} is known to the coordinator at ${fake.url}; submit one with \`quorum submit ${PURL}\`\n`);
    const json = await quorum(['status', PURL, '--json', ...server]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ purl: PURL, verdict: null, release: null, releases: [] });
  });

  it('passes other HTTP errors through', async () => {
    fake.handle = () => ({ status: 500, json: { error: { code: 'internal', message: 'internal error' } } });
    const r = await quorum(['status', PURL, ...server]);
    expect(r).toMatchObject({ code: 1, stderr: 'quorum: internal error\n' });
  });
});

describe('quorum logs', () => {
  const log = Buffer.concat([Buffer.from('> npm pack\r\n\u001b[31merror\u001b[0m\n'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.alloc(256 * 1024, 'x')]);
  const serveLog = (body: Buffer) => {
    fake.handle = (req) => (req.url === '/v1/rebuilds/rb-1/log' ? { status: 200, text: body } : { status: 404, json: { error: { code: 'not-found', message: 'no such rebuild' } } });
  };

  it('writes the log bytes unchanged with --raw', async () => {
    serveLog(log);
    const r = await quorum(['logs', 'rb-1', '--raw', ...server]);
    expect(r.code).toBe(0);
    expect(r.out.bytes.equals(log)).toBe(true);
    expect(r.stderr).toBe('');
  });

  it('escapes control sequences by default and keeps the lines', async () => {
    serveLog(Buffer.concat([Buffer.from(`> npm pack\r\n${HOSTILE.replace('\ud800', '')}\nnext\n`), Buffer.from([0xff, 0x00])]));
    const r = await quorum(['logs', 'rb-1', ...server]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`> npm pack\\r\n${HOSTILE_ESCAPED.replace('\\ud800', '')}\nnext\n\ufffd\\u0000`);
    expect(r.stdout.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
  });

  it('streams a large log without breaking a multi-byte character at a chunk boundary', async () => {
    // 7 bytes per repetition: network chunks of 2^n bytes end inside a character
    const text = `${'€😀'.repeat(150_000)}\x1b[2J\n`;
    serveLog(Buffer.from(text));
    const r = await quorum(['logs', 'rb-1', ...server]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(safeText(text, { multiline: true }));
    expect(r.stdout).not.toContain('\ufffd');
  });

  it('documents --raw in its help', async () => {
    const r = await quorum(['logs', '--help']);
    expect(r.stdout).toMatch(/--raw +write the log bytes unchanged/);
    expect(r.stdout).toContain('quorum logs <rebuild-id> --raw > build.log');
  });

  it('reports a missing log', async () => {
    fake.handle = () => ({ status: 404, json: { error: { code: 'not-found', message: 'rebuild rb-9 has no log' } } });
    const r = await quorum(['logs', 'rb-9', ...server]);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'quorum: rebuild rb-9 has no log\n' });
  });
});

describe('text a hostile coordinator serves', () => {
  it('prints an error message from the body of an error answer escaped', async () => {
    fake.handle = () => ({ status: 500, json: { error: { code: 'internal', message: `boom${HOSTILE}\n${FORGED_LINE}` } } });
    const r = await quorum(['status', PURL, ...server]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`quorum: boom${HOSTILE_ESCAPED}\\n${FORGED_LINE}\n`);
  });

  it('prints a status report escaped', async () => {
    fake.handle = () => ({ status: 200, json: { purl: PURL, releases: [hostileRelease()] } });
    const r = await quorum(['status', PURL, ...server]);
    expect(r.stdout.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
    expect(r.stdout.split('\n').some((l) => l.startsWith(FORGED_LINE))).toBe(false);
    expect(r.stdout).toContain(`reason${HOSTILE_ESCAPED}`);
  });

  it('prints the progress lines of submit --wait escaped', async () => {
    fake.serveLifecycle([release(), hostileRelease()]);
    const r = await quorum(['submit', PURL, '--wait', ...server]);
    expect(r.code).toBe(2);
    for (const text of [r.stdout, r.stderr]) {
      expect(text.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
      expect(text).not.toContain('\ufffd');
    }
    expect(r.stderr).toContain(`release rel-1${HOSTILE_ESCAPED} decided: mismatch`);
  });

  it('prints --json with DEL, C1 and bidi characters as \\u escapes, parsing to the served value', async () => {
    const view = hostileRelease();
    fake.handle = () => ({ status: 200, json: { purl: PURL, releases: [view] } });
    const r = await quorum(['status', PURL, '--json', ...server]);
    expect(r.stdout.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('\\u009b31m\\u007f\\b\\rALL OK\\u202eevil\\u2066x\\u2069\\ud800');
    expect(JSON.parse(r.stdout).release).toEqual(view);
  });

  it('prints the workers list escaped, and as JSON', async () => {
    const list = [worker({ id: `worker-1${HOSTILE}`, operator: `op\u202e${HOSTILE}` })];
    fake.handle = () => ({ status: 200, json: list });
    const table = await quorum(['workers', ...server]);
    expect(table.stdout.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
    expect(table.stdout).toContain(`worker-1${HOSTILE_ESCAPED}`);
    const json = await quorum(['workers', '--json', ...server]);
    expect(json.stdout.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json.stdout)).toEqual(list);
  });
});

describe('quorum workers', () => {
  const workers = [worker({ id: 'worker-1' }), worker({ id: 'worker-2', operator: 'operator-2', alive: false })];

  it('prints a table', async () => {
    fake.handle = () => ({ status: 200, json: workers });
    const r = await quorum(['workers', ...server]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^WORKER +OPERATOR +STATUS +LAST SEEN +RUNNING +IMAGES$/m);
    expect(r.stdout).toMatch(/^worker-2 +operator-2 +gone /m);
  });

  it('prints JSON with --json', async () => {
    fake.handle = () => ({ status: 200, json: workers });
    const r = await quorum(['workers', '--json', ...server]);
    expect(JSON.parse(r.stdout)).toEqual(workers);
  });
});

describe('program', () => {
  it('prints its version', async () => {
    const r = await quorum(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });

  it.each([['submit'], ['status'], ['logs'], ['workers'], ['up'], ['verify'], ['keys export'], ['admin enrol'], ['admin rejections']])('documents %s with examples', async (cmd) => {
    const r = await quorum([...cmd.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: quorum ${cmd}`);
    expect(r.stdout).toContain('Examples:');
  });

  it('documents the exit codes of submit and status', async () => {
    for (const cmd of ['submit', 'status']) {
      const r = await quorum([cmd, '--help']);
      expect(r.stdout).toMatch(/^ {2}2 {2}mismatch/m);
      expect(r.stdout).toMatch(/^ {2}4 {2}failed/m);
    }
    expect((await quorum(['status', '--help'])).stdout).toMatch(/^ {2}5 {2}/m);
    expect((await quorum(['submit', '--help'])).stdout).not.toMatch(/^ {2}[56] {2}/m);
    expect((await quorum(['status', '--help'])).stdout).not.toMatch(/^ {2}6 {2}/m);
  });

  it('documents the exit codes of verify and recommends a trust file', async () => {
    const r = await quorum(['verify', '--help']);
    expect(r.stdout).toMatch(/^ {2}6 {2}not verified/m);
    expect(r.stdout).toMatch(/--trust <file> +trust file from `quorum keys export` \(recommended/);
  });

  it('rejects an unknown command', async () => {
    const r = await quorum(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^quorum: unknown command 'frobnicate'/);
  });
});
