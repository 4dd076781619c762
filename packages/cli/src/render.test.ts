import { describe, expect, it } from 'vitest';
import type { PurlAnswer, Verdict } from '@quorum/core';
import {
  alignRows,
  formatAge,
  formatDuration,
  formatTable,
  oneLine,
  rebuildDetail,
  rebuildElapsedMs,
  renderBuilderTable,
  renderAnswer,
  renderProgress,
  renderReleaseReport,
  renderWorkers,
  riskLine,
  shortDigest,
} from './render.js';
import { renderEnrolment, renderRejections, shellWord } from './render.js';
import { built, lifecycle, NOW, rebuild, release, worker } from './test-support/views.js';
import { FORGED_LINE, HOSTILE, HOSTILE_ESCAPED, hostileRelease, RAW_CONTROL } from './test-support/hostile.js';

const SERVER = 'http://127.0.0.1:8080';

describe('formatDuration', () => {
  it.each([
    [undefined, '-'],
    [-5, '-'],
    [Number.NaN, '-'],
    [0, '0ms'],
    [850, '850ms'],
    [1000, '1.0s'],
    [12_345, '12.3s'],
    [59_999, '59.9s'],
    [60_000, '1m00s'],
    [245_000, '4m05s'],
    [3_600_000, '1h00m'],
    [3_720_000, '1h02m'],
  ])('formats %s ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatAge', () => {
  it.each([
    ['2025-01-01T00:01:00.000Z', 'just now'],
    ['2025-01-01T00:00:48.000Z', '12s ago'],
    ['2025-01-01T00:00:00.000Z', '1m ago'],
    ['2024-12-31T20:00:00.000Z', '4h ago'],
    ['2024-12-29T00:00:00.000Z', '3d ago'],
    ['2025-01-01T00:02:00.000Z', 'just now'],
    ['not a date', '-'],
    [undefined, '-'],
  ])('says %s is %s', (iso, text) => {
    expect(formatAge(iso, NOW)).toBe(text);
  });
});

describe('small helpers', () => {
  it.each([
    [undefined, '-'],
    ['', '-'],
    ['0123456789abcdef0123', '0123456789ab'],
    ['sha256:0123456789abcdef', '0123456789ab'],
  ])('shortens digest %s to %s', (hex, text) => {
    expect(shortDigest(hex)).toBe(text);
  });

  it.each([
    [undefined, ''],
    ['one line', 'one line'],
    ['\n  first\nsecond', 'first'],
    ['x'.repeat(70), `${'x'.repeat(57)}...`],
  ])('keeps the first line of %j', (text, out) => {
    expect(oneLine(text)).toBe(out);
  });

  it('aligns columns with two spaces and no trailing blanks', () => {
    expect(
      formatTable(
        ['A', 'LONGER'],
        [
          ['xyz', '1'],
          ['', '22'],
        ],
      ),
    ).toBe('A    LONGER\nxyz  1\n     22');
    expect(alignRows([['a', 'b'], ['ccc']])).toBe('a    b\nccc');
  });
});

describe('rebuildDetail', () => {
  it.each([
    ['an assigned rebuild', rebuild({ id: 'r', workerId: 'w1' }), ''],
    ['a running rebuild', rebuild({ id: 'r', workerId: 'w1', state: 'running' }), ''],
    ['a bitwise match', built('r', 'w1', 'a', 'bitwise'), 'sha256 aaaaaaaaaaaa same (bitwise)'],
    ['a stabilized match', built('r', 'w1', 'b', 'stabilized'), 'sha256 bbbbbbbbbbbb same (stabilized)'],
    ['a differing artifact', built('r', 'w1', 'c', 'no'), 'sha256 cccccccccccc DIFFERS'],
    ['a failure with message', rebuild({ id: 'r', workerId: 'w1', state: 'failed', reason: 'build-error', message: 'npm ERR! x\nmore' }), 'build-error: npm ERR! x'],
    ['a failure without message', rebuild({ id: 'r', workerId: 'w1', state: 'failed', reason: 'timeout' }), 'timeout'],
    ['a failure with only an exit code', rebuild({ id: 'r', workerId: 'w1', state: 'failed', exitCode: 137 }), 'exit code 137'],
    ['a lost rebuild', rebuild({ id: 'r', workerId: 'w1', state: 'lost', reason: 'worker-gone' }), 'worker-gone'],
  ])('describes %s', (_name, r, text) => {
    expect(rebuildDetail(r)).toBe(text);
  });
});

describe('rebuildElapsedMs', () => {
  it('uses the reported total when there is one', () => {
    expect(rebuildElapsedMs(built('r', 'w1', 'a', 'bitwise', 7000), NOW)).toBe(7000);
  });
  it('counts a running rebuild up to now', () => {
    expect(rebuildElapsedMs(rebuild({ id: 'r', workerId: 'w1', state: 'running' }), NOW)).toBe(60_000);
  });
  it('stops a finished rebuild without durations at its last update', () => {
    const r = rebuild({ id: 'r', workerId: 'w1', state: 'failed', updatedAt: '2025-01-01T00:00:05.000Z' });
    expect(rebuildElapsedMs(r, NOW)).toBe(5000);
  });
});

describe('renderProgress', () => {
  it('shows a header and one row per builder with state, result and time', () => {
    const view = lifecycle('reproducible')[2]!;
    expect(renderProgress(view, NOW)).toBe(
      [
        'pkg:npm/left-pad@1.3.0  release rel-1  building  1/3 builders finished  1m00s',
        'BUILDER   OPERATOR    STATE      RESULT                              TIME',
        'worker-1  operator-1  succeeded  sha256 aaaaaaaaaaaa same (bitwise)  42.0s',
        'worker-2  operator-2  running                                        1m00s',
        'worker-3  operator-3  running                                        1m00s',
      ].join('\n'),
    );
  });

  it('says it waits for builders while none is assigned', () => {
    expect(renderProgress(release(), NOW)).toContain('(waiting for builders to be assigned)');
  });

  it('labels a second attempt of a builder', () => {
    const view = release({
      state: 'building',
      rebuilds: [rebuild({ id: 'a', workerId: 'worker-1', state: 'lost', reason: 'worker-gone' }), rebuild({ id: 'b', workerId: 'worker-1', attempt: 2, state: 'running' })],
    });
    const text = renderProgress(view, NOW);
    expect(text).toMatch(/worker-1 +operator-1 +lost +worker-gone/);
    expect(text).toMatch(/worker-1 #2 +operator-1 +running/);
  });
});

describe('renderReleaseReport', () => {
  const cases: Array<[Verdict, RegExp[]]> = [
    ['reproducible', [/^verdict: +reproducible$/m, /^agreeing: +worker-1, worker-2, worker-3 \(3 independent\)$/m, /^rebuilt: +sha256 a{64}$/m]],
    ['equivalent', [/^verdict: +equivalent$/m, /^stabilizers: +gzip-time, tar-times$/m, /same \(stabilized\)/]],
    ['mismatch', [/^verdict: +mismatch$/m, /^ALERT: +the published artifact differs from what 3 independent builders built from source$/m, /DIFFERS/]],
    ['unreproducible', [/^verdict: +unreproducible$/m, /^agreeing: +none$/m]],
    ['failed', [/^verdict: +failed$/m, /build-error: npm ERR! missing script: build/, /timeout/]],
  ];
  it.each(cases)('reports the %s verdict', (v, patterns) => {
    const text = renderReleaseReport(lifecycle(v)[3]!, { server: SERVER, now: NOW });
    for (const p of patterns) expect(text).toMatch(p);
    expect(text).toMatch(/^reason: +reason for /m);
    expect(text).toMatch(/^published: +sha256 a{64} \(1234 bytes\)$/m);
    expect(text).toMatch(/^policy: +quorum 2 of 3 builders, distinct operators$/m);
  });

  it("shows a mismatch's risk level and sentence under the alert, and nothing about risk without a summary", () => {
    const view = lifecycle('mismatch')[3]!;
    expect(renderReleaseReport(view, { server: SERVER, now: NOW })).not.toMatch(/^risk:/m);
    view.verdict!.risk = {
      level: 'low',
      text: 'low risk: only documentation differs (CHANGELOG.md only in the published tarball)',
      onlyPublished: { count: 1, paths: ['package/CHANGELOG.md'] },
      onlyRebuilt: { count: 0, paths: [] },
      changed: { count: 0, paths: [] },
      modeChanged: { count: 0, paths: [] },
      flags: [],
    };
    const lines = renderReleaseReport(view, { server: SERVER, now: NOW }).split('\n');
    const alert = lines.findIndex((l) => l.startsWith('ALERT:'));
    expect(lines[alert + 1]).toBe('risk:        LOW — only documentation differs (CHANGELOG.md only in the published tarball)');
  });

  it('shows a risk level it does not know as UNKNOWN', () => {
    expect(riskLine({ level: 'none', text: 'fine' })).toBe('UNKNOWN — fine');
    expect(riskLine({ level: 'high', text: 'high risk: install script postinstall added in package.json' })).toBe('HIGH — install script postinstall added in package.json');
  });

  it('lists stabilizers only when they matter', () => {
    expect(renderReleaseReport(lifecycle('reproducible')[3]!, { server: SERVER, now: NOW })).not.toContain('stabilizers:');
  });

  it('prints absolute log URLs and the rebuild ids for quorum logs', () => {
    const text = renderReleaseReport(lifecycle('reproducible')[3]!, { server: `${SERVER}/`, now: NOW });
    expect(text).toContain('logs (or: quorum logs <rebuild id>):');
    expect(text).toContain('  worker-1  rb-1  http://127.0.0.1:8080/v1/rebuilds/rb-1/log');
    expect(text).toContain('  worker-3  rb-3  http://127.0.0.1:8080/v1/rebuilds/rb-3/log');
  });

  it('keeps a path prefix of the server in log URLs', () => {
    const text = renderReleaseReport(lifecycle('reproducible')[3]!, { server: 'https://farm.example/quorum', now: NOW });
    expect(text).toContain('https://farm.example/quorum/v1/rebuilds/rb-1/log');
  });

  it('marks the agreeing builders in the table', () => {
    const table = renderBuilderTable(lifecycle('reproducible')[3]!, NOW);
    expect(table.split('\n')).toEqual([
      '  BUILDER   OPERATOR    STATE      SHA256        PUBLISHED       TIME   REASON',
      '* worker-1  operator-1  succeeded  aaaaaaaaaaaa  same (bitwise)  42.0s',
      '* worker-2  operator-2  succeeded  aaaaaaaaaaaa  same (bitwise)  42.0s',
      '* worker-3  operator-3  succeeded  aaaaaaaaaaaa  same (bitwise)  42.0s',
    ]);
  });

  it('says a release is not decided yet', () => {
    const text = renderReleaseReport(lifecycle('reproducible')[2]!, { server: SERVER, now: NOW });
    expect(text).toMatch(/^verdict: +not decided yet \(building, 1\/3 builders finished\)$/m);
  });

  it('shows a problem found before any build', () => {
    const view = release({
      state: 'decided',
      problem: { code: 'source-not-found', message: 'no repository in metadata' },
      verdict: { verdict: 'failed', reason: 'source not found', agreeing: [], agreeingCount: 0, stabilizers: [], decidedAt: '2025-01-01T00:00:01.000Z' },
    });
    expect(renderReleaseReport(view, { server: SERVER, now: NOW })).toMatch(/^problem: +source-not-found: no repository in metadata$/m);
  });
});

describe('a source whose tag moved, or whose commit was found by history search', () => {
  const first = 'a'.repeat(40);
  const now = 'b'.repeat(40);

  it('leads the release report with a WARNING line naming both commits and when the tag was first seen', () => {
    const view = lifecycle('failed')[3]!;
    view.source = {
      origin: 'registry',
      repo: 'https://git.example/a.git',
      commit: first,
      ref: 'v1.2.3',
      refs: ['v1.2.3'],
      toolchain: {},
      steps: [],
      found: 'tag',
      firstSeenAt: '2025-01-01T00:00:00.000Z',
      moved: { ref: 'v1.2.3', commit: now, seenAt: '2025-02-01T00:00:00.000Z' },
    };
    const lines = renderReleaseReport(view, { server: SERVER, now: NOW }).split('\n');
    expect(lines[0]).toBe(
      `WARNING:     tag v1.2.3 moved: first seen at ${first} on 2025-01-01T00:00:00.000Z, now ${now} (seen 2025-02-01T00:00:00.000Z); the release stays pinned to the commit first seen`,
    );
    expect(renderReleaseReport(lifecycle('failed')[3]!, { server: SERVER, now: NOW })).not.toContain('WARNING');
  });

  it('says in the status headline that a tag moved, whatever answers', () => {
    const text = renderAnswer({
      purl: 'pkg:npm/a@1.2.3',
      verdict: 'reproducible',
      releaseId: 'rel-1',
      artifactSha256: 'c'.repeat(64),
      alarms: [],
      sourceChanged: false,
      movedTags: [{ ref: 'v1.2.3', firstCommit: first, firstSeenAt: '2025-01-01T00:00:00.000Z', commit: now, seenAt: '2025-02-01T00:00:00.000Z', releaseId: 'rel-2' }],
      pending: false,
      overrideReleases: 0,
    });
    expect(text).toContain(
      `WARNING:     tag v1.2.3 moved: first seen at ${first} on 2025-01-01T00:00:00.000Z, now ${now} (seen 2025-02-01T00:00:00.000Z, release rel-2); releases stay pinned to the commit first seen`,
    );
  });

  it('skips moved tags that are not well-formed, and keeps the alarm and the well-formed ones', () => {
    const moved = { ref: 'v1.2.3', firstCommit: first, commit: now, seenAt: '2025-02-01T00:00:00.000Z', releaseId: 'rel-2' };
    const answer = {
      purl: 'pkg:npm/a@1.2.3',
      verdict: 'mismatch',
      releaseId: 'rel-1',
      artifactSha256: 'c'.repeat(64),
      alarms: [{ artifactSha256: 'c'.repeat(64), releaseId: 'rel-1', decidedAt: '2025-01-01T00:00:00.000Z', reason: 'differs' }],
      sourceChanged: false,
      movedTags: [null, 'v1.2.3', { ...moved, ref: 7 }, { ...moved, firstSeenAt: {} }, moved],
      pending: false,
      overrideReleases: 0,
    } as unknown as PurlAnswer;
    const lines = renderAnswer(answer).split('\n');
    expect(lines.filter((l) => l.startsWith('ALARM:'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('WARNING:'))).toEqual([
      `WARNING:     tag v1.2.3 moved: first seen at ${first}, now ${now} (seen 2025-02-01T00:00:00.000Z, release rel-2); releases stay pinned to the commit first seen`,
    ]);
  });

  it('escapes a moved tag served by a hostile coordinator onto one line', () => {
    const view = release({
      source: { origin: 'registry', repo: 'https://git.example/a.git', commit: first, refs: [], toolchain: {}, steps: [], moved: { ref: `v1${HOSTILE}\n${FORGED_LINE}`, commit: now, seenAt: 'x' } },
    });
    const text = renderReleaseReport(view, { server: SERVER, now: NOW });
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text.split('\n').some((l) => l.startsWith(FORGED_LINE))).toBe(false);
  });

  it('says how a commit found by history search was found', () => {
    const view = release({ source: { origin: 'registry', repo: 'https://git.example/a.git', commit: first, refs: ['v1.3.0'], toolchain: {}, steps: [], found: 'history' } });
    expect(renderReleaseReport(view, { server: SERVER, now: NOW })).toMatch(
      /^source: +https:\/\/git\.example\/a\.git @ a{40} \(from the registry; commit found by history search: no tag of the release exists\)$/m,
    );
  });
});

describe('renderWorkers', () => {
  it('tabulates workers by id', () => {
    const text = renderWorkers(
      [
        worker({ id: 'worker-2', operator: 'operator-2', alive: false, lastSeenAt: '2025-01-01T00:00:00.000Z' }),
        worker({ id: 'worker-1', images: { npm: 'sha256:0123456789abcdef' }, running: ['rb-1', 'rb-2'] }),
      ],
      NOW,
    );
    expect(text.split('\n')).toEqual([
      'WORKER    OPERATOR    STATUS  LAST SEEN  RUNNING         IMAGES',
      'worker-1  operator-1  alive   5s ago     2 (rb-1, rb-2)  npm 0123456789ab',
      'worker-2  operator-2  gone    1m ago     -               -',
    ]);
  });

  it('says so when no worker registered', () => {
    expect(renderWorkers([], NOW)).toBe('no workers have registered with the coordinator');
  });
});

describe('renderEnrolment', () => {
  it('prints the one-time token and a start command that uses it', () => {
    const text = renderEnrolment({ workerId: 'worker-4', operator: "O'Brien & Co", token: 'tok', expiresAt: '2030-01-01T00:00:00.000Z' }, 'http://farm:8080');
    expect(text.split('\n').slice(0, 3)).toEqual(["one-time enrolment token for worker-4 (operator O'Brien & Co), valid until 2030-01-01T00:00:00.000Z:", '', '  tok']);
    expect(text).toContain(`  QUORUM_ENROL_TOKEN=tok QUORUM_WORKER_ID=worker-4 QUORUM_OPERATOR='O'\\''Brien & Co' QUORUM_COORDINATOR_URL=http://farm:8080 \\\n`);
    expect(text).toMatch(/^ {2}QUORUM_REDIS_URL=redis:\/\/REDIS_HOST:6379 QUORUM_DATA_DIR=WORKER_DATA_DIR \\$/m);
    expect(text).toMatch(/^ {2}node packages\/worker\/dist\/bin\.js$/m);
  });

  it('prints the key id of a directly enrolled key, without a token', () => {
    const text = renderEnrolment({ workerId: 'worker-5', operator: 'acme', keyId: 'sha256:abc' }, 'http://farm:8080');
    expect(text).toMatch(/^enrolled worker-5 \(operator acme\) with key sha256:abc$/m);
    expect(text).not.toContain('QUORUM_ENROL_TOKEN');
  });

  it.each([
    ['acme', 'acme'],
    ['operator-1', 'operator-1'],
    ['two words', "'two words'"],
    ["it's", "'it'\\''s'"],
  ])('quotes %j for a shell as %s', (value, word) => {
    expect(shellWord(value)).toBe(word);
  });
});

describe('renderRejections', () => {
  it('lists rejections in the order given, one line each', () => {
    const text = renderRejections([
      { seq: 3, at: '2025-01-01T00:03:00.000Z', workerId: 'worker-2', reason: 'replay', detail: 'statement already reported\nsecond line' },
      { seq: 1, at: '2025-01-01T00:01:00.000Z', reason: 'unknown-key', detail: 'no such key' },
    ]);
    expect(text.split('\n')).toEqual([
      'SEQ  AT                        WORKER    REBUILD  REASON       DETAIL',
      '3    2025-01-01T00:03:00.000Z  worker-2  -        replay       statement already reported',
      '1    2025-01-01T00:01:00.000Z  -         -        unknown-key  no such key',
    ]);
  });
});

describe('text from a hostile coordinator or build', () => {
  /** The output holds no raw control, bidi or surrogate character, and no line a field forged with a newline. */
  function expectInert(text: string): void {
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).not.toContain('\x1b');
    expect(text).not.toContain('\x9b');
    expect(text).not.toContain('\u202e');
    expect(text.split('\n').some((l) => l.startsWith(FORGED_LINE))).toBe(false);
  }

  it('renders a release report with every served text escaped onto its own line', () => {
    const text = renderReleaseReport(hostileRelease(), { server: SERVER, now: NOW });
    expectInert(text);
    expect(text).toMatch(/^reason: +reason\\u001b\]0;pwned\\u0007/m);
    expect(text).toContain(`reason${HOSTILE_ESCAPED}\\n${FORGED_LINE}`);
    expect(text).toContain(`https://github.com/left-pad/left-pad${HOSTILE_ESCAPED}\\n${FORGED_LINE} @ abc${HOSTILE_ESCAPED}`);
    expect(text).toMatch(/^source: .*\(from the registry\)$/m);
    expect(text).toMatch(/^problem: +source-not-found\\u001b/m);
    expect(text).toContain(`worker-2${HOSTILE_ESCAPED}`);
    expect(text).toContain(`\nrisk:        HIGH — install script postinstall${HOSTILE_ESCAPED}\\n${FORGED_LINE} added in package.json\n`);
  });

  it('renders the live progress frame escaped', () => {
    const text = renderProgress(hostileRelease(), NOW);
    expectInert(text);
    expect(text.split('\n')[0]).toBe(`pkg:npm/left-pad@1.3.0${HOSTILE_ESCAPED}  release rel-1${HOSTILE_ESCAPED}  decided: mismatch  2/3 builders finished  1m00s`);
  });

  it('cuts a one-line cell after escaping it, so the cell keeps its width', () => {
    expect(oneLine(`\x1b[2J${'x'.repeat(70)}`)).toBe(`\\u001b[2J${'x'.repeat(48)}...`);
  });

  it('renders workers, rejections and an enrolment answer escaped', () => {
    const workers = renderWorkers([worker({ id: `worker-1${HOSTILE}`, operator: `op${HOSTILE}\n${FORGED_LINE}`, running: [HOSTILE], images: { [`npm${HOSTILE}`]: 'sha256:0123456789abcdef' } })], NOW);
    expectInert(workers);
    expect(workers).toContain(`worker-1${HOSTILE_ESCAPED}`);
    const rejections = renderRejections([{ seq: 1, at: HOSTILE, workerId: HOSTILE, rebuildId: HOSTILE, reason: `bad-signature${HOSTILE}`, detail: `${HOSTILE}\nsecond` }]);
    expectInert(rejections);
    expect(rejections.split('\n')).toHaveLength(2);
    for (const answer of [
      { workerId: `worker-4${HOSTILE}`, operator: `acme${HOSTILE}\n${FORGED_LINE}`, token: `tok${HOSTILE}`, expiresAt: HOSTILE },
      { workerId: `worker-4${HOSTILE}`, operator: `acme${HOSTILE}`, keyId: `sha256:${HOSTILE}\n${FORGED_LINE}` },
    ]) {
      const text = renderEnrolment(answer, 'http://farm:8080');
      expectInert(text);
      expect(text).toContain(`worker-4${HOSTILE_ESCAPED}`);
    }
  });
});
