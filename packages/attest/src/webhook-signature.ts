import { verify as cryptoVerify } from 'node:crypto';
import { publicKeyObject } from './keys.js';

/** The header carrying a delivery's signature: `keyid=<key id>,t=<unix seconds>,sig=<base64 DER ECDSA>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-quorum-signature';

/**
 * What a delivery's signature covers: a context line (the key signs other things too), its time and
 * its body, so that none of them can be swapped.
 */
export function webhookSignedBytes(timestamp: number, body: Uint8Array | string): Buffer {
  return Buffer.concat([Buffer.from(`quorum-webhook-v1\n${timestamp}\n`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body)]);
}

/** The signature header of a delivery, signed by `sign` (the coordinator's key). */
export function webhookSignatureHeader(keyId: string, timestamp: number, body: Uint8Array | string, sign: (data: Uint8Array) => string): string {
  return `keyid=${keyId},t=${timestamp},sig=${sign(webhookSignedBytes(timestamp, body))}`;
}

/**
 * Checks a delivery as a receiver does, with the coordinator's public key from the trust file
 * (`quorum keys export`): the header names that key, its signature covers the time and the exact
 * body bytes, and the time is within `toleranceS` of `nowS` (a replayed old delivery is refused).
 * Returns the problem, or undefined when the delivery is authentic.
 */
export function webhookSignatureProblem(
  header: string | undefined,
  body: Uint8Array | string,
  publicKeyPem: string,
  keyId: string,
  nowS = Math.floor(Date.now() / 1000),
  toleranceS = 600,
): string | undefined {
  if (!header) return `no ${WEBHOOK_SIGNATURE_HEADER} header`;
  const fields = Object.fromEntries(header.split(',').map((part) => [part.slice(0, part.indexOf('=')).trim(), part.slice(part.indexOf('=') + 1).trim()]));
  if (fields.keyid !== keyId) return `signed by key ${String(fields.keyid).slice(0, 80)}, not by ${keyId}`;
  const t = Number(fields.t);
  if (!/^\d{1,12}$/.test(fields.t ?? '') || Math.abs(nowS - t) > toleranceS) return 'the signature time is missing or too far from now';
  let ok: boolean;
  try {
    ok = cryptoVerify('sha256', webhookSignedBytes(t, body), publicKeyObject(publicKeyPem), Buffer.from(fields.sig ?? '', 'base64'));
  } catch {
    // an unreadable key or signature verifies nothing
    ok = false;
  }
  return ok ? undefined : 'the signature does not match the body';
}
