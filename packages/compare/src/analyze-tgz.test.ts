import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { stabilizersBetween } from '@quorum/core';
import tar from 'tar-stream';
import type { Headers } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';
import { analyzeTgz, MANIFEST_VERSION_LINE, serializeManifest, TGZ_STABILIZERS, type TgzAnalysis } from './index.js';

// ---------- helpers: real tarballs, built in memory ----------

type Entry = Headers & { body?: string | Buffer };

async function packTar(entries: Entry[], opts: { trailingZeroBlocks?: number } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c);
    return Buffer.concat(chunks);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ mtime: new Date(0), ...header }, body ?? '', (e) => (e ? reject(e) : resolve()));
    });
  }
  pack.finalize();
  const tarBytes = await collected;
  return opts.trailingZeroBlocks ? Buffer.concat([tarBytes, Buffer.alloc(512 * opts.trailingZeroBlocks)]) : tarBytes;
}

interface GzipHeaderPatch {
  name?: string;
  comment?: string;
  mtime?: number;
  os?: number;
  xfl?: number;
  extra?: Buffer;
  headerCrc?: boolean;
}

/** Rewrites the 10-byte header node's zlib writes into one with the given fields. */
function patchGzipHeader(gz: Buffer, p: GzipHeaderPatch): Buffer {
  const body = gz.subarray(10);
  const fixed = Buffer.from(gz.subarray(0, 10));
  let flags = 0;
  const parts: Buffer[] = [];
  if (p.extra) {
    flags |= 4;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(p.extra.length);
    parts.push(len, p.extra);
  }
  if (p.name !== undefined) {
    flags |= 8;
    parts.push(Buffer.from(`${p.name}\0`, 'latin1'));
  }
  if (p.comment !== undefined) {
    flags |= 16;
    parts.push(Buffer.from(`${p.comment}\0`, 'latin1'));
  }
  if (p.headerCrc) flags |= 2;
  fixed[3] = flags;
  if (p.mtime !== undefined) fixed.writeUInt32LE(p.mtime, 4);
  if (p.xfl !== undefined) fixed[8] = p.xfl;
  if (p.os !== undefined) fixed[9] = p.os;
  let header = Buffer.concat([fixed, ...parts]);
  if (p.headerCrc) {
    const crc = Buffer.alloc(2);
    crc.writeUInt16LE(crc32(header) & 0xffff);
    header = Buffer.concat([header, crc]);
  }
  return Buffer.concat([header, body]);
}

async function tgz(entries: Entry[], opts: { level?: number; gzip?: GzipHeaderPatch; trailingZeroBlocks?: number } = {}): Promise<Buffer> {
  const gz = gzipSync(await packTar(entries, opts), { level: opts.level ?? 9 });
  return opts.gzip ? patchGzipHeader(gz, opts.gzip) : gz;
}

function analyze(buf: Buffer, opts?: Parameters<typeof analyzeTgz>[1]): Promise<TgzAnalysis> {
  return analyzeTgz(Readable.from([buf]), opts);
}

