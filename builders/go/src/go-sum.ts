import { releasePurl, type LockedRelease, type LockfileReading } from '@quorum/core';
import { goPurlProblem } from './module-path.js';

/** The lockfile names a Go project has: its go.sum pins every module version the build may use. */
export const GO_LOCKFILES: readonly string[] = ['go.sum'];

/** The largest go.sum read (real ones are well under a megabyte; a module graph of thousands is a few MB). @defaultValue 16 MiB */
export const MAX_GO_SUM_CHARS = 16 * 1024 * 1024;

/** The purl of a module version, its path split as purls split names (the last element is the name). */
export function goPurl(path: string, version: string): string {
  const at = path.lastIndexOf('/');
  return releasePurl('golang', at === -1 ? undefined : path.slice(0, at), path.slice(at + 1), version);
}

/**
 * Every module version a go.sum pins by the h1: dirhash of its zip, as purls with that digest (hex,
 * the stabilized form's). A line pinning only a version's go.mod (`<path> <version>/go.mod h1:…`)
 * names no zip the build uses; it is left out. A go.sum has no entries from elsewhere (replacements
 * by a local directory are not in it). Pure.
 */
export function readGoSum(fileName: string, text: string): LockfileReading {
  if (fileName !== 'go.sum') return { ok: false, message: `${fileName} is not a go.sum` };
  if (text.length > MAX_GO_SUM_CHARS) return { ok: false, message: `go.sum is larger than ${MAX_GO_SUM_CHARS} characters` };
  const releases: LockedRelease[] = [];
  const seen = new Map<string, string>();
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    if (fields.length !== 3 || !fields[2]!.startsWith('h1:')) return { ok: false, message: `go.sum line ${i + 1} is not "<module> <version> h1:<hash>"` };
    const [path, version, hash] = fields as [string, string, string];
    if (version.endsWith('/go.mod')) continue;
    const digest = Buffer.from(hash.slice(3), 'base64');
    if (digest.length !== 32 || digest.toString('base64') !== hash.slice(3)) return { ok: false, message: `go.sum line ${i + 1}: ${hash.slice(0, 60)} is not an h1: hash` };
    const at = path.lastIndexOf('/');
    const problem = goPurlProblem({ namespace: at === -1 ? undefined : path.slice(0, at), name: path.slice(at + 1), version });
    if (problem) return { ok: false, message: `go.sum line ${i + 1}: ${problem}` };
    const purl = goPurl(path, version);
    const hex = digest.toString('hex');
    const before = seen.get(purl);
    // the go command accepts a zip matching any of a version's lines: two different ones cannot both be what was verified
    if (before !== undefined && before !== hex) return { ok: false, message: `go.sum line ${i + 1} pins ${path} ${version} by another h1: than an earlier line` };
    if (before !== undefined) continue;
    seen.set(purl, hex);
    releases.push({ purl, stabilizedSha256: hex, at: `go.sum:${i + 1}` });
  }
  return { ok: true, format: 'go.sum', releases, unverifiable: [] };
}
