import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Most bytes of a crate's tar read while looking for its metadata files. @defaultValue 256 MiB */
export const MAX_CRATE_SCAN_BYTES = 256 * 1024 * 1024;
/** Largest metadata file kept. @defaultValue 1 MiB */
export const MAX_CRATE_FILE_BYTES = 1024 * 1024;

const BLOCK = 512;

function field(h: Buffer, at: number, len: number): string {
  const raw = h.subarray(at, at + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function octal(h: Buffer, at: number, len: number): number {
  // GNU base-256 sizes (high bit set) are only for files over 8 GiB: more than a crate may hold
  if ((h[at]! & 0x80) !== 0) return Number.POSITIVE_INFINITY;
  const s = field(h, at, len).trim();
  return s === '' ? 0 : /^[0-7]+$/.test(s) ? parseInt(s, 8) : Number.NaN;
}

/**
 * Reads the regular files named by `wanted` (paths inside the archive; a star for the first element
 * names a file directly in whatever top directory the crate has) from a crate (a gzipped tar),
 * stopping as soon as all are found; what is not there is absent. Reads at most
 * `MAX_CRATE_SCAN_BYTES` of the tar and keeps no file over `MAX_CRATE_FILE_BYTES`; a file that is
 * not a gzipped tar throws.
 */
export async function readCrateFiles(crate: Uint8Array, wanted: readonly string[], maxScan = MAX_CRATE_SCAN_BYTES): Promise<Record<string, Buffer>> {
  const found: Record<string, Buffer> = {};
  const want = new Set(wanted);
  const wantedAs = (name: string): string | undefined => {
    if (want.has(name)) return name;
    const parts = name.split('/');
    return parts.length === 2 && parts[0] !== '' && want.has(`*/${parts[1]}`) ? `*/${parts[1]}` : undefined;
  };
  const gunzip = createGunzip();
  const stream = Readable.from([Buffer.from(crate.buffer, crate.byteOffset, crate.byteLength)]).pipe(gunzip);
  let buf: Buffer = Buffer.alloc(0);
  let scanned = 0;
  // the entry being read: its name (kept only when wanted) and the bytes still to skip or read
  let current: { name: string | undefined; size: number; left: number; parts: Buffer[]; longName: boolean } | undefined;
  let longName: string | undefined;
  // a wanted name met twice is refused: readers disagree on which copy wins (one met after the scan
  // stopped is left to the artifact's analysis, which refuses copies that differ)
  const seen = new Set<string>();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      scanned += chunk.length;
      if (scanned > maxScan) throw new Error(`the crate's tar is larger than ${maxScan} bytes before its metadata files`);
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (current) {
          const padded = Math.ceil(current.size / BLOCK) * BLOCK;
          const take = Math.min(current.left, buf.length);
          const consumed = padded - current.left;
          const dataLeft = Math.max(0, Math.min(take, current.size - consumed));
          if ((current.name !== undefined || current.longName) && dataLeft > 0) current.parts.push(buf.subarray(0, dataLeft));
          buf = buf.subarray(take);
          current.left -= take;
          if (current.left > 0) break;
          const data = Buffer.concat(current.parts);
          if (current.longName) longName = field(data, 0, data.length);
          else if (current.name !== undefined) found[current.name] = data;
          current = undefined;
          if (Object.keys(found).length === want.size) return found;
          continue;
        }
        if (buf.length < BLOCK) break;
        const h = buf.subarray(0, BLOCK);
        buf = buf.subarray(BLOCK);
        if (h.every((b) => b === 0)) return found;
        const size = octal(h, 124, 12);
        if (!Number.isFinite(size) || size < 0) throw new Error('a tar header of the crate has no valid size');
        const type = String.fromCharCode(h[156]!);
        // cargo writes GNU headers (long names in 'L' entries); records that rename or resize an entry
        // for some readers and not others (pax, GNU long link names) make two readers see two crates
        if (type === 'x' || type === 'g' || type === 'K' || (type === 'L' && size > 4096))
          throw new Error(`the crate's tar has a ${type === 'L' ? 'long-name record over 4096 bytes' : `'${type}' record`}, which cargo does not write`);
        const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' && h[262] === 0 ? field(h, 345, 155) : '';
        const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
        if (type !== 'L') longName = undefined;
        const isLong = type === 'L';
        const key = wantedAs(name);
        if (key !== undefined && seen.has(key)) throw new Error(`the crate's tar holds ${name} twice`);
        if (key !== undefined) seen.add(key);
        const keep = (type === '0' || type === '\0') && key !== undefined && size <= MAX_CRATE_FILE_BYTES ? key : undefined;
        current = { name: keep, size, left: Math.ceil(size / BLOCK) * BLOCK, parts: [], longName: isLong };
        if (current.left === 0) {
          if (keep !== undefined) found[keep] = Buffer.alloc(0);
          current = undefined;
          if (Object.keys(found).length === want.size) return found;
        }
      }
    }
    return found;
  } finally {
    stream.destroy();
  }
}
