import type { Static } from 'typebox';
import type { QuorumPolicySchema } from './api-schemas.js';
/** The quorum policy: exact integer M-of-N over distinct builders. */
export type QuorumPolicy = Static<typeof QuorumPolicySchema>;

/** @defaultValue 3 builders, quorum 2, distinct operators */
export const DEFAULT_POLICY: Readonly<QuorumPolicy> = Object.freeze({ builders: 3, quorum: 2, distinctOperators: true });

/** Validates a policy; returns a message when it is unusable. */
export function policyProblem(p: QuorumPolicy): string | undefined {
  if (!Number.isInteger(p.builders) || p.builders < 1) return 'builders (N) must be an integer ≥ 1';
  if (!Number.isInteger(p.quorum) || p.quorum < 1) return 'quorum (M) must be an integer ≥ 1';
  if (p.quorum > p.builders) return `quorum M=${p.quorum} cannot exceed builders N=${p.builders}`;
  return undefined;
}
