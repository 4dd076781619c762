import { describe, expect, it } from 'vitest';
import { generateKeyPair } from './keys.js';
import { LocalKeySigner } from './sign.js';
import { webhookSignatureHeader, webhookSignatureProblem } from './webhook-signature.js';

describe('webhook signatures', () => {
  const kp = generateKeyPair();
  const signer = new LocalKeySigner(kp);
  const body = '{"event":"verdict","verdict":"reproducible"}';
  const now = 1_800_000_000;
  const header = webhookSignatureHeader(signer.keyId, now, body, (d) => signer.signBytes(d));

  it("accepts the coordinator's signature over the time and the exact body", () => {
    expect(webhookSignatureProblem(header, body, kp.publicKeyPem, kp.keyId, now + 5)).toBeUndefined();
    expect(webhookSignatureProblem(header, Buffer.from(body), kp.publicKeyPem, kp.keyId, now)).toBeUndefined();
  });

  it('refuses a changed body, another key, an old delivery and a missing header', () => {
    expect(webhookSignatureProblem(header, body.replace('reproducible', 'mismatch'), kp.publicKeyPem, kp.keyId, now)).toBe('the signature does not match the body');
    const other = generateKeyPair();
    expect(webhookSignatureProblem(header, body, other.publicKeyPem, other.keyId, now)).toMatch(/^signed by key /);
    // the right key id but another public key: the signature cannot match
    expect(webhookSignatureProblem(header, body, other.publicKeyPem, kp.keyId, now)).toBe('the signature does not match the body');
    expect(webhookSignatureProblem(header, body, kp.publicKeyPem, kp.keyId, now + 3600)).toMatch(/too far from now/);
    expect(webhookSignatureProblem(header.replace(/t=\d+/, `t=${now + 1}`), body, kp.publicKeyPem, kp.keyId, now)).toBe('the signature does not match the body');
    expect(webhookSignatureProblem(undefined, body, kp.publicKeyPem, kp.keyId, now)).toMatch(/^no x-quorum-signature/);
  });
});
