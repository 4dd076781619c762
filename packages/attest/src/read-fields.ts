import { AttestError } from './errors.js';
import { isObject } from './json-shapes.js';

type Obj = Record<string, unknown>;

/** Throws AttestError('invalid-statement') with `message`. */
export function invalid(message: string): never {
  throw new AttestError('invalid-statement', message);
}

/** The object at `o[key]`, or an invalid-statement error naming `path`. */
export function objectAt(o: Obj, key: string, path: string): Obj {
  const v = o[key];
  if (!isObject(v)) invalid(`${path}.${key} is required (object)`);
  return v;
}

/** The non-empty string at `o[key]`, or an invalid-statement error naming `path`. */
export function stringAt(o: Obj, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') invalid(`${path}.${key} is required (non-empty string)`);
  return v;
}

/** The string at `o[key]` when present; an invalid-statement error when present with another type. */
export function optionalStringAt(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') invalid(`${path}.${key} must be a string`);
  return v;
}

/** The array of strings at `o[key]`, or an invalid-statement error naming `path`. */
export function stringsAt(o: Obj, key: string, path: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) invalid(`${path}.${key} is required (array of strings)`);
  return v as string[];
}

/** A copy of `o` without its undefined members, so built statements carry no empty keys. */
export function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
