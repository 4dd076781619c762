/** Codes for faults and rejected input raised by the domain layer. */
export type QuorumErrorCode =
  | 'invalid-purl'
  | 'missing-version'
  | 'unknown-ecosystem'
  | 'unknown-registry'
  | 'invalid-input'
  | 'not-found'
  | 'conflict'
  | 'forbidden'
  | 'upstream-unavailable'
  | 'source-not-found'
  | 'integrity-mismatch'
  | 'unsafe-archive'
  | 'unsafe-output'
  | 'egress-refused'
  | 'unauthorized'
  | 'rate-limited'
  | 'unavailable'
  | 'internal';

/** Base error of the project: a string-union code plus an optional cause; HTTP mapping lives in the coordinator. */
export class QuorumError extends Error {
  readonly code: QuorumErrorCode;
  constructor(code: QuorumErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QuorumError';
    this.code = code;
  }
}

/** True when `e` is a QuorumError, optionally with one of the given codes. */
export function isQuorumError(e: unknown, ...codes: QuorumErrorCode[]): e is QuorumError {
  return e instanceof QuorumError && (codes.length === 0 || codes.includes(e.code));
}
