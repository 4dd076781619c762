import { describe, expect, it } from 'vitest';
import { createProgress, LineProgress, progressEvents, SilentProgress, TtyProgress } from './progress.js';
import { Capture } from './test-support/fake-coordinator.js';
import { lifecycle, NOW, rebuild, release } from './test-support/views.js';
import { FORGED_LINE, HOSTILE, HOSTILE_ESCAPED, hostileRelease, RAW_CONTROL } from './test-support/hostile.js';

describe('progressEvents', () => {
  const [queued, building, oneDone, decided] = lifecycle('reproducible') as [ReturnType<typeof release>, ReturnType<typeof release>, ReturnType<typeof release>, ReturnType<typeof release>];

  it.each([
    ['the first view', undefined, queued, ['release rel-1 queued (quorum 2 of 3)']],
    ['builders being assigned', queued, building, ['release rel-1 building', 'worker-1 (operator-1) running', 'worker-2 (operator-2) running', 'worker-3 (operator-3) assigned']],
    ['one builder finishing', building, oneDone, ['worker-1 (operator-1) succeeded sha256 aaaaaaaaaaaa same (bitwise) after 42.0s', 'worker-3 (operator-3) running']],
    ['no change', oneDone, oneDone, []],
    [
      'the decision',
      oneDone,
      decided,
      [
        'release rel-1 decided: reproducible',
        'worker-2 (operator-2) succeeded sha256 aaaaaaaaaaaa same (bitwise) after 42.0s',
        'worker-3 (operator-3) succeeded sha256 aaaaaaaaaaaa same (bitwise) after 42.0s',
      ],
    ],
    [
      'a lost builder replaced by a new attempt',
      release({ state: 'building', rebuilds: [rebuild({ id: 'a', workerId: 'worker-1', state: 'running' })] }),
      release({
        state: 'building',
        rebuilds: [rebuild({ id: 'a', workerId: 'worker-1', state: 'lost', reason: 'worker-gone', updatedAt: '2025-01-01T00:00:30.000Z' }), rebuild({ id: 'b', workerId: 'worker-1', attempt: 2 })],
      }),
      ['worker-1 (operator-1) lost worker-gone after 30.0s', 'worker-1 #2 (operator-1) assigned'],
    ],
  ])('reports %s', (_name, prev, next, lines) => {
    expect(progressEvents(prev, next, NOW)).toEqual(lines);
  });
});

describe('LineProgress', () => {
  it('prints each change once with the time since the wait began', () => {
    const out = new Capture();
    let now = NOW;
    const p = new LineProgress(out, () => now, NOW);
    const views = lifecycle('failed');
    for (const v of views) {
      p.update(v);
      p.update(v);
      now += 1500;
    }
    p.note('cannot reach the coordinator; retrying');
    p.note('cannot reach the coordinator; retrying');
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toBe('[   0ms] release rel-1 queued (quorum 2 of 3)');
    expect(lines[1]).toBe('[  1.5s] release rel-1 building');
    expect(lines).toContain('[  4.5s] release rel-1 decided: failed');
    expect(lines).toContain('[  4.5s] worker-2 (operator-2) failed timeout after 0ms');
    expect(lines.filter((l) => l.includes('retrying'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('worker-1 (operator-1) failed'))).toHaveLength(1);
  });
});

describe('createProgress', () => {
  it.each([
    ['a terminal', true, false, TtyProgress],
    ['a terminal with --json', true, true, TtyProgress],
    ['a pipe', false, false, LineProgress],
    ['a pipe with --json', false, true, SilentProgress],
  ])('picks the display for %s', (_name, tty, json, kind) => {
    expect(createProgress(new Capture(tty), { json })).toBeInstanceOf(kind);
  });

  it('prints lines on a terminal of unknown size', () => {
    const out = new Capture(true);
    out.rows = 0;
    expect(createProgress(out, { json: false })).toBeInstanceOf(LineProgress);
  });

  it('redraws a live table on a terminal and clears it at the end', () => {
    const out = new Capture(true);
    const p = new TtyProgress(out, () => NOW);
    for (const v of lifecycle('reproducible')) p.update(v);
    p.finish(false);
    expect(out.text).toContain('BUILDER');
    expect(out.text).toContain('worker-3');
    expect(out.text).toContain('\u001B['); // cursor movement: the frame is redrawn in place
  });
});

describe('progress of a release with hostile texts', () => {
  it('escapes the change lines', () => {
    const lines = progressEvents(undefined, hostileRelease(), NOW);
    for (const line of lines) expect(line).not.toMatch(RAW_CONTROL);
    const failed = lines.find((l) => l.startsWith(`worker-2${HOSTILE_ESCAPED} (operator-2${HOSTILE_ESCAPED}) failed build-error\\u001b]0;pwned`));
    expect(failed).toMatch(/\.\.\. after 0ms$/);
  });

  it('prints escaped lines and notes in line mode', () => {
    const out = new Capture();
    const p = new LineProgress(out, () => NOW, NOW);
    p.update(hostileRelease());
    p.note(`coordinator says ${HOSTILE}\n${FORGED_LINE}`);
    expect(out.text.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
    expect(out.text).not.toContain('\ufffd');
    expect(out.text.split('\n').some((l) => l.startsWith(FORGED_LINE))).toBe(false);
    expect(out.text).toContain(`[   0ms] coordinator says ${HOSTILE_ESCAPED}\\n${FORGED_LINE}\n`);
  });

  it('draws the live table with escapes, leaving only its own cursor movements', () => {
    const out = new Capture(true);
    out.columns = 1000; // no wrapping, so escapes can be found whole
    const p = new TtyProgress(out, () => NOW);
    p.update(hostileRelease());
    p.note(HOSTILE);
    p.finish(true);
    for (const raw of ['\x1b]', '\x1b[2J', '\x07', '\x9b', '\x7f', '\b', '\u202e', '\u2066', '\ufffd']) expect(out.text).not.toContain(raw);
    expect(out.text).toContain(`worker-2${HOSTILE_ESCAPED}`);
    expect(out.text).toContain(HOSTILE_ESCAPED);
    expect(HOSTILE).toContain('\x1b]');
  });
});
