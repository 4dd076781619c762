import { describe, expect, it } from 'vitest';
import {
  builderRows,
  claimAgrees,
  claimSentence,
  recountSentence,
  renderVerifyBuilders,
  renderVerifyReport,
  shortenDigests,
  verifyExitCode,
  verifyJson,
  type Recount,
  type VerifyOutcome,
  type VsaCheck,
} from './verify-report.js';
import { FORGED_LINE, HOSTILE, HOSTILE_ESCAPED, RAW_CONTROL } from './test-support/hostile.js';

const hex = (c: string) => c.repeat(64);
const KEY = `sha256:${hex('1')}`;

function recount(over: Partial<Recount> = {}): Recount {
  return { passed: true, counted: 2, quorum: 2, bitwise: 2, builders: [], ...over };
}

function vsa(result: 'PASSED' | 'FAILED', agrees: boolean): VsaCheck {
  return {
    present: true,
    signatureValid: true,
    keyId: `sha256:${hex('c')}`,
    claims: { result, verdict: result === 'PASSED' ? 'reproducible' : 'mismatch', reason: 'r', levels: [], purl: 'pkg:npm/a@1.0.0', releaseId: 'rel-1', subjectSha256: hex('a'), subjectSha512: null },
    agreesWithRecount: agrees,
    problems: [],
  };
}

function outcome(over: Partial<VerifyOutcome> = {}): VerifyOutcome {
  return {
    purl: 'pkg:npm/a@1.0.0',
    releaseId: 'rel-1',
    artifact: { sha256: hex('a'), source: 'file', location: 'a-1.0.0.tgz' },
    trust: { source: 'file', location: 'quorum-trust.json' },
    distinctOperators: true,
    recount: recount(),
    source: { from: 'registry', repo: 'https://github.com/o/a.git', directory: null, commit: hex('c').slice(0, 40), refs: [], allowed: [] },
    builders: [],
    vsa: vsa('PASSED', true),
    notes: [],
    ...over,
  };
}

describe('verifyExitCode', () => {
  it.each([
    [true, 0],
    [false, 6],
  ])('maps a recount that passed=%s to exit %i, whatever the VSA claims', (passed, code) => {
    for (const claim of [vsa('PASSED', passed), vsa('FAILED', !passed)]) {
      expect(verifyExitCode(outcome({ recount: recount({ passed }), vsa: claim }))).toBe(code);
    }
  });
});

describe('claimAgrees and claimSentence', () => {
  it.each([
    ['PASSED', true, true, "the VSA's claim (PASSED) agrees with your recount"],
    ['FAILED', false, true, "the VSA's claim (FAILED) agrees with your recount"],
    ['PASSED', false, false, 'VSA claims PASSED but only 1 of the required 2 independent builders could be verified'],
    ['FAILED', true, false, 'VSA claims FAILED (mismatch) but your recount found 2 independent builders agree with the artifact (quorum 2; all bitwise)'],
  ] as const)('a VSA claiming %s against a recount that passed=%s', (result, passed, agrees, sentence) => {
    const r = passed ? recount() : recount({ passed: false, counted: 1, bitwise: 1 });
    expect(claimAgrees({ result }, r)).toBe(agrees);
    expect(claimSentence(vsa(result, agrees), r)).toBe(sentence);
  });

  it('says nothing about a claim without a valid signature', () => {
    expect(claimSentence({ present: true, signatureValid: false, claims: null, agreesWithRecount: null, problems: ['bad'] }, recount())).toBeUndefined();
  });
});

describe('recountSentence', () => {
  it.each([
    [recount({ counted: 3, bitwise: 1 }), '3 independent builders agree with the artifact (quorum 2; 1 bitwise, 2 after stabilizers)'],
    [recount({ counted: 1, quorum: 1, bitwise: 1 }), '1 independent builder agrees with the artifact (quorum 1; all bitwise)'],
    [recount({ passed: false, counted: 0, bitwise: 0 }), 'only 0 of the required 2 independent builders could be verified'],
  ])('words %j', (r, text) => {
    expect(recountSentence(r)).toBe(text);
  });
});

describe('builderRows', () => {
  const served = [
    { rebuildId: 'rb-1', workerId: 'worker-1', operator: 'operator-1' },
    { rebuildId: 'rb-2', workerId: 'worker-2', operator: 'operator-2' },
  ];

  it('takes identities from the recount (trust material) and labels from the coordinator otherwise', () => {
    const rows = builderRows(
      served,
      recount({
        builders: [
          { workerId: 'worker-1', operator: 'operator-1', keyId: KEY, counted: true, match: 'bitwise' },
          { keyId: `sha256:${hex('9')}`, counted: false, problem: 'signed by an untrusted key: the bundle is signed by ...' },
        ],
      }),
      { keyIds: new Set([KEY]), name: 'the trust file' },
    );
    expect(rows).toEqual([
      { rebuildId: 'rb-1', workerId: 'worker-1', operator: 'operator-1', identityVerified: true, keyId: KEY, counted: true, match: 'bitwise' },
      { rebuildId: 'rb-2', workerId: 'worker-2', operator: 'operator-2', identityVerified: false, keyId: `sha256:${hex('9')}`, counted: false, problem: 'signed by a key not in the trust file' },
    ]);
  });
});

