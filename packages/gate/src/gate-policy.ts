import { QuorumError, type AuditEntry } from '@quorum/core';

/** What the gate does with a tarball, by what the farm says of it. */
export const GATE_POLICIES = ['block-mismatch', 'require-verified', 'warn'] as const;
export type GatePolicyName = (typeof GATE_POLICIES)[number];

/** A policy for the packages a pattern names (`name`, `@scope/name`, `@scope/*`, `*`). */
export interface GateRule {
  pattern: string;
  policy: GatePolicyName;
}

/** The gate's policies: the first rule whose pattern names the package wins, else the default. */
export interface GatePolicies {
  default: GatePolicyName;
  rules: readonly GateRule[];
}

/** What to do with one tarball. */
export type GateDecision =
  /** hand it over; `warning` when the policy lets through what another policy would refuse */
  | { action: 'serve'; warning?: string }
  /** the farm has not decided yet: submit it and ask again until the wait is over */
  | { action: 'wait' }
  /** refuse it, saying why */
  | { action: 'refuse'; why: string };

const PATTERN = /^(?:\*|(?:@[^\s/*]{1,214}\/)?(?:\*|[^\s/*]{1,214}))$/;

/** Parses `--policy-for <pattern>=<policy>`; a usage error names what is wrong. */
export function parseRule(text: string): GateRule {
  const at = text.lastIndexOf('=');
  const pattern = text.slice(0, at).trim();
  const policy = text.slice(at + 1).trim();
  if (at <= 0 || !PATTERN.test(pattern)) {
    throw new QuorumError('invalid-input', `"${text.slice(0, 100)}" is not <pattern>=<policy>, with a pattern such as left-pad, @scope/name, @scope/* or *`);
  }
  return { pattern, policy: parsePolicy(policy) };
}

export function parsePolicy(text: string): GatePolicyName {
  if (!(GATE_POLICIES as readonly string[]).includes(text)) throw new QuorumError('invalid-input', `"${text.slice(0, 60)}" is not a gate policy: ${GATE_POLICIES.join(', ')}`);
  return text as GatePolicyName;
}

/** The policy for a package, named as its registry names it (`@scope/name` or `name`). */
export function policyFor(policies: GatePolicies, packageName: string): GatePolicyName {
  const scope = packageName.includes('/') ? packageName.slice(0, packageName.indexOf('/')) : undefined;
  for (const rule of policies.rules) {
    if (rule.pattern === '*' || rule.pattern === packageName || (scope !== undefined && rule.pattern === `${scope}/*`)) return rule.policy;
  }
  return policies.default;
}

/**
 * The policy for one version under a cooldown of `cooldownMs` (0: none): a version published less
 * than that long ago passes only when verified, whatever the package's policy. One whose publish time
 * the registry does not give, or gives in the future, counts as young. Pure.
 */
export function withCooldown(policy: GatePolicyName, published: Date | undefined, cooldownMs: number, now: number): { policy: GatePolicyName; young: boolean } {
  if (cooldownMs <= 0) return { policy, young: false };
  const age = published === undefined ? -1 : now - published.getTime();
  const young = age < 0 || age < cooldownMs;
  return { policy: young ? 'require-verified' : policy, young };
}

/**
 * Whether a version is new to the farm within a cooldown of `cooldownMs`: the registry's publish time
 * is its own word (a compromised registry backdates it), so a version the farm first had less than
 * that long ago, or never had (`firstSeen` undefined), is young too. Pure.
 */
export function newToFarm(firstSeen: number | undefined, cooldownMs: number, now: number): boolean {
  return cooldownMs > 0 && (firstSeen === undefined || now - firstSeen < cooldownMs);
}

/** The verdict in a few words, as a refusal or warning says it. */
function described(entry: AuditEntry): string {
  if (entry.status === 'mismatch') {
    const why =
      entry.integrity === 'differs'
        ? `the farm verified another artifact under this version (${entry.verdict}): this one is not it`
        : 'its independent rebuilds disagree with the published tarball (mismatch)';
    return entry.risk ? `${why}; risk ${entry.risk.level}: ${entry.risk.text}` : why;
  }
  if (entry.status === 'unknown') return entry.pending ? 'verification pending' : 'never verified';
  if (entry.integrity !== 'match') return `verdict ${entry.status}, but the farm cannot show it is about this artifact (${entry.integrity})`;
  return `verdict ${entry.status}`;
}

/**
 * Decides from the farm's audit of the exact bytes about to be served (their sha512 asked as the
 * integrity), so a verdict about any other artifact under the same version can never let it through.
 * `waited` is true once the wait for a pending verdict is over. Pure.
 */
export function decide(policy: GatePolicyName, entry: AuditEntry, waited: boolean): GateDecision {
  const verified = (entry.status === 'reproducible' || entry.status === 'equivalent') && entry.integrity === 'match';
  if (verified) return { action: 'serve' };
  if (entry.status === 'mismatch') return policy === 'warn' ? { action: 'serve', warning: described(entry) } : { action: 'refuse', why: described(entry) };
  if (policy === 'block-mismatch') return { action: 'serve' };
  if (policy === 'warn') return { action: 'serve', warning: `not verified: ${described(entry)}` };
  if (entry.status === 'unknown' && !waited) return { action: 'wait' };
  return { action: 'refuse', why: `not verified: ${described(entry)}` };
}
