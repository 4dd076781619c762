import { describe, expect, it } from 'vitest';
import { digestOf } from './canonical-json.js';
import { isAttestError } from './errors.js';
import { PROVENANCE_PREDICATE, VSA_PREDICATE, type InTotoStatement } from './in-toto.js';
import { parseRebuildStatement, REBUILD_BUILD_TYPE, rebuildStatement } from './rebuild-statement.js';
import { ARTIFACT, COMMIT, IMAGE_DIGEST, LOG, PURL, rebuildInput } from './test-support.js';
import { validateStatement } from './validate-statement.js';
import { FAILED_LEVEL, parseVsa, REPRODUCED_LEVEL, vsaStatement, type VsaInput } from './vsa.js';

const POLICY = { builders: 3, quorum: 2, distinctOperators: true };
const BUNDLE = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', dsseEnvelope: { payload: 'e30=' } };

function vsaInput(overrides: Partial<VsaInput> = {}): VsaInput {
  return {
    verifierId: 'urn:quorum:coordinator:farm-1',
    purl: PURL,
    releaseId: 'rel-1',
    published: { filename: 'left-pad-1.3.0.tgz', sha256: ARTIFACT.sha256, sha512: ARTIFACT.sha512 },
    policy: { uri: 'https://quorum.example/v1/policy', body: POLICY },
    inputAttestations: [{ uri: 'https://quorum.example/v1/rebuilds/reb-1/bundle', bundle: BUNDLE }],
    verdict: 'reproducible',
    reason: '2 independent builders produced byte-identical artifacts equal to the published one (quorum 2)',
    agreeing: ['worker-a', 'worker-b'],
    stabilizers: [],
    timeVerified: '2026-11-21T10:05:00Z',
    ...overrides,
  };
}

function invalidStatementMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isAttestError(e, 'invalid-statement')) return e.message;
    throw e;
  }
  throw new Error('expected invalid-statement');
}

