import type { KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { Verifier, VerificationError, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { AttestError, messageOf } from './errors.js';
import { IN_TOTO_PAYLOAD_TYPE, type InTotoStatement } from './in-toto.js';
import { keyIdOf, publicKeyObject, type TrustedKey } from './keys.js';
import { validateStatement } from './validate-statement.js';

/** A bundle that verified: who signed it and what it states. */
export interface VerifiedStatement {
  keyId: string;
  statement: InTotoStatement;
}

/** No Fulcio, Rekor, CT log or TSA: offline verification trusts only the given public keys. */
const EMPTY_TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

/** The trusted keys by key id; throws AttestError('invalid-key') for an entry whose id is not its key's. */
export function trustedKeyMap(trusted: readonly TrustedKey[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const t of trusted) {
    const key = publicKeyObject(t.publicKeyPem);
    const actual = keyIdOf(t.publicKeyPem);
    if (actual !== t.keyId) throw new AttestError('invalid-key', `trusted key ${t.keyId} is listed with another public key (${actual})`);
    keys.set(t.keyId, key);
  }
  return keys;
}

/** The key hint of a bundle in JSON form, without verifying anything; for reports about bad bundles. */
export function bundleKeyHint(bundle: unknown): string | undefined {
  const hint = (bundle as { verificationMaterial?: { publicKey?: { hint?: unknown } } } | null)?.verificationMaterial?.publicKey?.hint;
  return typeof hint === 'string' && hint !== '' ? hint : undefined;
}

/**
 * Verifies a Sigstore bundle offline against the trusted public keys: it parses, its key hint names
 * a trusted key, the DSSE signature verifies, the payload is an in-toto Statement v1.
 * Throws AttestError: invalid-bundle, untrusted-key, bad-signature, wrong-payload-type, invalid-statement.
 */
export async function verifyBundle(bundle: unknown, trusted: readonly TrustedKey[]): Promise<VerifiedStatement> {
  return verifyWithKeys(bundle, trustedKeyMap(trusted));
}

/** verifyBundle with the trusted keys already mapped (see trustedKeyMap). */
export async function verifyWithKeys(bundle: unknown, keys: ReadonlyMap<string, KeyObject>): Promise<VerifiedStatement> {
  let parsed: Bundle;
  try {
    parsed = bundleFromJSON(bundle);
  } catch (e) {
    throw new AttestError('invalid-bundle', `not a Sigstore bundle: ${messageOf(e)}`, { cause: e });
  }
  if (parsed.content.$case !== 'dsseEnvelope') {
    throw new AttestError('invalid-bundle', 'the bundle holds a message signature; a DSSE envelope with an in-toto statement is expected');
  }
  const material = parsed.verificationMaterial.content;
  if (material.$case !== 'publicKey') {
    throw new AttestError('invalid-bundle', `the bundle is signed with a ${material.$case}; only public-key bundles verify offline`);
  }
  const envelope = parsed.content.dsseEnvelope;
  if (envelope.signatures.length !== 1) {
    throw new AttestError('invalid-bundle', `the DSSE envelope carries ${envelope.signatures.length} signatures; exactly one is expected`);
  }
  const keyId = material.publicKey.hint;
  const key = keys.get(keyId);
  if (!key) {
    throw new AttestError('untrusted-key', `the bundle is signed by ${keyId || '(no key hint)'}, which is not one of the ${keys.size} trusted key(s)`);
  }
  const trust = toTrustMaterial(EMPTY_TRUSTED_ROOT, (hint) => {
    if (hint !== keyId) throw new VerificationError({ code: 'PUBLIC_KEY_ERROR', message: `key not found: ${hint}` });
    return { publicKey: key, validFor: () => true };
  });
  try {
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(parsed));
  } catch (e) {
    if (e instanceof VerificationError && e.code === 'SIGNATURE_ERROR') {
      throw new AttestError('bad-signature', `the DSSE signature does not verify with key ${keyId}`, { cause: e });
    }
    // Log entries and timestamps need Rekor/TSA keys, which an offline verifier does not have.
    throw new AttestError('invalid-bundle', `the bundle does not verify offline: ${messageOf(e)}`, { cause: e });
  }
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new AttestError('wrong-payload-type', `payloadType is ${JSON.stringify(envelope.payloadType)}, expected ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  let statement: unknown;
  try {
    statement = JSON.parse(envelope.payload.toString('utf8'));
  } catch (e) {
    throw new AttestError('invalid-statement', `the payload is not JSON: ${messageOf(e)}`, { cause: e });
  }
  const problems = validateStatement(statement);
  if (problems.length > 0) throw new AttestError('invalid-statement', `the payload is not a valid in-toto Statement v1: ${problems.join('; ')}`);
  return { keyId, statement: statement as InTotoStatement };
}
