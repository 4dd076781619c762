import { sign as cryptoSign, createPrivateKey } from 'node:crypto';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { isAttestError } from './errors.js';
import { IN_TOTO_PAYLOAD_TYPE, type InTotoStatement } from './in-toto.js';
import { generateKeyPair, type KeyPair, type TrustedKey } from './keys.js';
import { rebuildStatement } from './rebuild-statement.js';
import { createStatementSigner, LocalKeySigner, type SignedBundle } from './sign.js';
import { rebuildInput } from './test-support.js';
import { verifyBundle } from './verify.js';

let alice: KeyPair;
let mallory: KeyPair;
let trusted: TrustedKey[];
let statement: InTotoStatement;
let bundle: SignedBundle;

/** Signs raw bytes as a DSSE bundle with `kp`, claiming `hint`, outside LocalKeySigner's checks. */
async function rawBundle(kp: KeyPair, data: Buffer, type: string, hint = kp.keyId): Promise<SignedBundle> {
  const key = createPrivateKey(kp.privateKeyPem);
  const builder = new DSSEBundleBuilder({
    witnesses: [],
    signer: { sign: async (d: Buffer) => ({ signature: cryptoSign('sha256', d, key), key: { $case: 'publicKey', publicKey: kp.publicKeyPem, hint } }) },
  });
  return bundleToJSON(await builder.create({ data, type })) as unknown as SignedBundle;
}

const copy = <T>(v: T): T => structuredClone(v);

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isAttestError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  alice = generateKeyPair();
  mallory = generateKeyPair();
  trusted = [{ keyId: alice.keyId, publicKeyPem: alice.publicKeyPem }];
  statement = rebuildStatement(rebuildInput());
  bundle = await new LocalKeySigner(alice).signStatement(statement);
});

describe('sign and verify', () => {
  it('round-trips a statement through a v0.3 DSSE bundle with the key id as hint', async () => {
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle).toMatchObject({
      verificationMaterial: { publicKey: { hint: alice.keyId } },
      dsseEnvelope: { payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ keyid: alice.keyId }] },
    });
    // No Fulcio certificate, no Rekor entry, no TSA timestamp: a purely offline bundle.
    const material = bundle.verificationMaterial as Record<string, { rfc3161Timestamps?: unknown[] } | unknown[] | undefined>;
    expect(Object.keys(material).sort()).toEqual(['publicKey', 'timestampVerificationData']);
    expect(material.timestampVerificationData).toEqual({});
    const verified = await verifyBundle(JSON.parse(JSON.stringify(bundle)), trusted);
    expect(verified.keyId).toBe(alice.keyId);
    expect(verified.statement).toEqual(statement);
  });

  it('signs the canonical JSON of the statement', () => {
    const env = bundle.dsseEnvelope as { payload: string };
    expect(Buffer.from(env.payload, 'base64').toString('utf8')).toBe(canonicalJson(statement));
  });

  it('rejects a payload with one byte changed as bad-signature', async () => {
    const tampered = copy(bundle) as { dsseEnvelope: { payload: string } };
    const bytes = Buffer.from(tampered.dsseEnvelope.payload, 'base64');
    const at = bytes.indexOf('left-pad-1.3.0.tgz');
    bytes[at] = 'r'.charCodeAt(0);
    tampered.dsseEnvelope.payload = bytes.toString('base64');
    expect(await rejection(verifyBundle(tampered, trusted))).toMatchObject({ code: 'bad-signature' });
  });

  it('rejects one changed base64 character of the payload as bad-signature', async () => {
    const tampered = copy(bundle) as { dsseEnvelope: { payload: string } };
    const p = tampered.dsseEnvelope.payload;
    const i = 40;
    tampered.dsseEnvelope.payload = p.slice(0, i) + (p[i] === 'A' ? 'B' : 'A') + p.slice(i + 1);
    expect(await rejection(verifyBundle(tampered, trusted))).toMatchObject({ code: 'bad-signature' });
  });

  it('rejects a signature by another key that claims the trusted key id', async () => {
    const forged = await rawBundle(mallory, Buffer.from(canonicalJson(statement)), IN_TOTO_PAYLOAD_TYPE, alice.keyId);
    expect(await rejection(verifyBundle(forged, trusted))).toMatchObject({ code: 'bad-signature' });
  });

  it('rejects a bundle by an unknown key as untrusted-key', async () => {
    const other = await new LocalKeySigner(mallory).signStatement(statement);
    const r = await rejection(verifyBundle(other, trusted));
    expect(r.code).toBe('untrusted-key');
    expect(r.message).toContain(mallory.keyId);
  });

  it('rejects a signed payload that is not an in-toto statement', async () => {
    const signedJson = await rawBundle(alice, Buffer.from(canonicalJson(statement)), 'application/json');
    expect(await rejection(verifyBundle(signedJson, trusted))).toMatchObject({ code: 'wrong-payload-type' });
  });

  it('rejects a payloadType changed after signing as bad-signature (DSSE signs the type)', async () => {
    const relabelled = copy(bundle) as { dsseEnvelope: { payloadType: string } };
    relabelled.dsseEnvelope.payloadType = 'application/json';
    expect(await rejection(verifyBundle(relabelled, trusted))).toMatchObject({ code: 'bad-signature' });
  });

  it('rejects a signed in-toto payload that is not a valid statement', async () => {
    const notStatement = await rawBundle(alice, Buffer.from('{"_type":"https://in-toto.io/Statement/v1","subject":[]}'), IN_TOTO_PAYLOAD_TYPE);
    const r = await rejection(verifyBundle(notStatement, trusted));
    expect(r.code).toBe('invalid-statement');
    expect(r.message).toContain('subject must be a non-empty array');
    const notJson = await rawBundle(alice, Buffer.from('not json'), IN_TOTO_PAYLOAD_TYPE);
    expect(await rejection(verifyBundle(notJson, trusted))).toMatchObject({ code: 'invalid-statement' });
  });

  it('rejects what is not a bundle as invalid-bundle', async () => {
    for (const junk of [null, 'bundle', {}, { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]) {
      expect(await rejection(verifyBundle(junk, trusted))).toMatchObject({ code: 'invalid-bundle' });
    }
  });

  it('rejects a trust list whose key id does not match its key', async () => {
    const wrong = [{ keyId: alice.keyId, publicKeyPem: mallory.publicKeyPem }];
    expect(await rejection(verifyBundle(bundle, wrong))).toMatchObject({ code: 'invalid-key' });
  });

  it('refuses to sign an invalid statement', async () => {
    const bad = { ...statement, subject: [] } as InTotoStatement;
    expect(await rejection(new LocalKeySigner(alice).signStatement(bad))).toMatchObject({ code: 'invalid-statement' });
  });

  it('refuses a key pair whose parts do not belong together', () => {
    expect(() => new LocalKeySigner({ ...alice, publicKeyPem: mallory.publicKeyPem, keyId: mallory.keyId })).toThrow(/inconsistent/);
  });

  it('creates local-key signers and says keyless signing is not available yet', () => {
    const s = createStatementSigner({ kind: 'local-key', keyPair: alice });
    expect(s).toBeInstanceOf(LocalKeySigner);
    expect(s.keyId).toBe(alice.keyId);
    const keyless = () => createStatementSigner({ kind: 'keyless', fulcioUrl: 'https://fulcio.example', rekorUrl: 'https://rekor.example', identityToken: async () => 't' });
    expect(keyless).toThrow(/keyless signing is not available yet/);
    try {
      keyless();
    } catch (e) {
      expect(isAttestError(e, 'unsupported')).toBe(true);
    }
  });
});
