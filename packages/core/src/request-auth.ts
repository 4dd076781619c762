import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

/** Header carrying a worker's request signature: `<keyId> <unix-ms> <base64 signature>`. */
export const AUTH_HEADER = 'x-quorum-auth';

/** How far a signed request's clock may be from the coordinator's. @defaultValue 5 min */
export const AUTH_MAX_SKEW_MS = 5 * 60 * 1000;

/** The bytes a request signature covers: method, path, time and the body's digest. */
/** The body's part of a signature: its sha256 (hex), so large bodies can be hashed as they stream. */
export function bodyDigest(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

function signedText(method: string, path: string, timestamp: number, bodySha256: string): string {
  return `${method.toUpperCase()}\n${path}\n${timestamp}\n${bodySha256}`;
}

/** Signs one HTTP request with a worker's private key (ECDSA, SHA-256); returns the header value. */
export function signRequest(key: { keyId: string; privateKeyPem: string }, method: string, path: string, body: string | Buffer, now = Date.now()): string {
  const signature = sign('sha256', Buffer.from(signedText(method, path, now, bodyDigest(body))), createPrivateKey(key.privateKeyPem));
  return `${key.keyId} ${now} ${signature.toString('base64')}`;
}

/** Why a request signature was refused, or undefined when it is valid for this key. */
export function requestSignatureProblem(
  header: string | undefined,
  key: { keyId: string; publicKeyPem: string },
  method: string,
  path: string,
  body: string | { sha256: string },
  now = Date.now(),
): string | undefined {
  if (!header) return `missing ${AUTH_HEADER} header`;
  const [keyId, ts, sig] = header.split(' ');
  if (!keyId || !ts || !sig) return `malformed ${AUTH_HEADER} header`;
  if (keyId !== key.keyId) return `signed by key ${keyId}, not the enrolled key ${key.keyId}`;
  const timestamp = Number(ts);
  if (!Number.isFinite(timestamp) || Math.abs(now - timestamp) > AUTH_MAX_SKEW_MS) return 'request signature is stale or from the future';
  const digest = typeof body === 'string' ? bodyDigest(body) : body.sha256;
  const ok = verify('sha256', Buffer.from(signedText(method, path, timestamp, digest)), createPublicKey(key.publicKeyPem), Buffer.from(sig, 'base64'));
  return ok ? undefined : 'bad request signature';
}
