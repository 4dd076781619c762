import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffTgz, openTgzDiff } from './index.js';

type Entry = Partial<Header> & { name: string; body?: string | Buffer };

async function tgz(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => pack.entry({ mtime: new Date(0), ...header }, body ?? '', (e) => (e ? reject(e) : resolve())));
  }
  pack.finalize();
  return gzipSync(await collected);
}

let dir = '';
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorum-open-diff-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(entries: Entry[]): Promise<string> {
  const path = join(dir, `artifact-${n++}.tgz`);
  await writeFile(path, await tgz(entries));
  return path;
}

const MANIFEST_A = '{"name":"x","version":"1.0.0"}\n';
const MANIFEST_B = '{"name":"x","version":"1.0.0","scripts":{"postinstall":"node evil.js"}}\n';

describe('openTgzDiff', () => {
  it('gives the same diff as diffTgz and reads a small entry from either side', async () => {
    const a = await file([
      { name: 'package/index.js', body: 'module.exports = 1;\n' },
      { name: 'package/package.json', body: MANIFEST_A },
    ]);
    const b = await file([
      { name: 'package/index.js', body: 'module.exports = 1;\n' },
      { name: 'package/package.json', body: MANIFEST_B },
      { name: 'package/evil.js', body: 'require("child_process")\n' },
    ]);
    const reader = await openTgzDiff(a, b);
    expect(reader.diff).toEqual(await diffTgz(a, b));
    expect(await reader.readText('a', 'package/package.json', 1024)).toEqual({ kind: 'text', text: MANIFEST_A });
    expect(await reader.readText('b', 'package/package.json', 1024)).toEqual({ kind: 'text', text: MANIFEST_B });
    expect(await reader.readText('a', 'package/evil.js', 1024)).toEqual({ kind: 'absent' });
    expect(await reader.readText('b', 'package/evil.js', 1024)).toEqual({ kind: 'text', text: 'require("child_process")\n' });
    // an entry equal on both sides reads the same from either
    expect(await reader.readText('a', 'package/index.js', 1024)).toEqual(await reader.readText('b', 'package/index.js', 1024));
  });

  it('refuses to read what is too large, binary or not a regular file, before reading it where it can', async () => {
    const entries: Entry[] = [
      { name: 'package/big.json', body: `"${'x'.repeat(5000)}"` },
      { name: 'package/blob.bin', body: Buffer.from([0x7b, 0x00, 0x7d]) },
      { name: 'package/link.json', type: 'symlink', linkname: 'big.json' },
      { name: 'package/lib', type: 'directory' },
      { name: 'package/package.json', body: MANIFEST_A },
    ];
    const reader = await openTgzDiff(await file(entries), await file([...entries.slice(0, 4), { name: 'package/package.json', body: MANIFEST_B }]));
    expect(await reader.readText('b', 'package/big.json', 1024)).toEqual({ kind: 'unreadable', reason: 'larger than 1024 bytes (5002 bytes)' });
    expect(await reader.readText('b', 'package/blob.bin', 1024)).toEqual({ kind: 'unreadable', reason: 'binary content (NUL byte in the first 8 KiB)' });
    expect(await reader.readText('b', 'package/link.json', 1024)).toEqual({ kind: 'unreadable', reason: 'a symlink, not a regular file' });
    expect(await reader.readText('b', 'package/lib', 1024)).toEqual({ kind: 'unreadable', reason: 'a directory, not a regular file' });
  });

  it('finds paths by their normalized name', async () => {
    const a = await file([{ name: 'package/./package.json', body: MANIFEST_A }]);
    const b = await file([{ name: 'package//package.json', body: MANIFEST_B }]);
    const reader = await openTgzDiff(a, b);
    expect(reader.diff.changed.map((c) => c.path)).toEqual(['package/package.json']);
    expect(await reader.readText('a', 'package/package.json', 1024)).toEqual({ kind: 'text', text: MANIFEST_A });
    expect(await reader.readText('b', 'package/package.json', 1024)).toEqual({ kind: 'text', text: MANIFEST_B });
  });

  it('lists files whose execute bit alone differs', async () => {
    const a = await file([
      { name: 'package/cli', body: '#!/usr/bin/env node\n', mode: 0o644 },
      { name: 'package/README.md', body: '# x\n', mode: 0o644 },
    ]);
    const b = await file([
      { name: 'package/cli', body: '#!/usr/bin/env node\n', mode: 0o755 },
      // another stored mode with the same execute bits is no mode change
      { name: 'package/README.md', body: '# x\n', mode: 0o664 },
    ]);
    const reader = await openTgzDiff(a, b);
    expect(reader.modeChanged).toEqual([{ path: 'package/cli', type: 'file' }]);
    expect(reader.diff.changed).toEqual([]);
  });

  it('notices an artifact replaced after the diff instead of reading the new content', async () => {
    const b = await file([{ name: 'package/package.json', body: MANIFEST_B }]);
    const reader = await openTgzDiff(await file([{ name: 'package/package.json', body: MANIFEST_A }]), b);
    await writeFile(b, await tgz([{ name: 'package/package.json', body: MANIFEST_B.replace('evil', 'evel') }]));
    await expect(reader.readText('b', 'package/package.json', 1024)).rejects.toThrow(/changed between the two passes/);
  });
});