describe('rebuild statements', () => {
  it('attests a succeeded rebuild as SLSA Provenance v1 with the artifact as subject', () => {
    const s = rebuildStatement(rebuildInput());
    expect(validateStatement(s)).toEqual([]);
    expect(s.predicateType).toBe(PROVENANCE_PREDICATE);
    expect(s.subject).toEqual([{ name: 'left-pad-1.3.0.tgz', digest: { sha256: ARTIFACT.sha256, sha512: ARTIFACT.sha512 } }]);
    expect(s.predicate).toMatchObject({
      buildDefinition: {
        buildType: REBUILD_BUILD_TYPE,
        externalParameters: { purl: PURL, releaseId: 'rel-1', rebuildId: 'reb-1', source: { origin: 'registry', repo: 'https://github.com/left-pad/left-pad', ref: 'v1.3.0' } },
        internalParameters: { imageDigest: IMAGE_DIGEST, stabilizers: ['tar-order@1', 'gzip-time@1'] },
        resolvedDependencies: [
          { uri: 'git+https://github.com/left-pad/left-pad', digest: { gitCommit: COMMIT } },
          { name: 'builder-image', digest: { sha256: IMAGE_DIGEST.slice('sha256:'.length) } },
        ],
      },
      runDetails: {
        builder: { id: 'urn:quorum:worker:worker-a' },
        metadata: { invocationId: 'reb-1' },
        byproducts: [
          { name: 'build.log', digest: { sha256: LOG.sha256 }, annotations: { bytes: LOG.bytes } },
          { name: 'quorum-result', annotations: { status: 'succeeded', operator: 'op-1', stabilizedSha256: ARTIFACT.stabilizedSha256 } },
        ],
      },
    });
  });

  it('reads a succeeded rebuild statement back', () => {
    expect(parseRebuildStatement(rebuildStatement(rebuildInput()))).toEqual({
      purl: PURL,
      releaseId: 'rel-1',
      rebuildId: 'reb-1',
      workerId: 'worker-a',
      operator: 'op-1',
      status: 'succeeded',
      artifact: { filename: 'left-pad-1.3.0.tgz', ...ARTIFACT, stabilizersApplied: ['gzip-time@1'] },
      published: { sha256: ARTIFACT.sha256, sha512: ARTIFACT.sha512 },
      imageDigest: IMAGE_DIGEST,
      source: { origin: 'registry', repo: 'https://github.com/left-pad/left-pad', commit: COMMIT, ref: 'v1.3.0', commitTime: 1_525_000_000 },
      recipeToolchain: { npm: '11.19.0' },
      log: LOG,
    });
  });

  it('reads the lockfile a builder resolved itself, and refuses a malformed one', () => {
    const sha = 'c'.repeat(64);
    const input = rebuildInput();
    const withLock = rebuildStatement({ ...input, recipe: { ...input.recipe, resolvedLockfile: { name: 'package-lock.json', sha256: sha } } });
    expect(parseRebuildStatement(withLock).resolvedLockfileSha256).toBe(sha);
    const bad = rebuildStatement({ ...input, recipe: { ...input.recipe, resolvedLockfile: { name: 'package-lock.json', sha256: 'nope' } } });
    expect(() => parseRebuildStatement(bad)).toThrow(/resolvedLockfile/);
  });

  it('attests a failed rebuild with its log as subject', () => {
    const s = rebuildStatement(rebuildInput({ status: 'failed', reason: 'build-error', message: 'npm pack exited 1', artifact: undefined, source: undefined }));
    expect(validateStatement(s)).toEqual([]);
    expect(s.predicateType).toBe(PROVENANCE_PREDICATE);
    expect(s.subject).toEqual([{ name: 'build.log', digest: { sha256: LOG.sha256 } }]);
    const claim = parseRebuildStatement(s);
    expect(claim).toMatchObject({ status: 'failed', reason: 'build-error', message: 'npm pack exited 1' });
    expect(claim.artifact).toBeUndefined();
    expect(claim.source).toBeUndefined();
  });

  it('keeps a repo that already starts with git+ as it is', () => {
    const s = rebuildStatement(rebuildInput({ source: { origin: 'override', repo: 'git+ssh://git@example.com/x.git', commit: COMMIT, commitTime: 1 } }));
    expect(JSON.stringify(s)).toContain('"uri":"git+ssh://git@example.com/x.git"');
    expect(parseRebuildStatement(s).source?.repo).toBe('git+ssh://git@example.com/x.git');
  });

  it('refuses a succeeded rebuild without artifact, and malformed digests', () => {
    expect(invalidStatementMessage(() => rebuildStatement(rebuildInput({ artifact: undefined })))).toMatch(/must state its artifact/);
    expect(invalidStatementMessage(() => rebuildStatement(rebuildInput({ imageDigest: 'latest' })))).toMatch(/imageDigest/);
    const bad = rebuildInput();
    bad.artifact!.sha256 = 'ABC';
    expect(invalidStatementMessage(() => rebuildStatement(bad))).toMatch(/subject\[0\]\.digest\.sha256/);
  });

  it('rejects statements that are not Quorum rebuilds', () => {
    const vsa = vsaStatement(vsaInput());
    expect(invalidStatementMessage(() => parseRebuildStatement(vsa))).toMatch(/predicateType/);
    const other = rebuildStatement(rebuildInput());
    (other.predicate.buildDefinition as Record<string, unknown>).buildType = 'https://example.com/other/v1';
    expect(invalidStatementMessage(() => parseRebuildStatement(other))).toMatch(/buildType/);
    const foreign = rebuildStatement(rebuildInput());
    (foreign.predicate.runDetails as { builder: { id: string } }).builder.id = 'https://github.com/actions/runner';
    expect(invalidStatementMessage(() => parseRebuildStatement(foreign))).toMatch(/not a Quorum worker/);
  });
});

