import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { analyzeArtifact, diffArtifacts, openArtifactDiff } from './artifact-formats.js';
import { crc32 } from './crc32.js';
import { h1FromStabilized, inspectZip } from './analyze-zip.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorum-zip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ZipFileSpec {
  name: string;
  content?: string;
  dir?: boolean;
  mtime?: Date;
  mode?: number;
  compress?: boolean;
  level?: number;
}

let n = 0;
async function makeZip(files: ZipFileSpec[], comment?: string): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const f of files) {
    const opts = { mtime: f.mtime ?? new Date(Date.UTC(1980, 0, 1)), mode: f.mode ?? 0o100644, compress: f.compress ?? true, ...(f.level !== undefined ? { compressionLevel: f.level } : {}) };
    if (f.dir) zip.addEmptyDirectory(f.name, { mtime: opts.mtime, mode: f.mode ?? 0o40755 });
    else zip.addBuffer(Buffer.from(f.content ?? ''), f.name, opts);
  }
  zip.end(comment !== undefined ? { comment } : {});
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  const file = join(dir, `z${n++}.zip`);
  await writeFile(file, Buffer.concat(chunks));
  return file;
}

const MODULE = [
  { name: 'example.com/m@v1.0.0/go.mod', content: 'module example.com/m\n\ngo 1.19\n' },
  { name: 'example.com/m@v1.0.0/m.go', content: 'package m\n\nfunc Answer() int { return 42 }\n' },
];

/** Go's Hash1, written out from its definition: sha256 over the sorted "<sha256 hex>  <name>\n" lines. */
function goDirhash(files: { name: string; content: string }[]): string {
  const lines = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => `${createHash('sha256').update(f.content).digest('hex')}  ${f.name}\n`);
  return `h1:${createHash('sha256').update(lines.join('')).digest('base64')}`;
}

describe('zip analysis', () => {
  it("takes Go's h1: dirhash as the stabilized form of a dirhash artifact", async () => {
    const file = await makeZip(MODULE);
    const a = await analyzeArtifact('dirhash', file);
    expect(h1FromStabilized(a.stabilizedSha256)).toBe(goDirhash(MODULE));
    // more files, in an order their digests do not share: the names are what is sorted
    const many = ['z.go', 'a.go', 'LICENSE', 'sub/b.go', 'README.md'].map((n, i) => ({ name: `example.com/m@v1.0.0/${n}`, content: `file ${i}\n` }));
    expect(h1FromStabilized((await analyzeArtifact('dirhash', await makeZip(many))).stabilizedSha256)).toBe(goDirhash(many));
    expect(a.sha256).toBe(
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    );
    expect(a.entries.map((e) => e.path)).toEqual(MODULE.map((f) => f.name));
  });

  it('compares equal after the zip stabilizers that differ, and names exactly those', async () => {
    const a = await makeZip(MODULE);
    const b = await makeZip(
      [...MODULE].reverse().map((f) => ({ ...f, mtime: new Date(Date.UTC(2024, 4, 1, 12)), level: 1 })),
      'made elsewhere',
    );
    const [x, y] = [await analyzeArtifact('dirhash', a), await analyzeArtifact('dirhash', b)];
    expect(x.sha256).not.toBe(y.sha256);
    expect(y.stabilizedSha256).toBe(x.stabilizedSha256);
    const diff = await diffArtifacts('dirhash', a, b);
    expect(diff.sameContent).toBe(true);
    expect(diff.archive).toEqual(expect.arrayContaining(['zip-entry-order', 'zip-times', 'zip-extra']));
    expect(diff.archive).not.toContain('zip-modes');
    expect(y.stabilizersApplied).toEqual(expect.arrayContaining(['zip-entry-order', 'zip-times', 'zip-extra']));
  });

  it('keeps what a builder does not stabilize in the stabilized digest', async () => {
    const a = await makeZip(MODULE);
    const b = await makeZip(MODULE.map((f) => ({ ...f, mtime: new Date(Date.UTC(2024, 4, 1)) })));
    const all = [await analyzeArtifact('dirhash', a), await analyzeArtifact('dirhash', b)];
    expect(all[0]!.stabilizedSha256).toBe(all[1]!.stabilizedSha256);
    const some = { stabilizers: ['zip-entry-order', 'zip-compression'] };
    const [x, y] = [await analyzeArtifact('dirhash', a, some), await analyzeArtifact('dirhash', b, some)];
    expect(x.stabilizedSha256).not.toBe(y.stabilizedSha256);
  });

  it('shows an injected line in the diff of two module zips', async () => {
    const clean = await makeZip(MODULE);
    const planted = await makeZip(MODULE.map((f) => (f.name.endsWith('m.go') ? { ...f, content: `${f.content}\nfunc init() { go exfiltrate() }\n` } : f)));
    const reader = await openArtifactDiff('dirhash', clean, planted, { labels: { a: 'rebuilt', b: 'published' } });
    expect(reader.diff.sameContent).toBe(false);
    expect(reader.diff.changed.map((c) => [c.path, c.kind])).toEqual([['example.com/m@v1.0.0/m.go', 'text']]);
    expect(reader.diff.changed[0]!.unified).toContain('+func init() { go exfiltrate() }');
    expect(await reader.readText('b', 'example.com/m@v1.0.0/go.mod', 1000)).toEqual({ kind: 'text', text: MODULE[0]!.content });
    expect(await reader.readText('a', 'nope', 1000)).toEqual({ kind: 'absent' });
  });

  it('analyzes the manifest form like a tarball of the same files', async () => {
    const file = await makeZip([{ name: 'a/', dir: true }, ...MODULE]);
    const a = await analyzeArtifact('zip', file);
    expect(a.entries.find((e) => e.path === 'a')).toMatchObject({ type: 'directory', mode: 0o755 });
    expect(a.entries.find((e) => e.path.endsWith('m.go'))).toMatchObject({ type: 'file', mode: 0o644 });
  });
});

