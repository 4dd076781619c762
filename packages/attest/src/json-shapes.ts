// Shape checks of JSON values shared by validation and parsing; internal to the package.

type Obj = Record<string, unknown>;

const HEX = /^[0-9a-f]+$/;
/** Digest lengths of the algorithms whose size we know. */
const HEX_LENGTHS = new Map<string, number[]>([
  ['sha1', [40]],
  ['sha224', [56]],
  ['sha256', [64]],
  ['sha384', [96]],
  ['sha512', [128]],
  ['gitCommit', [40, 64]],
]);
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for an RFC 3339 date-time string. */
export function isRfc3339(v: unknown): v is string {
  return typeof v === 'string' && RFC3339.test(v) && !Number.isNaN(Date.parse(v));
}

/** True for a string shaped like an absolute URI (`scheme:rest`). */
export function isUri(v: unknown): v is string {
  return typeof v === 'string' && URI.test(v);
}

/** Problems of a DigestSet: a non-empty object of lowercase hex strings (known algorithms at their length). */
export function digestSetProblems(v: unknown, path: string): string[] {
  if (!isObject(v)) return [`${path} must be an object of algorithm → hex digest`];
  const entries = Object.entries(v);
  if (entries.length === 0) return [`${path} must name at least one digest`];
  const problems: string[] = [];
  for (const [alg, hex] of entries) {
    const lengths = HEX_LENGTHS.get(alg);
    if (typeof hex !== 'string' || !HEX.test(hex)) {
      problems.push(`${path}.${alg} must be a lowercase hex string`);
    } else if (lengths && !lengths.includes(hex.length)) {
      problems.push(`${path}.${alg} must be ${lengths.join(' or ')} hex characters, got ${hex.length}`);
    }
  }
  return problems;
}
