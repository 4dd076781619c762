import type { ReleaseView } from '@quorum/core';
import { built, rebuild, release, verdict } from './views.js';

/**
 * Text a hostile build, packument or submitter could plant: an OSC title, clear screen, cursor up
 * and erase line, an OSC 8 link, a C1 CSI, DEL, backspace, carriage return, a right-to-left
 * override, a bidi isolate and a lone surrogate.
 */
export const HOSTILE = '\x1b]0;pwned\x07\x1b[2J\x1b[1A\x1b[2K\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\x9b31m\x7f\b\rALL OK\u202eevil\u2066x\u2069\ud800';

/** How HOSTILE reads once escaped. */
export const HOSTILE_ESCAPED =
  '\\u001b]0;pwned\\u0007\\u001b[2J\\u001b[1A\\u001b[2K\\u001b]8;;https://evil.example\\u001b\\click\\u001b]8;;\\u001b\\\\u009b31m\\u007f\\b\\rALL OK\\u202eevil\\u2066x\\u2069\\ud800';

/** Any character that must not reach a terminal raw; newline aside, which tests check apart. */
export const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udfff]/u;

/** A line a hostile field tries to forge by carrying a newline. */
export const FORGED_LINE = 'verdict:     reproducible';

/** A decided release whose every coordinator-provided text holds HOSTILE (and a newline that tries to forge a line). */
export function hostileRelease(): ReleaseView {
  const h = `${HOSTILE}\n${FORGED_LINE}`;
  return release({
    id: `rel-1${HOSTILE}`,
    purl: `pkg:npm/left-pad@1.3.0${HOSTILE}`,
    state: 'decided',
    upstream: { url: `https://registry.example/left-pad.tgz${h}`, integrity: 'sha512-x', filename: 'left-pad-1.3.0.tgz' },
    problem: { code: `source-not-found${HOSTILE}`, message: `git clone failed${h}` },
    source: { origin: 'registry', repo: `https://github.com/left-pad/left-pad${h}`, commit: `abc${HOSTILE}`, directory: `pkg${h}`, refs: [], toolchain: {}, steps: [] },
    verdict: verdict('mismatch', {
      reason: `reason${h}`,
      agreeing: [`worker-1${HOSTILE}`],
      agreeingCount: 1,
      stabilizers: [`tar-times${h}`],
      risk: {
        level: 'high',
        text: `high risk: install script postinstall${h} added in package.json`,
        onlyPublished: { count: 0, paths: [] },
        onlyRebuilt: { count: 0, paths: [] },
        changed: { count: 1, paths: [`package/package.json${h}`] },
        modeChanged: { count: 0, paths: [] },
        flags: [{ code: `install-script${HOSTILE}`, level: 'high', message: `install script postinstall${h} added in package.json` }],
      },
    }),
    rebuilds: [
      {
        ...built('rb-1', `worker-1${HOSTILE}`, 'c', 'no'),
        operator: `operator-1${HOSTILE}`,
        source: { origin: 'registry', repo: `https://github.com/left-pad/left-pad${h}`, commit: `abc${HOSTILE}`, directory: `pkg${h}`, commitTime: 0 },
        logUrl: `/v1/rebuilds/rb-1/log${HOSTILE}`,
      } as ReleaseView['rebuilds'][number],
      rebuild({ id: `rb-2${HOSTILE}`, workerId: `worker-2${HOSTILE}`, operator: `operator-2${HOSTILE}`, state: 'failed', reason: `build-error${HOSTILE}`, message: `npm ERR!${h}` }),
    ],
  });
}