/** Patches bytes of a zip file at every occurrence of `from` (same length). */
async function patched(file: string, from: string, to: string, occurrence: 'first' | 'all' = 'all'): Promise<string> {
  const buf = await readFile(file);
  const f = Buffer.from(from);
  const t = Buffer.from(to);
  expect(t.length).toBe(f.length);
  let at = buf.indexOf(f);
  expect(at).toBeGreaterThanOrEqual(0);
  while (at >= 0) {
    t.copy(buf, at);
    if (occurrence === 'first') break;
    at = buf.indexOf(f, at + 1);
  }
  const out = join(dir, `p${n++}.zip`);
  await writeFile(out, buf);
  return out;
}

describe('hostile zips', () => {
  it('refuses a local header that names another file than the central directory', async () => {
    // the first occurrence is the local header: an extractor reading local headers would write evil.go
    const file = await patched(await makeZip(MODULE), 'm.go', 'x.go', 'first');
    await expect(inspectZip(file, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('local header') });
  });

  it('refuses a repeated path, a traversal and a symbolic link', async () => {
    const twice = await patched(await makeZip([MODULE[0]!, { name: 'example.com/m@v1.0.0/go.moe', content: 'x' }]), 'go.moe', 'go.mod');
    await expect(inspectZip(twice, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('repeats') });
    const up = await patched(await makeZip([{ name: 'aa/evil', content: 'x' }]), 'aa/evil', '../evil');
    await expect(inspectZip(up, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive' });
    const link = await makeZip([{ name: 'link', content: '/etc/passwd', mode: 0o120777 }]);
    await expect(inspectZip(link, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('symbolic link') });
  });

  it('refuses content that fails its CRC, more entries than allowed, and what is not a zip', async () => {
    const bad = await patched(await makeZip([{ name: 'a.txt', content: 'hello world', compress: false }]), 'hello world', 'hellO world');
    await expect(inspectZip(bad, undefined, 'dirhash')).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining('CRC') });
    await expect(inspectZip(await makeZip(MODULE), { maxEntries: 1 }, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('maxEntries') });
    await expect(inspectZip(await makeZip(MODULE), { maxEntryBytes: 10 }, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive' });
    const notZip = join(dir, 'not.zip');
    await writeFile(notZip, 'just text, no zip here');
    await expect(inspectZip(notZip, undefined, 'dirhash')).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(inspectZip(join(dir, 'missing.zip'), undefined, 'dirhash')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('names bytes hidden between records as zip-format', async () => {
    const file = await makeZip(MODULE);
    const buf = await readFile(file);
    const a = await inspectZip(file, undefined, 'dirhash');
    // hide bytes between the last record and the central directory, and point the end record past them
    const hidden = Buffer.from('#!/bin/sh\necho hidden\n');
    const eocd = buf.length - 22;
    const cd = buf.readUInt32LE(eocd + 16);
    const out = Buffer.concat([buf.subarray(0, cd), hidden, buf.subarray(cd)]);
    out.writeUInt32LE(cd + hidden.length, out.length - 22 + 16);
    const prefixed = join(dir, 'hidden.zip');
    await writeFile(prefixed, out);
    const b = await inspectZip(prefixed, undefined, 'dirhash');
    expect(b.analysis.stabilizedSha256).toBe(a.analysis.stabilizedSha256);
    expect(b.archive.gaps).toEqual([[cd, `${hidden.length}:${createHash('sha256').update(hidden).digest('hex')}`]]);
    expect(await diffArtifacts('dirhash', file, prefixed)).toMatchObject({ sameContent: true, archive: ['zip-format'] });
  });
});

interface RawEntrySpec {
  name: Buffer;
  data: Buffer;
  extra?: Buffer;
}

/**
 * A stored (uncompressed) zip written byte by byte, so that a test can build what no zip library
 * writes: a count that hides records, a zip64 locator nobody asked for, extra fields that rename.
 */
async function rawZip(entries: RawEntrySpec[], opts: { declared?: number; hidden?: RawEntrySpec[]; zip64Locator?: boolean } = {}): Promise<string> {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of [...entries, ...(opts.hidden ?? [])]) {
    const extra = e.extra ?? Buffer.alloc(0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt32LE(crc32(e.data), 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(e.name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    parts.push(local, e.name, extra, e.data);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(0x800, 8);
    c.writeUInt32LE(crc32(e.data), 16);
    c.writeUInt32LE(e.data.length, 20);
    c.writeUInt32LE(e.data.length, 24);
    c.writeUInt16LE(e.name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(offset, 42);
    central.push(Buffer.concat([c, e.name, extra]));
    offset += 30 + e.name.length + extra.length + e.data.length;
  }
  const directory = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (opts.zip64Locator) {
    // a zip64 end record and its locator, naming the same directory, while the end record has no markers
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(directory.length), 40);
    rec.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + directory.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(opts.declared ?? entries.length, 8);
  end.writeUInt16LE(opts.declared ?? entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  const file = join(dir, `raw${n++}.zip`);
  await writeFile(file, Buffer.concat([...parts, directory, ...tail, end]));
  return file;
}
const raw = (name: string, data: string, extra?: Buffer): RawEntrySpec => ({ name: Buffer.from(name), data: Buffer.from(data), ...(extra ? { extra } : {}) });

describe('zips that readers would see differently', () => {
  it('reads a plain stored zip written byte by byte (the writer below is sound)', async () => {
    const a = await inspectZip(await rawZip([raw('m@v1/a.go', 'package a\n'), raw('m@v1/b.go', 'package b\n')]), undefined, 'dirhash');
    expect(a.analysis.entries.map((e) => e.path)).toEqual(['m@v1/a.go', 'm@v1/b.go']);
  });

  it('refuses central records hidden beyond the declared count (Go reads them all)', async () => {
    const file = await rawZip([raw('m@v1/a.go', 'package a\n')], { hidden: [raw('m@v1/evil.go', 'package a\nfunc init() {}\n')] });
    await expect(inspectZip(file, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('does not end at its end record') });
  });

  it('refuses a zip64 locator the end record does not call for (yauzl follows it, Go does not)', async () => {
    const file = await rawZip([raw('m@v1/a.go', 'package a\n')], { zip64Locator: true });
    await expect(inspectZip(file, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('zip64 locator') });
  });

  it('refuses a name some extractors would replace (Unicode Path extra field), and a name that is not UTF-8', async () => {
    const target = Buffer.from('m@v1/a.go');
    const field = Buffer.alloc(4 + 5 + target.length);
    field.writeUInt16LE(0x7075, 0);
    field.writeUInt16LE(5 + target.length, 2);
    field.writeUInt8(1, 4);
    field.writeUInt32LE(crc32(Buffer.from('m@v1/a_test.go')), 5);
    target.copy(field, 9);
    const renamed = await rawZip([raw('m@v1/a_test.go', 'package a\n', field)]);
    await expect(inspectZip(renamed, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('renames it') });
    const latin1 = await rawZip([{ name: Buffer.from([0x6d, 0x40, 0x76, 0x31, 0x2f, 0xe9, 0x2e, 0x67, 0x6f]), data: Buffer.from('x') }]);
    await expect(inspectZip(latin1, undefined, 'dirhash')).rejects.toMatchObject({ code: 'unsafe-archive', message: expect.stringContaining('not UTF-8') });
  });
});