/** A ustar header block written by hand, for what tar-stream refuses to write. */
function ustarHeader(h: { name: string; size?: number; typeflag?: string; linkname?: string }): Buffer {
  const b = Buffer.alloc(512);
  const oct = (v: number, width: number): string => `${v.toString(8).padStart(width - 1, '0')}\0`;
  b.write(h.name, 0, 100, 'utf8');
  b.write(oct(0o644, 8), 100, 'latin1');
  b.write(oct(0, 8), 108, 'latin1');
  b.write(oct(0, 8), 116, 'latin1');
  b.write(oct(h.size ?? 0, 12), 124, 'latin1');
  b.write(oct(0, 12), 136, 'latin1');
  b.write('        ', 148, 'latin1');
  b.write(h.typeflag ?? '0', 156, 'latin1');
  if (h.linkname) b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A small npm-like package. */
function pkg(over: Partial<Record<'json' | 'index' | 'readme', Partial<Entry>>> = {}): Entry[] {
  return [
    { name: 'package/README.md', body: '# x\n', ...over.readme },
    { name: 'package/index.js', body: 'module.exports = 42;\n', ...over.index },
    { name: 'package/package.json', body: '{"name":"x","version":"1.0.0"}\n', ...over.json },
  ];
}

const NPM_TIME = new Date('1985-10-26T08:15:00.000Z');

// ---------- digests and the stabilized form ----------

describe('analyzeTgz digests', () => {
  it('hashes the raw bytes with sha256 and sha512 and reports their size', async () => {
    const buf = await tgz(pkg());
    const r = await analyze(buf);
    expect(r.size).toBe(buf.length);
    expect(r.sha256).toBe(sha256(buf));
    expect(r.sha512).toBe(createHash('sha512').update(buf).digest('hex'));
  });

  it('reads a file path exactly like a stream of the same bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorum-compare-'));
    try {
      const buf = await tgz(pkg());
      await writeFile(join(dir, 'a.tgz'), buf);
      expect(await analyzeTgz(join(dir, 'a.tgz'))).toEqual(await analyze(buf));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives the same analysis however the input stream is chunked', async () => {
    const buf = await tgz([...pkg(), { name: 'package/data.bin', body: randomBytes(8_000) }], { level: 6 });
    const whole = await analyze(buf);
    for (const size of [1, 7, 8, 9, 4096]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < buf.length; i += size) chunks.push(buf.subarray(i, i + size));
      expect(await analyzeTgz(Readable.from(chunks)), `chunks of ${size} bytes`).toEqual(whole);
    }
  });

  it('returns the manifest sorted by path with normalized modes, sizes and content digests', async () => {
    const r = await analyze(
      await tgz([
        { name: 'package/./z.js', body: 'z', mode: 0o600 },
        { name: 'package/', type: 'directory', mode: 0o700 },
        { name: 'package/bin/cli', body: '#!/bin/sh\n', mode: 0o744 },
        { name: 'package/link', type: 'symlink', linkname: 'z.js' },
        { name: 'package/hard', type: 'link', linkname: 'package//z.js' },
      ]),
    );
    expect(r.entries).toEqual([
      { path: 'package', type: 'directory', mode: 0o755, size: 0, sha256: sha256(''), target: null },
      { path: 'package/bin/cli', type: 'file', mode: 0o755, size: 10, sha256: sha256('#!/bin/sh\n'), target: null },
      { path: 'package/hard', type: 'hardlink', mode: 0o644, size: 0, sha256: sha256(''), target: 'package/z.js' },
      { path: 'package/link', type: 'symlink', mode: 0o777, size: 0, sha256: sha256(''), target: 'z.js' },
      { path: 'package/z.js', type: 'file', mode: 0o644, size: 1, sha256: sha256('z'), target: null },
    ]);
  });

  it('digests the documented v1 JSON-lines serialization of the manifest', async () => {
    const r = await analyze(await tgz([{ name: 'package/a.js', body: 'a' }]));
    const text = serializeManifest(r.entries);
    expect(text).toBe(`${MANIFEST_VERSION_LINE}\n{"path":"package/a.js","type":"file","mode":"0644","size":1,"sha256":"${sha256('a')}","target":null}\n`);
    expect(MANIFEST_VERSION_LINE).toBe('quorum-tgz-manifest v1');
    expect(r.stabilizedSha256).toBe(sha256(text));
  });

  it('gives one facet digest per stabilizer', async () => {
    const r = await analyze(await tgz(pkg()));
    expect(Object.keys(r.facets).sort()).toEqual(TGZ_STABILIZERS.map((s) => s.name).sort());
    for (const d of Object.values(r.facets)) expect(d).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes the stabilized digest when one content byte changes', async () => {
    const a = await analyze(await tgz(pkg()));
    const b = await analyze(await tgz(pkg({ index: { body: 'module.exports = 43;\n' } })));
    expect(b.stabilizedSha256).not.toBe(a.stabilizedSha256);
  });

  it('changes the stabilized digest when a file becomes executable or a link target changes', async () => {
    const base = await analyze(await tgz([...pkg(), { name: 'package/l', type: 'symlink', linkname: 'index.js' }]));
    const exec = await analyze(await tgz([...pkg({ index: { mode: 0o755 } }), { name: 'package/l', type: 'symlink', linkname: 'index.js' }]));
    const link = await analyze(await tgz([...pkg(), { name: 'package/l', type: 'symlink', linkname: 'README.md' }]));
    expect(exec.stabilizedSha256).not.toBe(base.stabilizedSha256);
    expect(link.stabilizedSha256).not.toBe(base.stabilizedSha256);
  });
});

