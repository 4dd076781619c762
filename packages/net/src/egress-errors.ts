import { isIP } from 'node:net';
import { QuorumError } from '@quorum/core';

/** The label of a host in messages: as in a URL, IPv6 literals in brackets, never a port or a resolved address. */
export function hostLabel(hostname: string): string {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 6 ? `[${bare}]` : bare.toLowerCase();
}

/** The one `egress-refused` error; the policy's reason stays in `cause`, for logs only. */
export function egressRefused(hostname: string, reason: string): QuorumError {
  return new QuorumError('egress-refused', `${hostLabel(hostname)} is refused by this farm's egress policy (loopback, private, link-local and metadata addresses are not fetched)`, {
    cause: new Error(reason),
  });
}

/**
 * The one transport error. Refused, reset, timed out, unresolvable and untrusted all read the same,
 * so that a hostile URL cannot use the farm to tell open ports from closed ones.
 */
export function unreachable(hostname: string, cause: unknown): QuorumError {
  return new QuorumError('upstream-unavailable', `cannot reach ${hostLabel(hostname)}`, { cause });
}
