import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { QuorumError, type MetadataFetch } from '@quorum/core';
import { escapeModuleText } from './module-path.js';

/**
 * A Go checksum database (sumdb) client: looks a module version up, checks the signed tree head
 * with the database's public key and proves the record is in that tree from the database's tiles
 * (golang.org/x/mod/sumdb/tlog), as the go command does. What it cannot do without remembering
 * tree heads between runs: notice a database that shows different trees to different clients.
 */

/** The checksum database the go command trusts by default, with its public key (as Go's own source has it). */
export const GO_SUMDB_DEFAULT = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';

/** A checksum database: its name, its Ed25519 public key and where it is served. */
export interface SumDb {
  name: string;
  /** the 4-byte key hash that names the key in signatures */
  keyHash: Buffer;
  /** the raw 32-byte Ed25519 public key */
  key: Buffer;
  url: string;
}

/** What the checksum database says of a module version, proven. */
export interface SumDbRecord {
  /** the `h1:` of the version's zip */
  h1: string;
  /** the record's number and the size of the tree it was proven in */
  id: number;
  treeSize: number;
}

const TILE_HEIGHT = 8;
const HASH = 32;

const sha256 = (...parts: (Buffer | string)[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** A record's leaf hash and two subtrees' parent hash (RFC 6962, as tlog computes them). */
const recordHash = (data: Buffer): Buffer => sha256(Buffer.from([0]), data);
const nodeHash = (left: Buffer, right: Buffer): Buffer => sha256(Buffer.from([1]), left, right);

/**
 * Parses a `QUORUM_GOSUMDB` value: `off`, or a verifier key `<name>+<hash>+<key>` optionally followed
 * by the database's URL (default `https://<name>`), as GOSUMDB is written.
 */
export function parseSumDb(value: string): SumDb | undefined {
  const text = value.trim();
  if (text === 'off') return undefined;
  const [vkey, url, ...rest] = text.split(/\s+/);
  if (!vkey || rest.length > 0) throw new QuorumError('invalid-input', 'QUORUM_GOSUMDB must be "off" or "<name>+<hash>+<key> [URL]"');
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  if (!m) throw new QuorumError('invalid-input', `QUORUM_GOSUMDB: ${JSON.stringify(vkey.slice(0, 200))} is not a verifier key <name>+<hash>+<key>`);
  const [, name, hash, keyData] = m as unknown as [string, string, string, string];
  const raw = Buffer.from(keyData, 'base64');
  if (raw.length !== 33 || raw[0] !== 1) throw new QuorumError('invalid-input', 'QUORUM_GOSUMDB: the key is not an Ed25519 verifier key');
  const keyHash = sha256(`${name}\n`, raw).subarray(0, 4);
  if (keyHash.toString('hex') !== hash) throw new QuorumError('invalid-input', 'QUORUM_GOSUMDB: the key hash does not match the key');
  let base: URL;
  try {
    base = new URL(url ?? `https://${name}`);
  } catch {
    throw new QuorumError('invalid-input', `QUORUM_GOSUMDB: ${JSON.stringify((url ?? name).slice(0, 200))} is not a URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new QuorumError('invalid-input', 'QUORUM_GOSUMDB: the URL must be http or https');
  return { name, keyHash, key: raw.subarray(1), url: base.href.replace(/\/+$/, '') };
}

function bad(db: SumDb, what: string): QuorumError {
  return new QuorumError('integrity-mismatch', `the checksum database ${db.name} ${what}`);
}

/** Checks a signed note (golang.org/x/mod/sumdb/note) with the database's key; answers its text. */
function openNote(db: SumDb, note: string): string {
  const at = note.lastIndexOf('\n\n');
  if (at === -1) throw bad(db, 'sent a tree head that is not a signed note');
  const text = note.slice(0, at + 1);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), db.key]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  for (const line of note.slice(at + 2).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m || m[1] !== db.name) continue;
    const sig = Buffer.from(m[2]!, 'base64');
    if (sig.length !== 4 + 64 || !sig.subarray(0, 4).equals(db.keyHash)) continue;
    if (verifySignature(null, Buffer.from(text, 'utf8'), key, sig.subarray(4))) return text;
  }
  throw bad(db, 'sent a tree head not signed by its key');
}

/** The tree a signed tree head names: `go.sum database tree\n<size>\n<base64 root hash>\n`. */
function parseTree(db: SumDb, text: string): { size: number; root: Buffer } {
  const m = /^go\.sum database tree\n(\d{1,15})\n([A-Za-z0-9+/=]{44})\n$/.exec(text);
  const root = m ? Buffer.from(m[2]!, 'base64') : undefined;
  if (!m || !root || root.length !== HASH) throw bad(db, 'signed something that is not a tree head');
  return { size: Number(m[1]), root };
}

/** A tile's path: `tile/<H>/<L>/<N as x123/x456/789>[.p/<W>]`. */
export function tilePath(level: number, n: number, width: number): string {
  let rest = n;
  let text = String(rest % 1000).padStart(3, '0');
  while (rest >= 1000) {
    rest = Math.floor(rest / 1000);
    text = `x${String(rest % 1000).padStart(3, '0')}/${text}`;
  }
  return `tile/${TILE_HEIGHT}/${level}/${text}${width === 1 << TILE_HEIGHT ? '' : `.p/${width}`}`;
}

/** The largest power of two below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Looks a module version up in the checksum database and proves what it says: the tree head is
 * signed by the database's key, the record is in that tree (its inclusion recomputed from the
 * tiles up to the signed root), and the record names this very version. Answers the version's
 * `h1:`. Every document is read through `fetch`, under the caller's egress policy.
 */
export async function lookUpSum(db: SumDb, path: string, version: string, fetch: MetadataFetch): Promise<SumDbRecord> {
  const body = (await fetch(`${db.url}/lookup/${escapeModuleText(path)}@${escapeModuleText(version)}`, 'text')) as string;
  if (typeof body !== 'string' || body.length > 64 * 1024) throw bad(db, 'sent a lookup answer that is not text of a sane size');
  const m = /^(\d{1,15})\n([\s\S]*?\n)\n([\s\S]*)$/.exec(body);
  if (!m) throw bad(db, 'sent a lookup answer that is not "<id>\\n<record>\\n<signed tree>"');
  const id = Number(m[1]);
  const data = Buffer.from(m[2]!, 'utf8');
  const tree = parseTree(db, openNote(db, m[3]!));
  if (id >= tree.size) throw bad(db, `named record ${id} of a tree of ${tree.size}`);

  const tiles = new Map<string, Promise<Buffer>>();
  const tile = (level: number, n: number, width: number): Promise<Buffer> => {
    const p = tilePath(level, n, width);
    let got = tiles.get(p);
    if (!got) {
      got = (async () => {
        const bytes = (await fetch(`${db.url}/${p}`, 'bytes')) as Buffer;
        if (!Buffer.isBuffer(bytes) || bytes.length !== width * HASH) throw bad(db, `sent a tile ${p} of ${Buffer.isBuffer(bytes) ? bytes.length : '?'} bytes`);
        return bytes;
      })();
      tiles.set(p, got);
    }
    return got;
  };
  /** The stored hash of the complete subtree at `level` number `n`, from the tile that holds it (as wide as the tree makes it). */
  const stored = async (level: number, n: number): Promise<Buffer> => {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const sub = level - tileLevel * TILE_HEIGHT;
    const tileN = Math.floor((n * 2 ** sub) / 2 ** TILE_HEIGHT);
    const first = n * 2 ** sub - tileN * 2 ** TILE_HEIGHT;
    const count = Math.floor(tree.size / 2 ** (tileLevel * TILE_HEIGHT));
    const width = Math.min(2 ** TILE_HEIGHT, count - tileN * 2 ** TILE_HEIGHT);
    const data = await tile(tileLevel, tileN, width);
    const span = data.subarray(first * HASH, (first + 2 ** sub) * HASH);
    const fold = (b: Buffer): Buffer => (b.length === HASH ? b : nodeHash(fold(b.subarray(0, b.length / 2)), fold(b.subarray(b.length / 2))));
    return fold(span);
  };
  /** The hash of the records [lo, hi): stored when it is a complete subtree, else from its two halves. */
  const range = async (lo: number, hi: number): Promise<Buffer> => {
    const size = hi - lo;
    if ((size & (size - 1)) === 0 && lo % size === 0) return stored(Math.log2(size), lo / size);
    const k = splitPoint(size);
    return nodeHash(await range(lo, lo + k), await range(lo + k, hi));
  };
  /** The hash of [lo, hi) with the record's own hash at its place, so that the root proves the record. */
  const withRecord = async (lo: number, hi: number, leaf: Buffer): Promise<Buffer> => {
    if (hi - lo === 1) return leaf;
    const k = splitPoint(hi - lo);
    return id < lo + k ? nodeHash(await withRecord(lo, lo + k, leaf), await range(lo + k, hi)) : nodeHash(await range(lo, lo + k), await withRecord(lo + k, hi, leaf));
  };
  const root = await withRecord(0, tree.size, recordHash(data));
  if (!root.equals(tree.root)) throw bad(db, `record ${id} is not in the tree its signed head names`);

  for (const line of data.toString('utf8').split('\n')) {
    const [p, v, h] = line.split(' ');
    if (p === path && v === version && h?.startsWith('h1:')) return { h1: h, id, treeSize: tree.size };
  }
  throw bad(db, `answered ${path}@${version} with a record of another module version`);
}
