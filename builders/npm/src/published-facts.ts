import { posix } from 'node:path';
import { list } from 'tar';

/** Fact: the published package.json ends its lines in CRLF (`crlf`), as a publisher on Windows may write it. */
export const PUBLISHED_MANIFEST_EOL = 'publishedManifestEol';

/** A package.json larger than this is not read (real ones are a few KiB). */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Entry points looked at in one manifest, at most (a hostile `exports` map can be huge). */
const MAX_ENTRY_POINTS = 1000;

/** A tarball's regular files below its top directory (npm names it `package/`), and that directory's package.json. */
interface TarballView {
  files: Set<string>;
  manifest?: Buffer;
}

/** Reads one npm tarball the worker already found safe: file names, and the top package.json when small. */
async function view(file: string): Promise<TarballView> {
  const out: TarballView = { files: new Set() };
  let reading = false;
  await list({
    file,
    onReadEntry: (entry) => {
      const path = posix.normalize(entry.path);
      const slash = path.indexOf('/');
      const inner = slash === -1 ? '' : path.slice(slash + 1);
      if (entry.type === 'File' && inner !== '') out.files.add(inner);
      if (reading || out.manifest !== undefined || entry.type !== 'File' || inner !== 'package.json' || entry.size > MAX_MANIFEST_BYTES) {
        entry.resume();
        return;
      }
      reading = true;
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        out.manifest = Buffer.concat(chunks);
      });
    },
  });
  return out;
}

/**
 * What the published tarball itself shows about how it was made, for `decideInputs`: only how its
 * package.json ends its lines. Read after the worker checked the tarball's integrity and found it
 * safe; the top directory's `package.json` (npm names it `package/`, old tarballs otherwise).
 */
export async function npmPublishedFacts(file: string): Promise<Record<string, string>> {
  const { manifest } = await view(file);
  return manifest !== undefined && manifest.includes('\r\n') ? { [PUBLISHED_MANIFEST_EOL]: 'crlf' } : {};
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

/** How Node finds a file a manifest names without its extension: as written, `.js`, `.json`, `/index.js`. */
function present(files: Set<string>, path: string): string | undefined {
  return [path, `${path}.js`, `${path}.json`, `${path}.cjs`, `${path}.mjs`, `${path}/index.js`].find((p) => files.has(p));
}

/**
 * The entry points the rebuilt package lacks that its own package.json names and the published
 * tarball has (as the published tarball names them): the publisher's build made them and this one
 * did not, e.g. a monorepo package built by the workspace root's release script.
 */
export async function npmMissingOutputs(rebuiltFile: string, publishedFile: string): Promise<string[]> {
  const [rebuilt, published] = await Promise.all([view(rebuiltFile), view(publishedFile)]);
  if (rebuilt.manifest === undefined) return [];
  let manifest: unknown;
  try {
    manifest = JSON.parse(rebuilt.manifest.toString('utf8'));
  } catch {
    return [];
  }
  const missing: string[] = [];
  for (const path of declaredEntryPoints(manifest)) {
    if (present(rebuilt.files, path) !== undefined) continue;
    const there = present(published.files, path);
    if (there !== undefined) missing.push(there);
  }
  return missing;
}