// ---------- stabilizers: each difference names exactly its stabilizer ----------

describe('stabilizersBetween over facets', () => {
  const cases: { name: string; a: () => Promise<Buffer>; b: () => Promise<Buffer>; expected: string[] }[] = [
    {
      name: 'names only tar-times when entry mtimes differ',
      a: () => tgz(pkg()),
      b: () => tgz(pkg({ json: { mtime: NPM_TIME }, index: { mtime: NPM_TIME }, readme: { mtime: NPM_TIME } })),
      expected: ['tar-times'],
    },
    {
      name: 'names only tar-entry-order when the entries are reordered',
      a: () => tgz(pkg()),
      b: () => tgz(pkg().reverse()),
      expected: ['tar-entry-order'],
    },
    {
      name: 'names only tar-modes when stored modes differ but normalize alike',
      a: () => tgz([...pkg(), { name: 'package/cli', body: 'x', mode: 0o755 }]),
      b: () => tgz([...pkg({ index: { mode: 0o664 }, json: { mode: 0o600 } }), { name: 'package/cli', body: 'x', mode: 0o775 }]),
      expected: ['tar-modes'],
    },
    {
      name: 'names only tar-owners when uid, gid, uname and gname differ',
      a: () => tgz(pkg()),
      b: () => tgz(pkg({ index: { uid: 1000, gid: 1000, uname: 'alice', gname: 'staff' } })),
      expected: ['tar-owners'],
    },
    {
      name: 'names only tar-pax when pax xattr records differ',
      a: () => tgz(pkg({ index: { pax: {} } })),
      b: () => tgz(pkg({ index: { pax: { 'SCHILY.xattr.user.origin': 'laptop' } } })),
      expected: ['tar-pax'],
    },
    {
      name: 'names only tar-times when pax time records differ',
      a: () => tgz(pkg({ index: { pax: {} } })),
      b: () => tgz(pkg({ index: { pax: { mtime: '1700000000.123456789', atime: '1700000001' } } })),
      expected: ['tar-times'],
    },
    {
      name: 'names only tar-devices when device numbers differ',
      a: () => tgz(pkg()),
      b: () => tgz(pkg({ index: { devmajor: 8, devminor: 1 } })),
      expected: ['tar-devices'],
    },
    {
      name: 'names only tar-format when only the end-of-archive padding differs',
      a: () => tgz(pkg()),
      b: () => tgz(pkg(), { trailingZeroBlocks: 18 }),
      expected: ['tar-format'],
    },
    {
      name: 'names only tar-format when a name moves into a pax path record',
      a: () => tgz(pkg()),
      b: () => tgz(pkg({ index: { pax: {} } })),
      expected: ['tar-format'],
    },
    {
      name: 'names only gzip-name when the gzip FNAME differs',
      a: () => tgz(pkg()),
      b: () => tgz(pkg(), { gzip: { name: 'x-1.0.0.tar' } }),
      expected: ['gzip-name'],
    },
    {
      name: 'names only gzip-time when the gzip MTIME differs',
      a: () => tgz(pkg()),
      b: () => tgz(pkg(), { gzip: { mtime: 1_700_000_000 } }),
      expected: ['gzip-time'],
    },
    {
      name: 'names only gzip-header when the OS byte, FEXTRA, FCOMMENT or FHCRC differ',
      a: () => tgz(pkg()),
      b: () => tgz(pkg(), { gzip: { os: 11, comment: 'built on a laptop', extra: Buffer.from('AB\x02\x00hi', 'latin1'), headerCrc: true } }),
      expected: ['gzip-header'],
    },
    {
      name: 'names only gzip-level when the same tar is compressed at level 1 and 9',
      a: () => tgz(pkg(), { level: 1 }),
      b: () => tgz(pkg(), { level: 9 }),
      expected: ['gzip-level'],
    },
    {
      name: 'names only gzip-level when deflate streams differ under the same XFL byte',
      a: () => tgz(pkg(), { level: 9 }),
      b: () => tgz(pkg(), { level: 6, gzip: { xfl: 2 } }),
      expected: ['gzip-level'],
    },
    {
      name: 'names the union when several facets differ at once',
      a: () => tgz(pkg()),
      b: () => tgz(pkg({ index: { mtime: NPM_TIME, uid: 501, mode: 0o664 } }).reverse(), { level: 1, gzip: { name: 'x.tar', mtime: 5 } }),
      expected: ['gzip-level', 'gzip-name', 'gzip-time', 'tar-entry-order', 'tar-modes', 'tar-owners', 'tar-times'],
    },
  ];

  it.each(cases)('$name', async ({ a, b, expected }) => {
    const [x, y] = await Promise.all([a().then(analyze), b().then(analyze)]);
    expect(y.sha256).not.toBe(x.sha256);
    expect(y.stabilizedSha256).toBe(x.stabilizedSha256);
    expect(stabilizersBetween(x, y)).toEqual(expected);
  });

  it('names nothing for byte-identical artifacts', async () => {
    const buf = await tgz(pkg({ index: { mtime: NPM_TIME } }));
    expect(stabilizersBetween(await analyze(buf), await analyze(buf))).toEqual([]);
  });

  it.each([1, 6, 9])('keeps gzip-level equal at zlib level %i when only the tar differs', async (level) => {
    const x = await analyze(await tgz(pkg(), { level }));
    const y = await analyze(await tgz(pkg({ index: { mtime: NPM_TIME } }), { level }));
    expect(stabilizersBetween(x, y)).toEqual(['tar-times']);
  });
});

