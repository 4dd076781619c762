import { createHash } from 'node:crypto';
import { QuorumError } from '@quorum/core';

/** Kinds of entries a stabilized manifest can hold; anything else is refused as unsafe. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink';

/** One entry of the stabilized form: what an extractor would create, without times, owners or encoding. */
export interface ManifestEntry {
  /** normalized path: no leading `./`, no empty or `.` segments, no trailing slash; `.` for the root */
  path: string;
  type: EntryType;
  /** normalized mode: files and hard links 0o644 (0o755 when any execute bit was set), directories 0o755, symlinks 0o777 */
  mode: number;
  /** content bytes (0 for directories and links) */
  size: number;
  /** sha256 of the content bytes, hex (of the empty string for directories and links) */
  sha256: string;
  /** symlink: the target as stored; hard link: the normalized path it links to; otherwise null */
  target: string | null;
}

/**
 * First line of the serialized manifest. The format below is frozen: a change needs a new version
 * line, since stabilized digests are stored and compared across time and machines.
 *
 * Serialization (UTF-8, every line ends with "\n", including the last):
 *   quorum-tgz-manifest v1
 *   {"path":"package/index.js","type":"file","mode":"0644","size":12,"sha256":"<64 hex>","target":null}
 *   ...
 * - one line per entry, sorted by the UTF-8 bytes of `path` (paths are unique)
 * - each line is `JSON.stringify` of an object with exactly these keys in this order:
 *   path (string), type ("file" | "directory" | "symlink" | "hardlink"), mode (4 octal digits as a
 *   string), size (integer), sha256 (64 lowercase hex), target (string or null)
 * - an archive without entries serializes to the version line alone
 * `stabilizedSha256` is the sha256 of exactly these bytes.
 */
export const MANIFEST_VERSION_LINE = 'quorum-tgz-manifest v1';

/** Byte order of UTF-8 strings (JavaScript's `<` compares UTF-16 units, which differs above U+FFFF). */
export function compareUtf8(a: string, b: string): number {
  // fast path without encoding: UTF-8 preserves code point order, so at the first differing unit two
  // BMP characters below the surrogates decide; surrogates (and a shorter string ending in a high
  // surrogate, which encodes differently alone) take the exact path
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i < n) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
  } else {
    const last = i > 0 ? a.charCodeAt(i - 1) : 0;
    if (last < 0xd800 || last > 0xdbff) return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The normalized mode of an entry, from its type and the mode stored in the archive. */
export function normalizeMode(type: EntryType, storedMode: number): number {
  switch (type) {
    case 'directory':
      return 0o755;
    case 'symlink':
      return 0o777;
    default:
      return storedMode & 0o111 ? 0o755 : 0o644;
  }
}

/** One manifest line, without its newline. */
export function manifestLine(e: ManifestEntry): string {
  return JSON.stringify({
    path: e.path,
    type: e.type,
    mode: e.mode.toString(8).padStart(4, '0'),
    size: e.size,
    sha256: e.sha256,
    target: e.target,
  });
}

/** Sorts entries into manifest order (UTF-8 byte order of path). */
export function sortManifest(entries: readonly ManifestEntry[]): ManifestEntry[] {
  return [...entries].sort((a, b) => compareUtf8(a.path, b.path));
}

/** The canonical serialization of a manifest (see MANIFEST_VERSION_LINE). */
export function serializeManifest(entries: readonly ManifestEntry[]): string {
  return [MANIFEST_VERSION_LINE, ...sortManifest(entries).map(manifestLine)].map((l) => `${l}\n`).join('');
}

/** sha256 (hex) of the canonical serialization: the stabilized digest of an archive. */
export function manifestSha256(entries: readonly ManifestEntry[]): string {
  const h = createHash('sha256');
  h.update(`${MANIFEST_VERSION_LINE}\n`);
  for (const e of sortManifest(entries)) h.update(`${manifestLine(e)}\n`);
  return h.digest('hex');
}

/** How an entry is named in messages: quoted, control characters escaped, long names shortened. */
export function describeName(name: string): string {
  const shown = name.length > 200 ? `${name.slice(0, 200)}…` : name;
  return JSON.stringify(shown);
}

function unsafe(message: string): QuorumError {
  return new QuorumError('unsafe-archive', message);
}

const WINDOWS_DRIVE = /^[A-Za-z]:/;

/**
 * Normalizes an archive path and refuses the ones an extractor could be tricked with: absolute
 * paths (also `C:` and `\`), `..` segments (with `\` counted as a separator too, as Windows
 * extractors do), NUL bytes.
 * @param what how the path is named in the error, e.g. `entry "x"` or `hard link "x" target`
 */
export function normalizeArchivePath(raw: string, what: string): string {
  if (raw.includes('\0')) throw unsafe(`${what} contains a NUL byte`);
  if (raw.startsWith('/') || raw.startsWith('\\') || WINDOWS_DRIVE.test(raw)) throw unsafe(`${what} is an absolute path`);
  if (raw.split(/[\\/]/).includes('..')) throw unsafe(`${what} contains a ".." segment`);
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  return segments.length === 0 ? '.' : segments.join('/');
}

/** True when a symlink at `linkPath` pointing to `target` resolves outside the archive root. */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  if (target.startsWith('/') || target.startsWith('\\') || WINDOWS_DRIVE.test(target)) return true;
  const stack = linkPath === '.' ? [] : linkPath.split('/').slice(0, -1);
  for (const seg of target.split(/[\\/]/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0) return true;
      stack.pop();
    } else stack.push(seg);
  }
  return false;
}

/**
 * Checks what only the whole manifest can tell: no entry (and no hard-link target) lives below a
 * symlink of the archive, since extracting it would write through the link.
 */
export function checkNoPathThroughSymlink(entries: readonly ManifestEntry[]): void {
  const links = new Set(entries.filter((e) => e.type === 'symlink').map((e) => e.path));
  if (links.size === 0) return;
  const below = (path: string): string | undefined => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      if (links.has(ancestor)) return ancestor;
    }
    return undefined;
  };
  for (const e of entries) {
    const via = below(e.path);
    if (via !== undefined) throw unsafe(`entry ${describeName(e.path)} lies below the symlink ${describeName(via)} (extracting it would write through the link)`);
    if (e.type === 'hardlink' && e.target !== null) {
      const t = below(e.target);
      if (t !== undefined) throw unsafe(`hard link ${describeName(e.path)} targets ${describeName(e.target)} below the symlink ${describeName(t)}`);
    }
  }
}