describe('renderVerifyBuilders', () => {
  it('prints worker, operator, key prefix, counted, match and problem with short digests', () => {
    const text = renderVerifyBuilders([
      { workerId: 'worker-1', operator: 'operator-1', identityVerified: true, keyId: KEY, counted: true, match: 'bitwise' },
      { workerId: 'worker-2', operator: 'operator-2', identityVerified: true, keyId: KEY, counted: false, match: 'no', problem: `rebuilt ${hex('d')} differs from the artifact ${hex('a')}` },
      { workerId: 'worker-9', operator: 'operator-9', identityVerified: false, counted: false, problem: 'not a valid bundle: x' },
    ]);
    expect(text.split('\n')).toEqual([
      'WORKER                 OPERATOR    KEY           COUNTED  MATCH    PROBLEM',
      'worker-1               operator-1  111111111111  yes      bitwise',
      `worker-2               operator-2  111111111111  no       DIFFERS  rebuilt dddddddddddd differs from the artifact aaaaaaaaaaaa`,
      'worker-9 (unverified)  operator-9  -             no       -        not a valid bundle: x',
    ]);
  });

  it('says when there are no bundles', () => {
    expect(renderVerifyBuilders([])).toBe('(the coordinator served no builder bundles)');
  });

  it('shortens sha256-prefixed and bare digests', () => {
    expect(shortenDigests(`key sha256:${hex('e')} and ${hex('f')}`)).toBe('key eeeeeeeeeeee and ffffffffffff');
  });
});

describe('renderVerifyReport', () => {
  it('warns in the report when the trust material came from the coordinator', () => {
    const text = renderVerifyReport(outcome({ trust: { source: 'server', location: 'http://farm/v1/keys' } }));
    expect(text).toMatch(/^trust: +the coordinator's own key list \(http:\/\/farm\/v1\/keys\); not independent, pin it with --trust$/m);
  });

  it('reports a missing VSA, a bad signature and notes', () => {
    expect(renderVerifyReport(outcome({ vsa: { present: false, signatureValid: false, claims: null, agreesWithRecount: null, problems: [] } }))).toMatch(
      /^vsa: +none: the coordinator served no signed verdict$/m,
    );
    const bad = renderVerifyReport(outcome({ vsa: { present: true, signatureValid: false, claims: null, agreesWithRecount: null, problems: ['bad signature'] }, notes: ['a note'] }));
    expect(bad).toMatch(/^vsa: +signature BAD: bad signature$/m);
    expect(bad).toMatch(/^note: +a note$/m);
  });
});

describe('verifyJson', () => {
  it('has verified = the recount and the documented fields', () => {
    const json = verifyJson(outcome({ recount: recount({ passed: false, counted: 1, bitwise: 1 }), vsa: vsa('PASSED', false) }));
    expect(json).toMatchObject({ purl: 'pkg:npm/a@1.0.0', verified: false, counted: 1, quorum: 2, artifact: { sha256: hex('a'), source: 'file' }, exitCode: 6 });
    expect(json.summary).toBe('not verified: only 1 of the required 2 independent builders could be verified');
    expect(json.vsa).toMatchObject({
      signatureValid: true,
      claims: { result: 'PASSED' },
      agreesWithRecount: false,
      summary: 'VSA claims PASSED but only 1 of the required 2 independent builders could be verified',
    });
    expect(verifyJson(outcome()).summary).toBe('verified: 2 independent builders agree with the artifact (quorum 2; all bitwise)');
  });
});

describe('renderVerifyReport of hostile served texts', () => {
  it('escapes every text from the coordinator, the registry and the trust file', () => {
    const h = `${HOSTILE}\n${FORGED_LINE}`;
    const text = renderVerifyReport(
      outcome({
        releaseId: `rel-1${h}`,
        artifact: { sha256: hex('a'), source: 'registry', location: `https://registry.example/a.tgz${h}` },
        trust: { source: 'server', location: `http://farm/v1/keys${h}` },
        builders: [{ rebuildId: HOSTILE, workerId: `worker-9${h}`, operator: `op${h}`, identityVerified: false, keyId: KEY, counted: false, problem: `bad${h}` }],
        vsa: { ...vsa('PASSED', false), claims: { ...vsa('PASSED', false).claims!, verdict: `reproducible${h}`, reason: `trust me${h}` }, problems: [`about another purl${h}`] },
        recount: recount({ passed: false, counted: 0 }),
        notes: [`published digest differs${h}`],
      }),
    );
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text.split('\n').some((l) => l.startsWith(FORGED_LINE))).toBe(false);
    expect(text).toMatch(/^note: +published digest differs\\u001b\]0;pwned/m);
    expect(text).toContain(`worker-9${HOSTILE_ESCAPED}\\n${FORGED_LINE} (unverified)`);
    expect(text).toContain(`trust me${HOSTILE_ESCAPED}`);
    expect(text).toContain(`VSA problem: about another purl${HOSTILE_ESCAPED}`);
  });
});
