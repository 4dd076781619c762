import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { egressRefused, unreachable } from './egress-errors.js';
import { egressProblem, type EgressPolicy } from './egress-policy.js';

/** An address that passed the egress policy, to connect to instead of the name. */
export interface VettedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves a host name (or takes an IP literal) and returns the first address the policy allows,
 * IPv4 first. Refused when the name has addresses but none is allowed (`egress-refused`);
 * unreachable when it has none (`upstream-unavailable`, the uniform message).
 */
export async function resolveEgress(policy: EgressPolicy, hostname: string, port: number): Promise<VettedAddress> {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const literal = isIP(bare);
  let answers: { address: string; family: number }[];
  if (literal !== 0) {
    answers = [{ address: bare, family: literal }];
  } else {
    try {
      answers = await lookup(bare, { all: true });
    } catch (e) {
      throw unreachable(hostname, e);
    }
    if (answers.length === 0) throw unreachable(hostname, new Error('no address'));
    answers = [...answers].sort((a, b) => a.family - b.family);
  }
  const problems: string[] = [];
  for (const answer of answers) {
    const problem = egressProblem(policy, { hostname: bare, address: answer.address, port });
    if (problem === undefined) return { address: answer.address, family: answer.family === 6 ? 6 : 4 };
    problems.push(problem);
  }
  throw egressRefused(hostname, problems.join('; '));
}
