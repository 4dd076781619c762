import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { QuorumError, SUBMITTER_NAME_PATTERN } from '@quorum/core';
import type { SqliteStore } from './sqlite-store.js';

/** Who an operator's admin token speaks for when it submits. */
export const OPERATOR_SUBMITTER = 'operator';

export { SUBMITTER_NAME_PATTERN };

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Authenticates submitters by bearer token: an operator-issued submit token (stored as its digest)
 * or the admin token. Only an authenticated submitter may override a release's source.
 */
export class SubmitterAuth {
  private readonly adminDigest: Buffer;
  private readonly seen = new WeakMap<FastifyRequest, { who?: string }>();

  constructor(
    private readonly store: SqliteStore,
    adminToken: string,
  ) {
    this.adminDigest = sha256(adminToken);
  }

  /** Issues a new submit token for `name` (shown once; only its digest is kept). */
  issue(name: string): string {
    if (!SUBMITTER_NAME_PATTERN.test(name) || name === OPERATOR_SUBMITTER) {
      throw new QuorumError('invalid-input', `submitter name must match ${SUBMITTER_NAME_PATTERN.source} and not be "${OPERATOR_SUBMITTER}"`);
    }
    const token = `qs_${randomBytes(24).toString('base64url')}`;
    if (!this.store.addSubmitter(name, sha256(token).toString('hex'))) throw new QuorumError('conflict', `submitter ${name} exists; revoke it first to issue a new token`);
    return token;
  }

  /**
   * The submitter a request authenticates as, or undefined for an anonymous request. A request
   * that carries a bearer token nobody issued is refused (401), never treated as anonymous.
   */
  identify(req: FastifyRequest): string | undefined {
    let known = this.seen.get(req);
    if (!known) {
      known = this.lookup(req.headers.authorization);
      this.seen.set(req, known);
    }
    if (known.who === '') throw new QuorumError('unauthorized', 'the bearer token is not a valid submit token (issued by `quorum admin submitter add`, or revoked)');
    return known.who;
  }

  /** `who` is undefined without a token and '' for a token nobody issued. */
  private lookup(header: string | undefined): { who?: string } {
    if (header === undefined) return {};
    const token = /^Bearer ([\x21-\x7e]{1,200})$/.exec(header)?.[1];
    if (!token) return { who: '' };
    const digest = sha256(token);
    if (timingSafeEqual(digest, this.adminDigest)) return { who: OPERATOR_SUBMITTER };
    return { who: this.store.submitterByToken(digest.toString('hex')) ?? '' };
  }

  /** Like identify, but never throws (for the rate limiter's allow list). */
  tryIdentify(req: FastifyRequest): string | undefined {
    try {
      return this.identify(req);
    } catch {
      return undefined;
    }
  }
}