// ---------- stabilizersApplied: deviations from canonical values ----------

describe('a path repeated with the same file', () => {
  // what old packers wrote for `"main": "./dist/index.js"`: the main file twice, once as `./`
  const withCopy = (): Promise<Buffer> => tgz([...pkg(), { name: 'package/./index.js', body: 'module.exports = 42;\n', mtime: NPM_TIME }]);

  it('keeps one manifest entry: the files are those of the archive without the copy', async () => {
    const [a, b] = await Promise.all([analyze(await withCopy()), analyze(await tgz(pkg()))]);
    expect(a.entries.map((e) => e.path)).toEqual(['README.md', 'index.js', 'package.json'].map((p) => `package/${p}`));
    expect(a.stabilizedSha256).toBe(b.stabilizedSha256);
    expect(a.stabilizersApplied).toContain('tar-format');
  });

  it('differs from the archive without the copy in tar-format alone, and not at all from itself', async () => {
    const [a, again, b] = await Promise.all([analyze(await withCopy()), analyze(await withCopy()), analyze(await tgz(pkg()))]);
    expect(stabilizersBetween(a, b)).toEqual(['tar-format']);
    expect(stabilizersBetween(a, again)).toEqual([]);
  });

  it('tells two archives apart by where and under which name the copy sits', async () => {
    const other = tgz([{ name: 'package/./index.js', body: 'module.exports = 42;\n', mtime: NPM_TIME }, ...pkg()]);
    const [a, b] = await Promise.all([analyze(await withCopy()), analyze(await other)]);
    expect(a.stabilizedSha256).toBe(b.stabilizedSha256);
    expect(stabilizersBetween(a, b)).toContain('tar-format');
  });
});

