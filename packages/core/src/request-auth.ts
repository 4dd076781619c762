import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

/** Header carrying a worker's request signature: `<keyId> <unix-ms> <base64 signature>`. */
export const AUTH_HEADER = 'x-quorum-auth';

/** Header declaring the sha256 (hex) of the request body; the signature covers it, so it is checked before the body is read. */
export const BODY_SHA256_HEADER = 'x-quorum-content-sha256';

/** How far a signed request's clock may be from the coordinator's. @defaultValue 5 min */
export const AUTH_MAX_SKEW_MS = 5 * 60 * 1000;

/** The body's part of a signature: its sha256 (hex), so large bodies can be hashed as they stream. */
export function bodyDigest(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** What a request signature covers: method, path, time, and the body's declared digest and length. */
function signedText(method: string, path: string, timestamp: number, bodySha256: string, bodyBytes: number): string {
  return `quorum-request-v2\n${method.toUpperCase()}\n${path}\n${timestamp}\n${bodySha256}\n${bodyBytes}`;
}

/** The headers of one signed worker request: the signature and the body digest it covers. */
export function signRequest(key: { keyId: string; privateKeyPem: string }, method: string, path: string, body: string | Buffer, now = Date.now()): Record<string, string> {
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const digest = bodyDigest(body);
  const signature = sign('sha256', Buffer.from(signedText(method, path, now, digest, bytes)), createPrivateKey(key.privateKeyPem));
  return { [AUTH_HEADER]: `${key.keyId} ${now} ${signature.toString('base64')}`, [BODY_SHA256_HEADER]: digest };
}

/** The parts of an auth header, or why it cannot be read. */
export function parseAuthHeader(header: string | undefined): { keyId: string; timestamp: number; signature: Buffer } | string {
  if (!header) return `missing ${AUTH_HEADER} header`;
  if (header.length > 512) return `malformed ${AUTH_HEADER} header`;
  const [keyId, ts, sig, extra] = header.split(' ');
  if (!keyId || !ts || !sig || extra !== undefined || !/^[0-9]{1,16}$/.test(ts)) return `malformed ${AUTH_HEADER} header`;
  return { keyId, timestamp: Number(ts), signature: Buffer.from(sig, 'base64') };
}

/**
 * Why a request signature was refused, or undefined when it is valid for this key. `declared` is the
 * body digest and length the request announces in its headers; the caller checks later that the body
 * it reads has exactly that digest and length.
 */
export function requestSignatureProblem(
  header: string | undefined,
  key: { keyId: string; publicKeyPem: string },
  method: string,
  path: string,
  declared: { sha256: string; bytes: number },
  now = Date.now(),
): string | undefined {
  const parsed = parseAuthHeader(header);
  if (typeof parsed === 'string') return parsed;
  if (parsed.keyId !== key.keyId) return `signed by another key than the enrolled one`;
  if (Math.abs(now - parsed.timestamp) > AUTH_MAX_SKEW_MS) return 'request signature is stale or from the future';
  if (!/^[0-9a-f]{64}$/.test(declared.sha256)) return `malformed ${BODY_SHA256_HEADER} header`;
  const ok = verify('sha256', Buffer.from(signedText(method, path, parsed.timestamp, declared.sha256, declared.bytes)), createPublicKey(key.publicKeyPem), parsed.signature);
  return ok ? undefined : 'bad request signature';
}