describe('verification summaries', () => {
  it.each(['reproducible', 'equivalent'] as const)('passes a %s verdict with SLSA_BUILD_REPRODUCED', (verdict) => {
    const s = vsaStatement(vsaInput({ verdict, stabilizers: verdict === 'equivalent' ? ['gzip-time@1'] : [] }));
    expect(validateStatement(s)).toEqual([]);
    expect(s.predicateType).toBe(VSA_PREDICATE);
    expect(s.subject).toEqual([{ name: 'left-pad-1.3.0.tgz', digest: { sha256: ARTIFACT.sha256, sha512: ARTIFACT.sha512 } }]);
    expect(s.predicate).toEqual({
      verifier: { id: 'urn:quorum:coordinator:farm-1' },
      timeVerified: '2026-11-21T10:05:00Z',
      resourceUri: PURL,
      policy: { uri: 'https://quorum.example/v1/policy', digest: { sha256: digestOf(POLICY) } },
      inputAttestations: [{ uri: 'https://quorum.example/v1/rebuilds/reb-1/bundle', digest: { sha256: digestOf(BUNDLE) } }],
      verificationResult: 'PASSED',
      verifiedLevels: [REPRODUCED_LEVEL],
      slsaVersion: '1.0',
      quorum: expect.objectContaining({ releaseId: 'rel-1', verdict, agreeing: ['worker-a', 'worker-b'] }),
    });
  });

  it.each(['mismatch', 'unreproducible', 'failed'] as const)('fails a %s verdict, signed all the same', (verdict) => {
    const s = vsaStatement(vsaInput({ verdict, agreeing: [] }));
    expect(validateStatement(s)).toEqual([]);
    expect(s.predicateType).toBe(VSA_PREDICATE);
    expect(s.predicate).toMatchObject({ verificationResult: 'FAILED', verifiedLevels: [FAILED_LEVEL] });
    expect(JSON.stringify(s)).not.toContain(REPRODUCED_LEVEL);
  });

  it('names another resource and the source for an override verdict, so it never passes for the plain purl', () => {
    const resourceUri = `${PURL}?vcs_url=git%2Bhttps://evil.example/x.git%40${'e'.repeat(40)}`;
    const s = vsaStatement(vsaInput({ resourceUri, source: { origin: 'override', repo: 'https://evil.example/x.git', commit: 'e'.repeat(40) } }));
    expect(validateStatement(s)).toEqual([]);
    expect(s.predicate).toMatchObject({ resourceUri, quorum: { source: { origin: 'override', repo: 'https://evil.example/x.git' } } });
    expect(parseVsa(s).purl).toBe(resourceUri);
  });

  it('names the purl as subject when the published file name is unknown', () => {
    const s = vsaStatement(vsaInput({ published: { sha256: ARTIFACT.sha256, sha512: ARTIFACT.sha512 } }));
    expect(s.subject[0]!.name).toBe(PURL);
  });

  it('reads a VSA back', () => {
    expect(parseVsa(vsaStatement(vsaInput({ verdict: 'equivalent', stabilizers: ['gzip-time@1'] })))).toEqual({
      purl: PURL,
      releaseId: 'rel-1',
      verifierId: 'urn:quorum:coordinator:farm-1',
      timeVerified: '2026-11-21T10:05:00Z',
      result: 'PASSED',
      verdict: 'equivalent',
      reason: vsaInput().reason,
      levels: [REPRODUCED_LEVEL],
      agreeing: ['worker-a', 'worker-b'],
      stabilizers: ['gzip-time@1'],
      policy: { uri: 'https://quorum.example/v1/policy', sha256: digestOf(POLICY) },
      inputDigests: [digestOf(BUNDLE)],
      inputUris: ['https://quorum.example/v1/rebuilds/reb-1/bundle'],
      subject: { name: 'left-pad-1.3.0.tgz', sha256: ARTIFACT.sha256, sha512: ARTIFACT.sha512 },
    });
  });

  it("carries a mismatch's risk summary and reads it back", () => {
    const risk = {
      level: 'high' as const,
      text: 'high risk: install script postinstall added in package.json',
      onlyPublished: { count: 0, paths: [] },
      onlyRebuilt: { count: 0, paths: [] },
      changed: { count: 1, paths: ['package/package.json'] },
      modeChanged: { count: 0, paths: [] },
      flags: [{ code: 'install-script', level: 'high' as const, message: 'install script postinstall added in package.json' }],
    };
    const s = vsaStatement(vsaInput({ verdict: 'mismatch', agreeing: [], risk }));
    expect(validateStatement(s)).toEqual([]);
    expect(s.predicate).toMatchObject({ verificationResult: 'FAILED', quorum: { verdict: 'mismatch', risk } });
    expect(parseVsa(s).risk).toEqual(risk);
    // a VSA without one says nothing about risk
    expect(parseVsa(vsaStatement(vsaInput({ verdict: 'mismatch', agreeing: [] })))).not.toHaveProperty('risk');
    // only a mismatch has a risk, and only of the documented shape
    expect(invalidStatementMessage(() => vsaStatement(vsaInput({ risk })))).toMatch(/risk is only for a mismatch, not reproducible/);
    const forged = vsaStatement(vsaInput({ verdict: 'mismatch', agreeing: [], risk }));
    (forged.predicate.quorum as { risk: { level: string } }).risk.level = 'none';
    expect(invalidStatementMessage(() => parseVsa(forged))).toMatch(/predicate\.quorum\.risk\.level must be one of low, medium, high/);
    const moved = vsaStatement(vsaInput({ verdict: 'mismatch', agreeing: [], risk }));
    (moved.predicate.quorum as { verdict: string }).verdict = 'unreproducible';
    expect(invalidStatementMessage(() => parseVsa(moved))).toMatch(/only for a mismatch/);
  });

  it('rejects a VSA whose result contradicts its verdict', () => {
    const s = vsaStatement(vsaInput({ verdict: 'mismatch' }));
    s.predicate.verificationResult = 'PASSED';
    expect(invalidStatementMessage(() => parseVsa(s))).toMatch(/contradicts/);
    const t = vsaStatement(vsaInput({ verdict: 'failed' }));
    t.predicate.verifiedLevels = [REPRODUCED_LEVEL];
    expect(invalidStatementMessage(() => parseVsa(t))).toMatch(/contradict/);
    expect(invalidStatementMessage(() => parseVsa(rebuildStatement(rebuildInput())))).toMatch(/predicateType/);
  });
});