describe('stabilizersApplied', () => {
  it('is empty for an archive already in canonical form', async () => {
    // sorted, mtime 0, normalized modes, uid/gid 0, no names, ustar, two zero blocks; gzip MTIME 0, XFL 0, OS 255
    const r = await analyze(await tgz(pkg(), { level: 6, gzip: { os: 255 } }));
    expect(r.stabilizersApplied).toEqual([]);
  });

  it('reports npm-style fixed times honestly as tar-times', async () => {
    const npmLike = pkg({ json: { mtime: NPM_TIME }, index: { mtime: NPM_TIME }, readme: { mtime: NPM_TIME } });
    const r = await analyze(await tgz(npmLike, { level: 9 }));
    expect(r.stabilizersApplied).toEqual(['gzip-header', 'gzip-level', 'tar-times']);
  });

  it('lists every deviation of a messy archive', async () => {
    const r = await analyze(
      await tgz(pkg({ index: { mode: 0o664, mtime: NPM_TIME, uid: 1000, uname: 'alice', devmajor: 1, pax: { 'SCHILY.xattr.user.k': 'v' } } }).reverse(), {
        gzip: { name: 'x.tar', mtime: 7, comment: 'c' },
        trailingZeroBlocks: 3,
      }),
    );
    expect(r.stabilizersApplied).toEqual(TGZ_STABILIZERS.map((s) => s.name).sort());
  });
});

// ---------- safety: unsafe archives are faults ----------

