import { QuorumError } from './errors.js';

/** Reads a boolean setting (`1`/`true`/`yes`, `0`/`false`/`no`); throws on anything else. */
export function boolSetting(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new QuorumError('invalid-input', `${name} must be a boolean (1/0, true/false), got "${raw}"`);
}

/** Reads an integer setting within bounds; throws with the setting's name on bad input. */
export function intSetting(name: string, raw: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new QuorumError('invalid-input', `${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

/** Reads a list setting: items separated by commas or whitespace; empty when unset. */
export function listSetting(raw: string | undefined): string[] {
  return (raw ?? '').split(/[\s,]+/).filter((x) => x !== '');
}

/** Reads a URL setting; throws with the setting's name on bad input. */
export function urlSetting(name: string, raw: string | undefined, fallback: string): string {
  const value = raw === undefined || raw === '' ? fallback : raw;
  try {
    return new URL(value).toString().replace(/\/+$/, '');
  } catch {
    throw new QuorumError('invalid-input', `${name} must be a URL, got "${value}"`);
  }
}

/** The settings key of an ecosystem's registry URL, e.g. `QUORUM_NPM_REGISTRY`. */
export function registrySettingName(ecosystem: string): string {
  return `QUORUM_${ecosystem.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_REGISTRY`;
}

/** Source URL schemes a farm fetches from; `file:` only when local repos are allowed. */
export function repoUrlProblem(repo: string, allowLocal: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return `repository "${repo}" is not a URL`;
  }
  if (url.protocol === 'file:') {
    return allowLocal ? undefined : `local repositories (file://) are refused by this farm (QUORUM_ALLOW_LOCAL_REPOS is off)`;
  }
  if (!['https:', 'http:', 'git:', 'ssh:'].includes(url.protocol)) return `repository scheme ${url.protocol} is not supported`;
  return undefined;
}

/** A git ref a submitter may name: no option injection, no oddities. */
export function refProblem(ref: string): string | undefined {
  if (!/^[A-Za-z0-9@][A-Za-z0-9._/@+-]{0,199}$/.test(ref) || ref === '@' || ref.includes('..')) return `ref "${ref}" is not a valid tag, branch or commit`;
  return undefined;
}
