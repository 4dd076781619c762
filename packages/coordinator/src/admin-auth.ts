import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The admin token, checked in constant time: as a bearer token (the API) or as the password of HTTP
 * Basic authentication (the operator pages, which a browser opens without a script). Forms on those
 * pages carry a token derived from the admin token, which a page of another site cannot read, so a
 * browser that remembers the password cannot be made to post one for somebody else.
 */
export class AdminAuth {
  readonly #expected: Buffer;
  readonly #formToken: string;

  constructor(adminToken: string) {
    this.#expected = digest(adminToken);
    this.#formToken = createHmac('sha256', adminToken).update('quorum-operator-form-v1').digest('base64url');
  }

  #matches(given: string | undefined): boolean {
    return given !== undefined && given !== '' && timingSafeEqual(digest(given), this.#expected);
  }

  bearer(req: FastifyRequest): boolean {
    return this.#matches(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]);
  }

  /** Basic authentication: any user name, the admin token as the password. */
  basic(req: FastifyRequest): boolean {
    const encoded = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!encoded) return false;
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && this.#matches(decoded.slice(colon + 1));
  }

  get formToken(): string {
    return this.#formToken;
  }

  formTokenMatches(given: unknown): boolean {
    return typeof given === 'string' && given.length === this.#formToken.length && timingSafeEqual(Buffer.from(given), Buffer.from(this.#formToken));
  }
}