describe('unsafe archives', () => {
  const unsafe: { name: string; entries: Entry[]; message: RegExp }[] = [
    { name: 'an absolute path', entries: [{ name: '/etc/cron.d/evil', body: 'x' }], message: /"\/etc\/cron\.d\/evil".*absolute/ },
    { name: 'a Windows drive path', entries: [{ name: 'C:\\evil.js', body: 'x' }], message: /absolute/ },
    { name: 'a ".." segment', entries: [{ name: 'package/../../evil.js', body: 'x' }], message: /"package\/\.\.\/\.\.\/evil\.js".*"\.\."/ },
    { name: 'a NUL byte in a pax path', entries: [{ name: 'package/a', pax: { path: 'package/a\0.js' }, body: 'x' }], message: /NUL/ },
    { name: 'a symlink escaping the root', entries: [{ name: 'package/l', type: 'symlink', linkname: '../../etc/passwd' }], message: /symlink "package\/l" points outside/ },
    { name: 'an absolute symlink', entries: [{ name: 'package/l', type: 'symlink', linkname: '/etc/passwd' }], message: /symlink "package\/l" points outside/ },
    { name: 'a hard link escaping the root', entries: [{ name: 'package/h', type: 'link', linkname: '../outside' }], message: /hard link "package\/h"/ },
    { name: 'a character device', entries: [{ name: 'package/tty', type: 'character-device', devmajor: 5, devminor: 0 }], message: /"package\/tty" is a character device/ },
    { name: 'a block device', entries: [{ name: 'package/sda', type: 'block-device', devmajor: 8, devminor: 0 }], message: /"package\/sda" is a block device/ },
    { name: 'a FIFO', entries: [{ name: 'package/pipe', type: 'fifo' }], message: /"package\/pipe" is a FIFO/ },
    {
      name: 'an entry below a symlink',
      entries: [
        { name: 'package/lib', type: 'symlink', linkname: '.' },
        { name: 'package/lib/x.js', body: 'x' },
      ],
      message: /"package\/lib\/x\.js" lies below the symlink "package\/lib"/,
    },
    {
      name: 'a path repeated with other content',
      entries: [
        { name: 'package/a.js', body: 'benign' },
        { name: 'package/./a.js', body: 'evil' },
      ],
      message: /"package\/\.\/a\.js" repeats "package\/a\.js" with different content/,
    },
    {
      // npm strips the first component as written: this one is installed as package/a.js of the package
      name: 'a name starting with ./, even as a copy of another entry',
      entries: [
        { name: 'package/a.js', body: 'same' },
        { name: './package/a.js', body: 'same' },
      ],
      message: /"\.\/package\/a\.js" starts with "\.\/"/,
    },
    { name: 'a lone name starting with ./', entries: [{ name: './package/policy.js', body: 'x' }], message: /starts with "\.\/"/ },
    {
      name: 'a hard link to a target starting with ./',
      entries: [
        { name: 'package/z.js', body: 'z' },
        { name: 'package/hard', type: 'link', linkname: './package/z.js' },
      ],
      message: /hard link target "\.\/package\/z\.js" starts with "\.\/"/,
    },
    {
      name: 'a path repeated with the same content made executable',
      entries: [
        { name: 'package/a.js', body: 'same' },
        { name: 'package/./a.js', body: 'same', mode: 0o755 },
      ],
      message: /"package\/\.\/a\.js" repeats "package\/a\.js" with a different mode/,
    },
    {
      name: 'a file repeated as a symlink',
      entries: [
        { name: 'package/a.js', body: 'same' },
        { name: 'package/./a.js', type: 'symlink', linkname: 'b.js' },
      ],
      message: /"package\/\.\/a\.js" appears twice .*not both times a regular file/,
    },
    {
      name: 'a directory repeated',
      entries: [
        { name: 'package/lib/', type: 'directory' },
        { name: 'package/./lib/', type: 'directory' },
      ],
      message: /"package\/\.\/lib\/" appears twice/,
    },
  ];

  it.each(unsafe)('refuses $name as unsafe-archive', async ({ entries, message }) => {
    await expect(analyze(await tgz(entries))).rejects.toMatchObject({ name: 'QuorumError', code: 'unsafe-archive', message: expect.stringMatching(message) });
  });

  /** Blocks written by hand: a header, its data padded to 512, then the end-of-archive marker. */
  function crafted(...parts: Buffer[]): Buffer {
    const padded = parts.map((p) => Buffer.concat([p, Buffer.alloc((512 - (p.length % 512)) % 512)]));
    return gzipSync(Buffer.concat([...padded, Buffer.alloc(1024)]));
  }

  it('refuses a directory that carries data (extractors disagree on it)', async () => {
    const bytes = crafted(ustarHeader({ name: 'package/d/', typeflag: '5', size: 512 }), Buffer.alloc(512, 0x41));
    await expect(analyze(bytes)).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringMatching(/"package\/d\/".*directory with 512 bytes/) });
  });

  it('refuses an unsupported entry type such as a GNU sparse file', async () => {
    const bytes = crafted(ustarHeader({ name: 'package/sparse', typeflag: 'S' }));
    await expect(analyze(bytes)).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringMatching(/"package\/sparse" has the unsupported entry type "S"/) });
  });

  it('refuses a malformed pax record as invalid-input', async () => {
    const record = Buffer.from('99 path=package/a\n');
    const bytes = crafted(ustarHeader({ name: 'PaxHeader', typeflag: 'x', size: record.length }), record, ustarHeader({ name: 'package/a' }));
    await expect(analyze(bytes)).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/malformed pax record/) });
  });

  it('refuses a pile of pax global headers before one entry', async () => {
    const record = Buffer.from('13 comment=x\n');
    const globals = Array.from({ length: 17 }, () => [ustarHeader({ name: 'pax_global_header', typeflag: 'g', size: record.length }), record]).flat();
    const bytes = crafted(...globals, ustarHeader({ name: 'package/a' }));
    await expect(analyze(bytes)).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringMatching(/more than 16 extended headers/) });
    await expect(analyze(crafted(...globals.slice(0, 4), ustarHeader({ name: 'package/a' })))).resolves.toMatchObject({ stabilizersApplied: expect.arrayContaining(['tar-pax']) });
  });

  it('refuses more entries than maxEntries', async () => {
    await expect(analyze(await tgz(pkg()), { maxEntries: 2 })).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringMatching(/more than 2 entries.*"package\/package\.json"/) });
    await expect(analyze(await tgz(pkg()), { maxEntries: 3 })).resolves.toBeDefined();
  });

  it('refuses an entry bigger than maxEntryBytes from its header, before reading its content', async () => {
    // the header claims 3 GiB; no content follows, so only an early refusal can name the limit
    const huge = gzipSync(ustarHeader({ name: 'package/huge.bin', size: 3 * 1024 ** 3 }));
    await expect(analyze(huge)).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringMatching(/"package\/huge\.bin" has 3221225472 bytes, more than maxEntryBytes/) });
    await expect(analyze(await tgz([{ name: 'package/a', body: Buffer.alloc(2000) }]), { maxEntryBytes: 1000 })).rejects.toMatchObject({ code: 'unsafe-archive' });
  });

  it('refuses total uncompressed data beyond maxUncompressedBytes', async () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({ name: `package/f${i}`, body: Buffer.alloc(100_000, i) }));
    await expect(analyze(await tgz(entries), { maxUncompressedBytes: 300_000 })).rejects.toMatchObject({
      code: 'unsafe-archive',
      message: expect.stringMatching(/maxUncompressedBytes \(300000\)/),
    });
  });

  it('stops reading a gzip bomb as soon as maxUncompressedBytes is crossed', async () => {
    // 256 MiB of zeros compress to about 250 KiB
    const chunks: Buffer[] = [];
    const zeros = Buffer.alloc(1024 * 1024);
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < 256; i++) yield zeros;
        })(),
      ),
      createGzip({ level: 9 }),
      async (out: AsyncIterable<Buffer>) => {
        for await (const c of out) chunks.push(c);
      },
    );
    const bomb = Buffer.concat(chunks);
    let read = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < bomb.length; i += 4096) {
          read += Math.min(4096, bomb.length - i);
          yield bomb.subarray(i, i + 4096);
        }
      })(),
    );
    await expect(analyzeTgz(source, { maxUncompressedBytes: 1024 * 1024 })).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringMatching(/bomb/) });
    expect(read).toBeLessThan(bomb.length / 4);
  });
});