type Mutation = (s: Record<string, any>) => void;

describe('validateStatement', () => {
  const provenance = () => structuredClone(rebuildStatement(rebuildInput())) as Record<string, any>;
  const vsa = () => structuredClone(vsaStatement(vsaInput())) as Record<string, any>;
  const cases: [string, () => Record<string, any>, Mutation, string][] = [
    ['wrong _type', provenance, (s) => (s._type = 'https://in-toto.io/Statement/v0.1'), '_type must be https://in-toto.io/Statement/v1'],
    ['no subject', provenance, (s) => delete s.subject, 'subject must be a non-empty array'],
    ['empty subject', provenance, (s) => (s.subject = []), 'subject must be a non-empty array'],
    ['subject without digest', provenance, (s) => delete s.subject[0].digest, 'subject[0].digest must be an object'],
    ['subject with an empty digest', provenance, (s) => (s.subject[0].digest = {}), 'subject[0].digest must name at least one digest'],
    ['uppercase hex digest', provenance, (s) => (s.subject[0].digest.sha256 = s.subject[0].digest.sha256.toUpperCase()), 'subject[0].digest.sha256 must be a lowercase hex string'],
    ['short sha512', provenance, (s) => (s.subject[0].digest.sha512 = 'ab'), 'subject[0].digest.sha512 must be 128 hex characters'],
    ['non-string subject name', provenance, (s) => (s.subject[0].name = 7), 'subject[0].name must be a string'],
    ['no predicateType', provenance, (s) => delete s.predicateType, 'predicateType is required'],
    ['predicateType not a URI', provenance, (s) => (s.predicateType = 'provenance'), 'predicateType is required'],
    ['no predicate', provenance, (s) => delete s.predicate, 'predicate must be an object'],
    ['no buildDefinition', provenance, (s) => delete s.predicate.buildDefinition, 'predicate.buildDefinition is required'],
    ['no buildType', provenance, (s) => delete s.predicate.buildDefinition.buildType, 'predicate.buildDefinition.buildType is required'],
    ['no externalParameters', provenance, (s) => delete s.predicate.buildDefinition.externalParameters, 'predicate.buildDefinition.externalParameters is required'],
    ['resolvedDependencies not an array', provenance, (s) => (s.predicate.buildDefinition.resolvedDependencies = {}), 'resolvedDependencies must be an array'],
    ['no runDetails', provenance, (s) => delete s.predicate.runDetails, 'predicate.runDetails is required'],
    ['no builder.id', provenance, (s) => delete s.predicate.runDetails.builder.id, 'predicate.runDetails.builder.id is required'],
    ['byproduct without uri, digest or content', provenance, (s) => delete s.predicate.runDetails.byproducts[0].digest, 'byproducts[0] must have a uri, a digest or a content'],
    ['startedOn not RFC 3339', provenance, (s) => (s.predicate.runDetails.metadata.startedOn = 'yesterday'), 'metadata.startedOn must be an RFC 3339 time'],
    ['no verifier.id', vsa, (s) => delete s.predicate.verifier.id, 'predicate.verifier.id is required'],
    ['no verifier', vsa, (s) => delete s.predicate.verifier, 'predicate.verifier.id is required'],
    ['no timeVerified', vsa, (s) => delete s.predicate.timeVerified, 'predicate.timeVerified is required'],
    ['timeVerified not RFC 3339', vsa, (s) => (s.predicate.timeVerified = '21/11/2026'), 'predicate.timeVerified is required (RFC 3339 time)'],
    ['no resourceUri', vsa, (s) => delete s.predicate.resourceUri, 'predicate.resourceUri is required'],
    ['no policy', vsa, (s) => delete s.predicate.policy, 'predicate.policy is required'],
    ['policy without uri', vsa, (s) => delete s.predicate.policy.uri, 'predicate.policy.uri is required'],
    ['input attestation without digest', vsa, (s) => delete s.predicate.inputAttestations[0].digest, 'predicate.inputAttestations[0].digest is required'],
    ['no verificationResult', vsa, (s) => delete s.predicate.verificationResult, 'predicate.verificationResult is required (PASSED or FAILED)'],
    ['verificationResult not PASSED or FAILED', vsa, (s) => (s.predicate.verificationResult = 'OK'), 'predicate.verificationResult is required'],
    ['no verifiedLevels', vsa, (s) => delete s.predicate.verifiedLevels, 'predicate.verifiedLevels is required'],
    ['verifiedLevels with a number', vsa, (s) => (s.predicate.verifiedLevels = [3]), 'predicate.verifiedLevels is required (array of strings)'],
    ['no slsaVersion', vsa, (s) => delete s.predicate.slsaVersion, 'predicate.slsaVersion is required'],
  ];

  it.each(cases)('catches %s', (_label, make, mutate, problem) => {
    const s = make();
    expect(validateStatement(s)).toEqual([]);
    mutate(s);
    const problems = validateStatement(s);
    expect(
      problems.some((p) => p.includes(problem)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('rejects what is not an object', () => {
    for (const v of [null, [], 'statement', 3]) expect(validateStatement(v)).toEqual(['statement must be a JSON object']);
  });

  it('accepts other predicate types with only the statement layer checked', () => {
    const s: InTotoStatement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha256: ARTIFACT.sha256 } }], predicateType: 'https://example.com/test-result/v1', predicate: {} };
    expect(validateStatement(s)).toEqual([]);
  });
});

describe('validateStatement on hostile input', () => {
  it('reports digest algorithms named like Object.prototype members instead of throwing', () => {
    const s = structuredClone(rebuildStatement(rebuildInput())) as Record<string, any>;
    s.subject[0].digest = JSON.parse('{"constructor":"ab","__proto__":"cd","toString":"XY"}');
    expect(validateStatement(s)).toEqual(['subject[0].digest.toString must be a lowercase hex string']);
  });
});
