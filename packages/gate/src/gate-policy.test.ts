import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '@quorum/core';
import { decide, parsePolicy, parseRule, newToFarm, policyFor, withCooldown } from './gate-policy.js';

const entry = (over: Partial<AuditEntry>): AuditEntry => ({
  purl: 'pkg:npm/left-pad@1.3.0',
  status: 'unknown',
  verdict: null,
  integrity: 'unchecked',
  releaseId: null,
  pending: false,
  ...over,
});
const verified = entry({ status: 'reproducible', verdict: 'reproducible', integrity: 'match', releaseId: 'r1' });
const equivalent = entry({ status: 'equivalent', verdict: 'equivalent', integrity: 'match', releaseId: 'r1' });
const mismatch = entry({ status: 'mismatch', verdict: 'mismatch', integrity: 'match', releaseId: 'r1', risk: { level: 'high', text: 'install script added' } });
const otherArtifact = entry({ status: 'mismatch', verdict: 'reproducible', integrity: 'differs', releaseId: 'r1' });
const unknown = entry({});
const pending = entry({ pending: true, releaseId: 'r1' });
const failed = entry({ status: 'failed', verdict: 'failed', integrity: 'match', releaseId: 'r1' });
const unchecked = entry({ status: 'reproducible', verdict: 'reproducible', integrity: 'unchecked', releaseId: 'r1' });

describe('decide', () => {
  it('serves a verified artifact under every policy', () => {
    for (const p of ['block-mismatch', 'require-verified', 'warn'] as const) {
      expect(decide(p, verified, false)).toEqual({ action: 'serve' });
      expect(decide(p, equivalent, false)).toEqual({ action: 'serve' });
    }
  });

  it('refuses a mismatch, naming the risk, unless the policy only warns', () => {
    const refused = decide('block-mismatch', mismatch, false);
    expect(refused.action).toBe('refuse');
    expect(refused.action === 'refuse' && refused.why).toMatch(/disagree.*risk high: install script added/);
    expect(decide('require-verified', mismatch, false).action).toBe('refuse');
    const warned = decide('warn', mismatch, false);
    expect(warned).toMatchObject({ action: 'serve', warning: expect.stringMatching(/mismatch/) });
  });

  it('refuses an artifact that is not the one the farm verified, even when that one was reproducible', () => {
    const d = decide('block-mismatch', otherArtifact, false);
    expect(d.action).toBe('refuse');
    expect(d.action === 'refuse' && d.why).toMatch(/another artifact/);
  });

  it('block-mismatch serves what is not known to be bad', () => {
    for (const e of [unknown, pending, failed, unchecked]) expect(decide('block-mismatch', e, false)).toEqual({ action: 'serve' });
  });

  it('require-verified waits for an undecided artifact, then refuses it', () => {
    expect(decide('require-verified', unknown, false)).toEqual({ action: 'wait' });
    expect(decide('require-verified', pending, false)).toEqual({ action: 'wait' });
    const after = decide('require-verified', pending, true);
    expect(after.action === 'refuse' && after.why).toMatch(/not verified: verification pending/);
  });

  it('require-verified refuses a decided verdict that is not a pass, and a pass it cannot tie to these bytes, without waiting', () => {
    const f = decide('require-verified', failed, false);
    expect(f.action === 'refuse' && f.why).toMatch(/verdict failed/);
    const u = decide('require-verified', unchecked, false);
    expect(u.action === 'refuse' && u.why).toMatch(/cannot show it is about this artifact/);
  });

  it('warn serves everything, saying what is wrong', () => {
    expect(decide('warn', unknown, false)).toEqual({ action: 'serve', warning: 'not verified: never verified' });
    expect(decide('warn', failed, false)).toMatchObject({ action: 'serve', warning: expect.stringMatching(/failed/) });
  });
});

describe('policies', () => {
  const policies = {
    default: 'block-mismatch' as const,
    rules: [parseRule('@corp/*=require-verified'), parseRule('left-pad=warn'), parseRule('@corp/legacy=warn')],
  };

  it('chooses by the first rule naming the package, else the default', () => {
    expect(policyFor(policies, 'left-pad')).toBe('warn');
    expect(policyFor(policies, '@corp/api')).toBe('require-verified');
    // the scope rule comes first, so it wins over the later exact one
    expect(policyFor(policies, '@corp/legacy')).toBe('require-verified');
    expect(policyFor(policies, 'left-pad-extra')).toBe('block-mismatch');
    expect(policyFor(policies, '@other/left-pad')).toBe('block-mismatch');
    expect(policyFor({ default: 'warn', rules: [parseRule('*=require-verified')] }, 'x')).toBe('require-verified');
  });

  it('refuses malformed rules and unknown policies with a message naming them', () => {
    expect(() => parseRule('left-pad')).toThrow(/not <pattern>=<policy>/);
    expect(() => parseRule('=warn')).toThrow(/not <pattern>=<policy>/);
    expect(() => parseRule('@corp/a*b=warn')).toThrow(/not <pattern>=<policy>/);
    expect(() => parseRule('left pad=warn')).toThrow(/not <pattern>=<policy>/);
    expect(() => parseRule('left-pad=allow-all')).toThrow(/"allow-all" is not a gate policy: block-mismatch, require-verified, warn/);
    expect(() => parsePolicy('')).toThrow(/is not a gate policy/);
  });
});

describe('withCooldown', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  const hours = (h: number) => h * 3_600_000;

  it('requires a verdict for a version younger than the cooldown, whatever the policy', () => {
    const young = new Date(now - hours(2));
    for (const p of ['block-mismatch', 'warn', 'require-verified'] as const) expect(withCooldown(p, young, hours(24), now)).toEqual({ policy: 'require-verified', young: true });
  });

  it('leaves an older version to its policy, and everything when there is no cooldown', () => {
    expect(withCooldown('warn', new Date(now - hours(25)), hours(24), now)).toEqual({ policy: 'warn', young: false });
    expect(withCooldown('warn', undefined, 0, now)).toEqual({ policy: 'warn', young: false });
  });

  it('counts a version as young when the registry gives no publish time, or one in the future', () => {
    expect(withCooldown('block-mismatch', undefined, hours(1), now).young).toBe(true);
    expect(withCooldown('block-mismatch', new Date(now + hours(1000)), hours(1), now).young).toBe(true);
  });
});

describe('newToFarm', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  const hours = (h: number) => h * 3_600_000;

  it('counts a version the farm never had, or first had within the cooldown, as new whatever the registry dates it', () => {
    expect(newToFarm(undefined, hours(24), now)).toBe(true);
    expect(newToFarm(now - hours(2), hours(24), now)).toBe(true);
    expect(newToFarm(now - hours(25), hours(24), now)).toBe(false);
  });

  it('counts nothing as new without a cooldown', () => {
    expect(newToFarm(undefined, 0, now)).toBe(false);
  });
});