describe('invalid input', () => {
  const invalid: { name: string; bytes: () => Promise<Buffer> }[] = [
    { name: 'a text file', bytes: async () => Buffer.from('this is not a gzip file at all\n') },
    { name: 'an empty file', bytes: async () => Buffer.alloc(0) },
    { name: 'an uncompressed tar', bytes: () => packTar(pkg()) },
    { name: 'gzip holding text shorter than a tar block', bytes: async () => gzipSync('hello world\n') },
    { name: 'gzip holding text longer than a tar block', bytes: async () => gzipSync('hello world\n'.repeat(100)) },
    { name: 'a truncated tgz', bytes: async () => (await tgz(pkg())).subarray(0, -20) },
    { name: 'a tgz with data after the gzip member', bytes: async () => Buffer.concat([await tgz(pkg()), Buffer.from('trailing garbage')]) },
    { name: 'two concatenated gzip members', bytes: async () => Buffer.concat([await tgz(pkg()), await tgz(pkg())]) },
    {
      name: 'a tgz whose CRC32 does not match',
      bytes: async () => {
        const b = Buffer.from(await tgz(pkg()));
        b[b.length - 6]! ^= 0xff;
        return b;
      },
    },
    {
      name: 'a gzip header whose CRC16 does not match',
      bytes: async () => {
        const b = patchGzipHeader(await tgz(pkg()), { headerCrc: true });
        b[10]! ^= 0xff;
        return b;
      },
    },
  ];

  it.each(invalid)('refuses $name as invalid-input', async ({ bytes }) => {
    await expect(analyze(await bytes())).rejects.toMatchObject({ name: 'QuorumError', code: 'invalid-input' });
  });

  it('refuses a missing file as not-found', async () => {
    await expect(analyzeTgz(join(tmpdir(), 'quorum-compare-does-not-exist.tgz'))).rejects.toMatchObject({ code: 'not-found' });
  });
});

// ---------- real tools and real sizes ----------

const gnuTar = spawnSync('tar', ['--version'], { encoding: 'utf8' });
const hasGnuTools = gnuTar.status === 0 && gnuTar.stdout.includes('GNU tar') && spawnSync('gzip', ['--version']).status === 0;

