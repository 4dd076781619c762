import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signature, type Signer } from '@sigstore/sign';
import { canonicalJson } from './canonical-json.js';
import { AttestError, messageOf } from './errors.js';
import { IN_TOTO_PAYLOAD_TYPE, type InTotoStatement } from './in-toto.js';
import { keyIdOf, keyPairFromPrivateKey, type KeyPair } from './keys.js';
import { assertValidStatement } from './validate-statement.js';

/** A Sigstore bundle (v0.3, DSSE envelope) in its JSON form, as stored and served. */
export type SignedBundle = Record<string, unknown>;

/** Signs in-toto statements into Sigstore bundles; the role behind local-key and keyless signing. */
export interface StatementSigner {
  /** the key hint every bundle carries (for keyless: to be defined with it) */
  readonly keyId: string;
  readonly publicKeyPem: string;
  signStatement(statement: InTotoStatement): Promise<SignedBundle>;
  /** A detached signature over bytes that are not a statement (e.g. a webhook delivery): ECDSA P-256 over SHA-256, DER, base64. */
  signBytes(data: Uint8Array): string;
}

/** How a process signs: a local key pair (offline) or, later, Fulcio + Rekor. */
export type StatementSignerConfig = { kind: 'local-key'; keyPair: KeyPair } | { kind: 'keyless'; fulcioUrl: string; rekorUrl: string; identityToken: () => Promise<string> };

/** Sigstore signer over a local ECDSA P-256 key: SHA-256, DER signature, the key id as hint. */
class LocalSigstoreSigner implements Signer {
  readonly #key: KeyObject;
  readonly #publicKeyPem: string;
  readonly #keyId: string;
  constructor(key: KeyObject, publicKeyPem: string, keyId: string) {
    this.#key = key;
    this.#publicKeyPem = publicKeyPem;
    this.#keyId = keyId;
  }
  async sign(data: Buffer): Promise<Signature> {
    return {
      signature: cryptoSign('sha256', data, this.#key),
      key: { $case: 'publicKey', publicKey: this.#publicKeyPem, hint: this.#keyId },
    };
  }
}

/**
 * Signs statements offline with a local key pair: a v0.3 Sigstore bundle holding a DSSE envelope
 * (payloadType in-toto), key hint = key id, no certificate, no transparency log, no timestamp.
 */
export class LocalKeySigner implements StatementSigner {
  readonly keyId: string;
  readonly publicKeyPem: string;
  readonly #builder: DSSEBundleBuilder;
  readonly #key: KeyObject;

  constructor(kp: KeyPair) {
    const derived = keyPairFromPrivateKey(kp.privateKeyPem);
    if (derived.keyId !== kp.keyId || keyIdOf(kp.publicKeyPem) !== kp.keyId) {
      throw new AttestError('invalid-key', `key pair ${kp.keyId} is inconsistent: its private key belongs to ${derived.keyId}`);
    }
    this.keyId = kp.keyId;
    this.publicKeyPem = derived.publicKeyPem;
    this.#key = createPrivateKey(kp.privateKeyPem);
    const signer = new LocalSigstoreSigner(this.#key, derived.publicKeyPem, kp.keyId);
    this.#builder = new DSSEBundleBuilder({ signer, witnesses: [] });
  }

  signBytes(data: Uint8Array): string {
    return cryptoSign('sha256', data, this.#key).toString('base64');
  }

  /** Signs `statement` (validated first; its canonical JSON is the payload). */
  async signStatement(statement: InTotoStatement): Promise<SignedBundle> {
    assertValidStatement(statement);
    const payload = Buffer.from(canonicalJson(statement), 'utf8');
    try {
      const bundle = await this.#builder.create({ data: payload, type: IN_TOTO_PAYLOAD_TYPE });
      return bundleToJSON(bundle) as unknown as SignedBundle;
    } catch (e) {
      throw new AttestError('invalid-key', `signing with ${this.keyId} failed: ${messageOf(e)}`, { cause: e });
    }
  }
}

/** Creates the statement signer a configuration asks for; keyless signing is not available yet. */
export function createStatementSigner(config: StatementSignerConfig): StatementSigner {
  switch (config.kind) {
    case 'local-key':
      return new LocalKeySigner(config.keyPair);
    case 'keyless':
      throw new AttestError('unsupported', `keyless signing is not available yet: Fulcio (${config.fulcioUrl}) and Rekor (${config.rekorUrl}) are not wired in; use kind 'local-key'`);
  }
}
