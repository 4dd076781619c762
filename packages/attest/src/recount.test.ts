import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyPair } from './keys.js';
import { rebuildStatement, type RebuildStatementInput } from './rebuild-statement.js';
import { recountQuorum, type RecountInput, type RecountResult, type TrustedBuilder } from './recount.js';
import { LocalKeySigner, type SignedBundle } from './sign.js';
import { ARTIFACT, ARTIFACT_BYTES, digests, PURL, rebuildInput } from './test-support.js';

// Four trusted workers (a and d share operator op-1) and one outsider.
const WORKERS = { a: 'op-1', b: 'op-2', c: 'op-3', d: 'op-1' } as const;
type Name = keyof typeof WORKERS;
const keys = {} as Record<Name | 'x', KeyPair>;
let trusted: TrustedBuilder[];

/** Worker `name` signs a statement about its own rebuild of PURL (unless overridden). */
async function signedBy(name: Name | 'x', overrides: Partial<RebuildStatementInput> = {}): Promise<SignedBundle> {
  const operator = name === 'x' ? 'op-x' : WORKERS[name];
  const input = rebuildInput({ builder: { id: `worker-${name}`, operator }, rebuildId: `reb-${name}`, ...overrides });
  return new LocalKeySigner(keys[name]).signStatement(rebuildStatement(input));
}

const recount = (bundles: unknown[], over: Partial<RecountInput> = {}): Promise<RecountResult> =>
  recountQuorum({ purl: PURL, artifact: ARTIFACT, bundles, trustedBuilders: trusted, quorum: 3, distinctOperators: true, ...over });

beforeAll(() => {
  for (const name of ['a', 'b', 'c', 'd', 'x'] as const) keys[name] = generateKeyPair();
  trusted = (Object.keys(WORKERS) as Name[]).map((name) => ({
    workerId: `worker-${name}`,
    operator: WORKERS[name],
    keyId: keys[name].keyId,
    publicKeyPem: keys[name].publicKeyPem,
  }));
});

interface Case {
  name: string;
  bundles: () => Promise<unknown[]>;
  over?: Partial<RecountInput>;
  passed: boolean;
  counted: number;
  bitwise?: number;
  /** per bundle: counted, or a pattern of the problem */
  each: (true | RegExp)[];
}

