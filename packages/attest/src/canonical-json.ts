import { createHash } from 'node:crypto';
import { AttestError } from './errors.js';

/**
 * Serializes `value` as canonical JSON: object keys sorted (by UTF-16 code units) at every depth,
 * no whitespace, `undefined` members dropped, like RFC 8785 for the values we produce.
 * Throws AttestError('invalid-input') for values JSON cannot represent exactly (NaN, Infinity, bigint, cycles).
 */
export function canonicalJson(value: unknown): string {
  const out = write(value, new Set());
  if (out === undefined) throw new AttestError('invalid-input', `cannot encode ${typeof value} as JSON`);
  return out;
}

/** Hex sha256 of `canonicalJson(value)`: the digest of a bundle in `inputAttestations` and of the policy. */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}

function write(value: unknown, parents: Set<object>): string | undefined {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new AttestError('invalid-input', `cannot encode the number ${v} as JSON`);
      return JSON.stringify(v);
    case 'bigint':
      throw new AttestError('invalid-input', 'cannot encode a bigint as JSON');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (v === null) return 'null';
  const o = v as object;
  if (parents.has(o)) throw new AttestError('invalid-input', 'cannot encode a cyclic structure as JSON');
  parents.add(o);
  try {
    if (Array.isArray(o)) return `[${o.map((item) => write(item, parents) ?? 'null').join(',')}]`;
    const members: string[] = [];
    for (const key of Object.keys(o).sort()) {
      const member = write((o as Record<string, unknown>)[key], parents);
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    parents.delete(o);
  }
}