describe.skipIf(!hasGnuTools)('archives made by the system tar and gzip -n', () => {
  let dir = '';
  const files: Entry[] = [
    { name: 'package', type: 'directory' },
    { name: 'package/cli.sh', body: '#!/bin/sh\necho hi\n', mode: 0o755 },
    { name: 'package/lib', type: 'directory' },
    // longer than the 100-byte name field: GNU tar writes a long-name header, tar-stream a ustar prefix
    { name: `package/lib/${'a'.repeat(60)}`, type: 'directory' },
    { name: `package/lib/${'a'.repeat(60)}/${'b'.repeat(60)}.js`, body: 'long\n' },
    { name: 'package/lib/index.js', body: 'module.exports = 1;\n' },
    { name: 'package/package.json', body: '{"name":"x"}\n' },
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorum-compare-'));
    for (const f of files) {
      const p = join(dir, f.name);
      if (f.type === 'directory') await mkdir(p, { recursive: true });
      else await writeFile(p, f.body ?? '');
      await chmod(p, f.mode ?? (f.type === 'directory' ? 0o755 : 0o644));
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function systemTgz(tarFlags: string): Buffer {
    const out = join(dir, 'out.tgz');
    const r = spawnSync('sh', ['-c', `tar ${tarFlags} -C "$1" -cf - package | gzip -n -9 > "$2"`, 'sh', dir, out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return readFileSync(out);
  }

  it('matches the same content packed by tar-stream, differing only in encoding', async () => {
    const sys = systemTgz('--sort=name --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0');
    const mine = await tgz(files, { level: 9 });
    const [a, b] = await Promise.all([analyze(sys), analyze(mine)]);
    expect(a.stabilizedSha256).toBe(b.stabilizedSha256);
    // gzip's own deflate is named gzip-level only when this zlib cannot reproduce it
    const sameDeflate = gzipSync(gunzipSync(sys), { level: 9 }).subarray(10).equals(sys.subarray(10));
    expect(stabilizersBetween(a, b)).toEqual(sameDeflate ? ['tar-format'] : ['gzip-level', 'tar-format']);
    expect(a.stabilizersApplied).not.toContain('gzip-name');
    expect(a.stabilizersApplied).not.toContain('gzip-time');
  });

  it('matches a default GNU-format archive with real times, owners and long-name headers after stabilizers', async () => {
    const sys = systemTgz('');
    const [a, b] = await Promise.all([analyze(sys), analyze(await tgz(files))]);
    expect(a.stabilizedSha256).toBe(b.stabilizedSha256);
    const names = stabilizersBetween(a, b);
    expect(names).toEqual(expect.arrayContaining(['tar-format', 'tar-owners', 'tar-times']));
    // a GNU long-name header is encoding, not a pax difference
    expect(names).not.toContain('tar-pax');
    expect(names.every((n) => TGZ_STABILIZERS.some((s) => s.name === n))).toBe(true);
  });
});

describe('constant memory', () => {
  it('streams a 100 MB tarball with RSS growth far below its size', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorum-compare-'));
    const file = join(dir, 'big.tgz');
    const MB = 1024 * 1024;
    try {
      // four 25 MiB entries of random bytes: the .tgz itself is about 100 MB
      const pack = tar.pack();
      const written = pipeline(pack, createGzip({ level: 1 }), createWriteStream(file));
      for (let f = 0; f < 4; f++) {
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ name: `package/blob${f}.bin`, size: 25 * MB, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve()));
          void (async () => {
            for (let i = 0; i < 25; i++) {
              if (!sink.write(randomBytes(MB))) await new Promise((r) => sink.once('drain', r));
            }
            sink.end();
          })();
        });
      }
      pack.finalize();
      await written;

      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 10);
      let r: TgzAnalysis;
      try {
        r = await analyzeTgz(file);
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      expect(r.size).toBeGreaterThan(100 * MB);
      expect(r.entries.map((e) => e.size)).toEqual([25 * MB, 25 * MB, 25 * MB, 25 * MB]);
      expect(r.sha256).toBe(sha256(await readFile(file)));
      expect(peak - before).toBeLessThan(80 * MB);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
