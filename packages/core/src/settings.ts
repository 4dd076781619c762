import { readFileSync } from 'node:fs';
import { QuorumError } from './errors.js';

/**
 * Merges the optional JSON config file named by `QUORUM_CONFIG` (an object of `QUORUM_*` keys)
 * with the `QUORUM_*` environment variables; the environment wins.
 */
export function quorumSettings(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const fromFile: Record<string, string> = {};
  const file = env.QUORUM_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new QuorumError('invalid-input', `cannot read config file ${file}: ${(e as Error).message}`, { cause: e });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new QuorumError('invalid-input', `config file ${file} must hold a JSON object of QUORUM_* settings`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (!k.startsWith('QUORUM_')) throw new QuorumError('invalid-input', `config file ${file}: unknown key "${k}" (keys are QUORUM_* settings)`);
      fromFile[k] = String(v);
    }
  }
  const fromEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('QUORUM_')));
  return { ...fromFile, ...fromEnv };
}
