import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { list } from 'tar';

/** Fact: the published package.json ends its lines in CRLF (`crlf`), as a publisher on Windows may write it. */
export const PUBLISHED_MANIFEST_EOL = 'publishedManifestEol';

/** Fact: the published package.json says `"type": "module"` (`module`), as dual-publish writes it. */
export const PUBLISHED_MODULE_TYPE = 'publishedModuleType';

/** A package.json larger than this is not read (real ones are a few KiB). */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Entry points looked at in one manifest, at most (a hostile `exports` map can be huge). */
const MAX_ENTRY_POINTS = 1000;

/** A tarball's regular files below its top directory (npm names it `package/`) with their sha256, and that directory's package.json. */
interface TarballView {
  files: Map<string, string>;
  manifest?: Buffer;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Reads one npm tarball the worker already found safe: the top package.json when small, and with
 * `digests` every file's sha256 (else `files` stays empty).
 */
async function view(file: string, digests: boolean): Promise<TarballView> {
  const out: TarballView = { files: new Map() };
  await list({
    file,
    onReadEntry: (entry) => {
      const path = posix.normalize(entry.path);
      const slash = path.indexOf('/');
      const inner = slash === -1 ? '' : path.slice(slash + 1);
      if (!FILE_TYPES.has(entry.type) || inner === '') {
        entry.resume();
        return;
      }
      const hash = digests ? createHash('sha256') : undefined;
      const keep = inner === 'package.json' && out.manifest === undefined && entry.size <= MAX_MANIFEST_BYTES ? ([] as Buffer[]) : undefined;
      if (!hash && !keep) {
        entry.resume();
        return;
      }
      entry.on('data', (c: Buffer) => {
        hash?.update(c);
        keep?.push(c);
      });
      entry.on('end', () => {
        if (hash) out.files.set(inner, hash.digest('hex'));
        if (keep) out.manifest = Buffer.concat(keep);
      });
    },
  });
  return out;
}

function parsed(manifest: Buffer | undefined): unknown {
  if (manifest === undefined) return undefined;
  try {
    return JSON.parse(manifest.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * What the published tarball itself shows about how it was made, for `decideInputs`: how its
 * package.json ends its lines, and whether it says `"type": "module"`. Read after the worker checked the tarball's integrity and found it
 * safe; the top directory's `package.json` (npm names it `package/`, old tarballs otherwise).
 */
export async function npmPublishedFacts(file: string): Promise<Record<string, string>> {
  const { manifest } = await view(file, false);
  const facts: Record<string, string> = {};
  if (manifest === undefined) return facts;
  if (manifest.includes('\r\n')) facts[PUBLISHED_MANIFEST_EOL] = 'crlf';
  const m = parsed(manifest);
  if (m && typeof m === 'object' && (m as { type?: unknown }).type === 'module') facts[PUBLISHED_MODULE_TYPE] = 'module';
  return facts;
}

/** The files a package.json names as what the package is: main, module, browser, types, bin, exports targets. */
export function declaredEntryPoints(manifest: unknown): string[] {
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) return [];
  const m = manifest as Record<string, unknown>;
  const out: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && out.length < MAX_ENTRY_POINTS) out.push(v);
  };
  for (const key of ['main', 'module', 'browser', 'types', 'typings']) add(m[key]);
  if (m.bin && typeof m.bin === 'object') for (const v of Object.values(m.bin as Record<string, unknown>)) add(v);
  else add(m.bin);
  const walk = (v: unknown, depth: number) => {
    if (typeof v === 'string') return add(v);
    if (!v || typeof v !== 'object' || depth > 8 || out.length >= MAX_ENTRY_POINTS) return;
    for (const x of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) walk(x, depth + 1);
  };
  walk(m.exports, 0);
  // patterns (`./*`) and anything that leaves the package name no one file
  return [...new Set(out.map((p) => posix.normalize(p).replace(/^\.\//, '')).filter((p) => p !== '' && p !== '.' && !p.includes('*') && !p.startsWith('../') && !p.startsWith('/')))];
}

/** The same JSON value, whatever the whitespace and the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return false;
  const canonical = (v: unknown, depth: number): unknown => {
    if (depth > 64) throw new Error('too deep');
    if (Array.isArray(v)) return v.map((x) => canonical(x, depth + 1));
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k], depth + 1)]),
      );
    return v;
  };
  try {
    return JSON.stringify(canonical(a, 0)) === JSON.stringify(canonical(b, 0));
  } catch {
    return false;
  }
}

/** How Node finds a file a manifest names without its extension: as written, `.js`, `.json`, `/index.js`. */
function present(files: Map<string, string>, path: string): string | undefined {
  return [path, `${path}.js`, `${path}.json`, `${path}.cjs`, `${path}.mjs`, `${path}/index.js`].find((p) => files.has(p));
}

/**
 * The entry points the rebuilt package lacks that its package.json names and the published tarball
 * has (as the published tarball names them), when the difference is only that: the publisher's
 * build made a directory this one did not, e.g. a monorepo package that the workspace root's
 * release script builds. Anything else leaves the difference to the comparison (an empty list):
 * - the two package.json files declare other entry points;
 * - a file of the rebuilt package is missing from the published one or differs in it (package.json
 *   included, unless only its JSON formatting differs: an added install script is never passed over);
 * - a missing entry point lies at the top of the package, or in a directory the rebuilt package has
 *   files in (a file an attacker adds beside what the build makes is compared, never excused).
 */
export async function npmMissingOutputs(rebuiltFile: string, publishedFile: string): Promise<string[]> {
  const [rebuilt, published] = await Promise.all([view(rebuiltFile, true), view(publishedFile, true)]);
  const declared = declaredEntryPoints(parsed(rebuilt.manifest));
  const declaredThere = declaredEntryPoints(parsed(published.manifest));
  if (declared.length === 0 || declared.length !== declaredThere.length || declared.some((p) => !declaredThere.includes(p))) return [];
  for (const [path, digest] of rebuilt.files) {
    if (published.files.get(path) === digest) continue;
    // a release script that rewrote package.json as JSON (no final newline, other indentation) wrote the same manifest
    if (path === 'package.json' && sameJson(parsed(rebuilt.manifest), parsed(published.manifest))) continue;
    return [];
  }
  const builtDirs = new Set([...rebuilt.files.keys()].filter((p) => p.includes('/')).map((p) => p.slice(0, p.indexOf('/'))));
  const missing: string[] = [];
  for (const path of declared) {
    if (present(rebuilt.files, path) !== undefined) continue;
    const there = present(published.files, path);
    if (there === undefined) continue;
    const slash = there.indexOf('/');
    if (slash === -1 || builtDirs.has(there.slice(0, slash))) return [];
    missing.push(there);
  }
  return missing;
}
