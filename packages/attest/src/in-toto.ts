/** `_type` of an in-toto Statement v1. */
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** predicateType of SLSA Provenance v1 (a rebuild statement). */
export const PROVENANCE_PREDICATE = 'https://slsa.dev/provenance/v1';
/** predicateType of SLSA Verification Summary v1 (a verdict). */
export const VSA_PREDICATE = 'https://slsa.dev/verification_summary/v1';

/** An in-toto ResourceDescriptor: a software artifact named by uri, digest and/or name. */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  /** algorithm → lowercase hex digest */
  digest?: Record<string, string>;
  /** base64 content */
  content?: string;
  downloadLocation?: string;
  mediaType?: string;
  annotations?: Record<string, unknown>;
}

/** A statement subject: a ResourceDescriptor that must carry a digest. */
export type StatementSubject = ResourceDescriptor & { digest: Record<string, string> };

/** An in-toto Statement v1. */
export interface InTotoStatement {
  _type: typeof IN_TOTO_STATEMENT_TYPE;
  subject: StatementSubject[];
  predicateType: string;
  predicate: Record<string, unknown>;
}