const cases: Case[] = [
  {
    name: 'passes with 3 trusted agreeing builders',
    bundles: async () => Promise.all([signedBy('a'), signedBy('b'), signedBy('c')]),
    passed: true,
    counted: 3,
    bitwise: 3,
    each: [true, true, true],
  },
  {
    name: 'does not count a bundle by an untrusted key',
    bundles: async () => Promise.all([signedBy('a'), signedBy('b'), signedBy('x')]),
    passed: false,
    counted: 2,
    each: [true, true, /untrusted key/],
  },
  {
    name: 'does not count a bundle by an untrusted key that claims a trusted worker id',
    bundles: async () => Promise.all([signedBy('a'), signedBy('b'), signedBy('x', { builder: { id: 'worker-c', operator: 'op-3' } })]),
    passed: false,
    counted: 2,
    each: [true, true, /untrusted key/],
  },
  {
    name: 'counts the same builder once',
    bundles: async () => {
      const a = await signedBy('a');
      return [a, a, await signedBy('a', { rebuildId: 'reb-a-2' }), await signedBy('b')];
    },
    passed: false,
    counted: 2,
    each: [true, /duplicate builder: worker worker-a/, /duplicate builder/, true],
  },
  {
    name: 'counts two builders of one operator once with distinctOperators (operator from the trust list)',
    bundles: async () => Promise.all([signedBy('a'), signedBy('d', { builder: { id: 'worker-d', operator: 'op-9' } }), signedBy('b')]),
    passed: false,
    counted: 2,
    each: [true, /operator op-1 is already counted \(worker worker-a\)/, true],
  },
  {
    name: 'counts two builders of one operator twice without distinctOperators',
    bundles: async () => Promise.all([signedBy('a'), signedBy('d'), signedBy('b')]),
    over: { distinctOperators: false },
    passed: true,
    counted: 3,
    each: [true, true, true],
  },
  {
    name: 'does not count a statement replayed from another purl',
    bundles: async () => Promise.all([signedBy('a'), signedBy('b'), signedBy('c', { purl: 'pkg:npm/left-pad@1.2.0' })]),
    passed: false,
    counted: 2,
    each: [true, true, /about pkg:npm\/left-pad@1\.2\.0, not pkg:npm\/left-pad@1\.3\.0/],
  },
  {
    name: 'does not count a failed build',
    bundles: async () => Promise.all([signedBy('a'), signedBy('b'), signedBy('c', { status: 'failed', reason: 'timeout', artifact: undefined })]),
    passed: false,
    counted: 2,
    each: [true, true, /rebuild failed \(timeout\)/],
  },
  {
    name: 'does not count a key that signs for another worker',
    bundles: async () => Promise.all([signedBy('a'), signedBy('b'), signedBy('a', { builder: { id: 'worker-c', operator: 'op-3' } })]),
    passed: false,
    counted: 2,
    each: [true, true, /key sha256:[0-9a-f]+ belongs to worker worker-a, but the statement speaks for worker worker-c/],
  },
  {
    name: 'counts nobody for an artifact with one byte changed',
    bundles: async () => Promise.all([signedBy('a'), signedBy('b'), signedBy('c')]),
    over: (() => {
      const changed = Buffer.from(ARTIFACT_BYTES);
      changed[0] = changed[0]! ^ 1;
      return { artifact: digests(changed) };
    })(),
    passed: false,
    counted: 0,
    each: [/differs from the artifact/, /differs/, /differs/],
  },
  {
    name: 'counts stabilized matches as stabilized',
    bundles: async () => {
      const other = { filename: 'left-pad-1.3.0.tgz', ...digests('rebuilt with another gzip'), stabilizedSha256: ARTIFACT.stabilizedSha256, stabilizersApplied: ['gzip-level@1'] };
      return Promise.all([signedBy('a'), signedBy('b', { artifact: other }), signedBy('c', { artifact: other })]);
    },
    passed: true,
    counted: 3,
    bitwise: 1,
    each: [true, true, true],
  },
  {
    name: 'does not count a tampered bundle or junk, and does not throw',
    bundles: async () => {
      // c's genuine signature, moved onto another statement of c's.
      type Env = { dsseEnvelope: { signatures: { sig: string }[] } };
      const tampered = (await signedBy('c')) as unknown as Env;
      const other = (await signedBy('c', { rebuildId: 'reb-c-2' })) as unknown as Env;
      tampered.dsseEnvelope.signatures[0]!.sig = other.dsseEnvelope.signatures[0]!.sig;
      return [await signedBy('a'), tampered, null, 'bundle', { mediaType: 'x' }];
    },
    passed: false,
    counted: 1,
    each: [true, /bad signature/, /not a valid bundle/, /not a valid bundle/, /not a valid bundle/],
  },
];

