/** Codes of the faults and rejections raised by the attest package. */
export type AttestErrorCode =
  /** not a Sigstore bundle we accept (malformed, message signature, certificate, unverifiable log entries) */
  | 'invalid-bundle'
  /** the bundle's key hint names no trusted key */
  | 'untrusted-key'
  /** the DSSE signature does not verify with the named key */
  | 'bad-signature'
  /** the DSSE payload is not an in-toto statement */
  | 'wrong-payload-type'
  /** the payload is not a valid in-toto Statement v1 of the expected kind */
  | 'invalid-statement'
  /** a key (file or PEM) is unusable: malformed, wrong curve, inconsistent key id */
  | 'invalid-key'
  /** a private key file is readable by others than its owner */
  | 'insecure-key-file'
  /** bad arguments from the caller (e.g. a quorum below 1, a malformed digest) */
  | 'invalid-input'
  /** a feature that is configured but not implemented (keyless signing) */
  | 'unsupported';

/** The attest package's error: a string-union code plus an optional cause, like core's QuorumError. */
export class AttestError extends Error {
  readonly code: AttestErrorCode;
  constructor(code: AttestErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AttestError';
    this.code = code;
  }
}

/** True when `e` is an AttestError, optionally with one of the given codes. */
export function isAttestError(e: unknown, ...codes: AttestErrorCode[]): e is AttestError {
  return e instanceof AttestError && (codes.length === 0 || codes.includes(e.code));
}

/** The message of any thrown value, for wrapping. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