describe('recountQuorum', () => {
  it.each(cases)('$name', async (c) => {
    const r = await recount(await c.bundles(), c.over);
    expect({ passed: r.passed, counted: r.counted }).toEqual({ passed: c.passed, counted: c.counted });
    if (c.bitwise !== undefined) expect(r.bitwise).toBe(c.bitwise);
    expect(r.builders).toHaveLength(c.each.length);
    c.each.forEach((want, i) => {
      const b = r.builders[i]!;
      if (want === true) {
        expect(b, `bundle ${i}`).toMatchObject({ counted: true });
        expect(b.problem).toBeUndefined();
      } else {
        expect(b.counted, `bundle ${i}`).toBe(false);
        expect(b.problem, `bundle ${i}`).toMatch(want);
      }
    });
  });

  it('reports the match kind, worker, trusted operator and key of each bundle', async () => {
    const other = { filename: 'x.tgz', ...digests('other'), stabilizedSha256: ARTIFACT.stabilizedSha256, stabilizersApplied: [] };
    const r = await recount([await signedBy('a'), await signedBy('b', { artifact: other })], { quorum: 2 });
    expect(r).toEqual({
      passed: true,
      counted: 2,
      quorum: 2,
      bitwise: 1,
      builders: [
        { workerId: 'worker-a', operator: 'op-1', keyId: keys.a.keyId, counted: true, match: 'bitwise', sourceRepo: 'https://github.com/left-pad/left-pad' },
        { workerId: 'worker-b', operator: 'op-2', keyId: keys.b.keyId, counted: true, match: 'stabilized', sourceRepo: 'https://github.com/left-pad/left-pad' },
      ],
    });
  });

  it('lets a bitwise match win its operator over a stabilized one', async () => {
    const other = { filename: 'x.tgz', ...digests('other'), stabilizedSha256: ARTIFACT.stabilizedSha256, stabilizersApplied: [] };
    const r = await recount([await signedBy('a', { artifact: other }), await signedBy('d')], { quorum: 1 });
    expect(r.bitwise).toBe(1);
    expect(r.builders.map((b) => b.counted)).toEqual([false, true]);
  });

  it('does not count a sha256 match whose sha512 differs', async () => {
    const lying = { filename: 'x.tgz', sha256: ARTIFACT.sha256, sha512: digests('other').sha512, stabilizedSha256: ARTIFACT.stabilizedSha256, stabilizersApplied: [] };
    const r = await recount([await signedBy('a', { artifact: lying })], { quorum: 1 });
    expect(r.builders[0]).toMatchObject({ counted: false, match: 'no', problem: expect.stringMatching(/sha512 differs/) });
  });

  it('refuses a quorum below 1 and a malformed artifact digest instead of passing', async () => {
    await expect(recount([], { quorum: 0 })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(recount([], { quorum: 1.5 })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(recount([], { artifact: { sha256: 'abc' } })).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('matches purls by their canonical form', async () => {
    const r = await recount([await signedBy('a', { purl: 'pkg:npm/%40scope/pad@1.0.0' })], { purl: 'pkg:npm/@scope/pad@1.0.0', quorum: 1 });
    expect(r.passed).toBe(true);
  });
});

describe('recountQuorum with source binding', () => {
  const COMMIT = 'c'.repeat(40);
  const canonical = { repo: 'https://github.com/left-pad/left-pad', commit: COMMIT, refs: [] };
  const from = (source: RebuildStatementInput['source']) => ({ source });
  const own = { origin: 'registry', repo: canonical.repo, commit: COMMIT, ref: 'v1.3.0', commitTime: 1 };
  const evil = { origin: 'override', repo: 'https://evil.example/left-pad', commit: 'e'.repeat(40), ref: 'v1.3.0', commitTime: 1 };

  it("counts builders of the package's own source at the commit the registry declares", async () => {
    const r = await recount(await Promise.all(['a', 'b', 'c'].map((n) => signedBy(n as Name, from(own)))), { source: canonical });
    expect(r).toMatchObject({ passed: true, counted: 3 });
  });

  it('never counts statements about an override source, however many agree', async () => {
    const r = await recount(await Promise.all(['a', 'b', 'c'].map((n) => signedBy(n as Name, from(evil)))), { source: canonical, quorum: 1 });
    expect(r.passed).toBe(false);
    expect(r.counted).toBe(0);
    for (const b of r.builders) expect(b.problem).toMatch(/override source https:\/\/evil\.example/);
  });

  it('does not count a canonical-looking statement about another repository, directory or commit', async () => {
    const bundles = await Promise.all([
      signedBy('a', from({ ...own, repo: 'https://github.com/evil/left-pad' })),
      signedBy('b', from({ ...own, directory: 'packages/x' })),
      signedBy('c', from({ ...own, commit: 'd'.repeat(40) })),
    ]);
    const r = await recount(bundles, { source: canonical, quorum: 1 });
    expect(r.counted).toBe(0);
    expect(r.builders.map((b) => b.problem)).toEqual([
      expect.stringMatching(/not the package's own source/),
      expect.stringMatching(/directory "packages\/x"/),
      expect.stringMatching(/registry declares c{40}/),
    ]);
  });

  it('accepts tag-resolved commits only for the release tags when the registry declares no commit', async () => {
    const tagged = { repo: canonical.repo, refs: ['v1.3.0', '1.3.0'] };
    const ok = await recount([await signedBy('a', from(own))], { source: tagged, quorum: 1 });
    expect(ok.passed).toBe(true);
    const other = await recount([await signedBy('a', from({ ...own, ref: 'main' }))], { source: tagged, quorum: 1 });
    expect(other.builders[0]!.problem).toMatch(/not one of the release tags/);
  });

  it('counts an override source only when the consumer allows that repository, and says so', async () => {
    const r = await recount(await Promise.all(['a', 'b'].map((n) => signedBy(n as Name, from(evil)))), { source: { ...canonical, allowRepos: [evil.repo] }, quorum: 2 });
    expect(r.passed).toBe(true);
    expect(r.builders.every((b) => b.allowedSource)).toBe(true);
  });

  it('does not count a statement that names no source', async () => {
    const r = await recount([await signedBy('a', { source: undefined })], { source: canonical, quorum: 1 });
    expect(r.builders[0]!.problem).toMatch(/names no source/);
  });
});
