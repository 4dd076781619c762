import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { MetadataFetch, ReleasePurl } from '@quorum/core';
import { indexEntry, inferCratesRecipe, readCratesMetadata, repositoryOfManifest, type CratesMetadata } from './infer-recipe.js';
import { readCrateFiles } from './read-crate.js';

const purl = (name: string, version: string): ReleasePurl => ({ type: 'cargo', name, version }) as ReleasePurl;
const SHA = '0123456789abcdef0123456789abcdef01234567';
const CKSUM = 'ab'.repeat(32);

/** A .crate made by GNU tar (not by the code under test). */
async function crate(name: string, version: string, files: Record<string, string>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'crate-test-'));
  try {
    const root = `${name}-${version}`;
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(dir, root, path, '..'), { recursive: true });
      await writeFile(join(dir, root, path), text);
    }
    await execa('tar', ['--format=gnu', '--sort=name', '-czf', 'x.crate', root], { cwd: dir });
    return await readFile(join(dir, 'x.crate'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const meta = (over: Partial<CratesMetadata> = {}): CratesMetadata => ({
  entry: { name: 'demo', vers: '1.0.0', cksum: CKSUM, yanked: false },
  dl: 'https://static.crates.io/crates',
  crate: 'https://static.crates.io/crates/demo/1.0.0/download',
  vcs: { git: { sha1: SHA }, path_in_vcs: 'crates/demo' },
  manifest: { name: 'demo', version: '1.0.0', repository: 'https://github.com/o/demo/tree/main/crates/demo' },
  ...over,
});

describe('crate recipes', () => {
  it('takes the commit and directory cargo recorded and the repository the crate names', () => {
    const r = inferCratesRecipe(purl('demo', '1.0.0'), meta(), {});
    expect(r).toMatchObject({
      ok: true,
      upstream: { url: 'https://static.crates.io/crates/demo/1.0.0/download', integrity: `sha256-${Buffer.from(CKSUM, 'hex').toString('base64')}`, filename: 'demo-1.0.0.crate' },
      source: { origin: 'registry', repo: 'https://github.com/o/demo', commit: SHA, directory: 'crates/demo', refs: [] },
      facts: { crateName: 'demo', downloadTemplate: 'https://static.crates.io/crates' },
    });
  });

  it('falls back to the version tags, says a dirty or yanked release, and ignores a path_in_vcs leaving the repository', () => {
    const r = inferCratesRecipe(
      purl('demo', '1.0.0'),
      meta({ vcs: { git: { sha1: 'nope', dirty: true }, path_in_vcs: '../..' }, entry: { name: 'demo', vers: '1.0.0', cksum: CKSUM, yanked: true } }),
      {},
    );
    expect(r.ok && r.source).toMatchObject({ refs: ['v1.0.0', '1.0.0', 'demo-v1.0.0', 'demo-1.0.0'] });
    expect(r.ok && r.source.directory).toBeUndefined();
    expect(r.ok && r.source.steps.join('\n')).toContain('is not a relative directory: ignored');
    expect(r.ok && r.notes!.join('\n')).toMatch(/yanked[\s\S]*uncommitted changes/);
  });

  it('refuses what cannot be built honestly: no such version, a download that is not the pinned crate, no repository', () => {
    expect(inferCratesRecipe(purl('demo', '1.0.0'), {}, {})).toMatchObject({ ok: false, code: 'version-not-found' });
    expect(inferCratesRecipe(purl('Demo', '1.0.0'), meta(), {})).toMatchObject({ ok: false, code: 'version-not-found' });
    expect(inferCratesRecipe(purl('demo', '1.0.0'), meta({ crateProblem: 'the download is not the .crate the index pins' }), {})).toMatchObject({ ok: false, code: 'no-artifact' });
    expect(inferCratesRecipe(purl('demo', '1.0.0'), meta({ manifest: { repository: 'file:///etc' } }), {})).toMatchObject({
      ok: false,
      code: 'source-not-found',
      message: expect.stringContaining('not an http(s) URL'),
    });
    const mapped = inferCratesRecipe(purl('demo', '1.0.0'), meta({ manifest: {} }), {}, { repo: 'https://git.example/demo' });
    expect(mapped).toMatchObject({ ok: true, source: { origin: 'mapping', repo: 'https://git.example/demo' } });
    expect(inferCratesRecipe(purl('demo', '1.0.0'), meta(), { ref: 'main' })).toMatchObject({ ok: true, source: { origin: 'override', refs: ['main'] } });
  });

  it('normalizes the repository URLs crates declare', () => {
    expect(repositoryOfManifest('https://github.com/serde-rs/serde/')).toBe('https://github.com/serde-rs/serde');
    expect(repositoryOfManifest('https://gitlab.com/o/r.git')).toBe('https://gitlab.com/o/r');
    expect(repositoryOfManifest('https://user:pw@git.example/r')).toBeUndefined();
    expect(repositoryOfManifest('git@github.com:o/r')).toBeUndefined();
  });

  it('finds one version among the lines of an index file, skipping broken lines', () => {
    const text = `{"name":"demo","vers":"1.0.0"}\nnot json "1.0.1"\n{"name":"demo","vers":"1.0.10"}\n`;
    expect(indexEntry(text, '1.0.10')).toEqual({ name: 'demo', vers: '1.0.10' });
    expect(indexEntry(text, '1.0.1')).toBeUndefined();
  });
});

describe('reading the index and the crate', () => {
  const serve = (docs: Record<string, unknown>): { fetch: MetadataFetch; asked: string[] } => {
    const asked: string[] = [];
    return {
      asked,
      fetch: async (url) => {
        asked.push(url);
        if (!(url in docs)) throw new Error(`unexpected ${url}`);
        return docs[url];
      },
    };
  };

  it('reads the recorded commit and repository from the .crate the index pins, and only from the configured download host', async () => {
    const bytes = await crate('demo', '1.0.0', {
      '.cargo_vcs_info.json': JSON.stringify({ git: { sha1: SHA }, path_in_vcs: '' }),
      'Cargo.toml': '[package]\nname = "demo"\nversion = "1.0.0"\nrepository = "https://github.com/o/demo"\n',
      'src/lib.rs': 'x'.repeat(5000),
    });
    const cksum = createHash('sha256').update(bytes).digest('hex');
    const line = JSON.stringify({ name: 'demo', vers: '1.0.0', cksum });
    const { fetch } = serve({ 'https://index.test/config.json': { dl: 'https://dl.test/c' }, 'https://index.test/de/mo/demo': `${line}\n`, 'https://dl.test/c/demo/1.0.0/download': bytes });
    const m = await readCratesMetadata(purl('demo', '1.0.0'), 'https://index.test', fetch, { QUORUM_CARGO_DOWNLOADS: 'https://dl.test' });
    expect(m).toMatchObject({ vcs: { git: { sha1: SHA } }, manifest: { name: 'demo', repository: 'https://github.com/o/demo' } });
    expect(m.crateProblem).toBeUndefined();

    const elsewhere = serve({ 'https://index.test/config.json': { dl: 'http://169.254.169.254/c' }, 'https://index.test/de/mo/demo': `${line}\n` });
    const refused = await readCratesMetadata(purl('demo', '1.0.0'), 'https://index.test', elsewhere.fetch, { QUORUM_CARGO_DOWNLOADS: 'https://dl.test' });
    expect(refused.crateProblem).toContain('the index sends downloads to http://169.254.169.254, not to QUORUM_CARGO_DOWNLOADS');
    expect(elsewhere.asked).not.toContain('http://169.254.169.254/c/demo/1.0.0/download');

    const swapped = serve({
      'https://index.test/config.json': { dl: 'https://dl.test/c' },
      'https://index.test/de/mo/demo': `${line.replace(cksum, 'f'.repeat(64))}\n`,
      'https://dl.test/c/demo/1.0.0/download': bytes,
    });
    const wrong = await readCratesMetadata(purl('demo', '1.0.0'), 'https://index.test', swapped.fetch, { QUORUM_CARGO_DOWNLOADS: 'https://dl.test' });
    expect(wrong.crateProblem).toContain('the download is not the .crate the index pins');
    expect(wrong.vcs).toBeUndefined();
  });

  it('refuses an index whose download template puts a name into the host', async () => {
    const { fetch, asked } = serve({
      'https://index.test/config.json': { dl: 'https://static.crates.{lowerprefix}/../c/{crate}' },
      'https://index.test/io/ta/iota': `${JSON.stringify({ name: 'iota', vers: '1.0.0', cksum: CKSUM })}\n`,
    });
    const m = await readCratesMetadata(purl('iota', '1.0.0'), 'https://index.test', fetch, { QUORUM_CARGO_DOWNLOADS: 'https://static.crates.io' });
    expect(m.crateProblem).toContain("fills a crate's name into its host");
    expect(asked.filter((u) => u.includes('static.crates'))).toEqual([]);
  });

  it('refuses a crate whose tar renames an entry for some readers (pax), or holds a wanted file twice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crate-pax-'));
    try {
      await mkdir(join(dir, 'foo-1.0.0'));
      await writeFile(join(dir, 'foo-1.0.0', 'notes.toml'), 'repository = "https://github.com/attacker/fork"\n');
      // pax path makes the entry notes.toml for tar and cargo; its ustar name says Cargo.toml
      await execa('tar', ['--format=pax', '--pax-option=path:=foo-1.0.0/notes.toml', '-czf', 'x.crate', '--transform=s,notes.toml,Cargo.toml,', 'foo-1.0.0/notes.toml'], { cwd: dir });
      await expect(readCrateFiles(await readFile(join(dir, 'x.crate')), ['foo-1.0.0/Cargo.toml'])).rejects.toThrow(/'x' record/);
      await execa('tar', ['--format=gnu', '-czf', 'y.crate', 'foo-1.0.0/notes.toml', 'foo-1.0.0/notes.toml'], { cwd: dir });
      await expect(readCrateFiles(await readFile(join(dir, 'y.crate')), ['foo-1.0.0/notes.toml', 'foo-1.0.0/other'])).rejects.toThrow(/twice/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads only what it needs of a crate, and refuses one that is not a gzipped tar', async () => {
    const bytes = await crate('big', '1.0.0', { 'a/data.bin': 'y'.repeat(3_000_000), 'Cargo.toml': '[package]\nname = "big"\n' });
    expect(Object.keys(await readCrateFiles(bytes, ['big-1.0.0/Cargo.toml']))).toEqual(['big-1.0.0/Cargo.toml']);
    // a tar larger than the scan bound before the file is found
    await expect(readCrateFiles(bytes, ['big-1.0.0/missing'], 1_000_000)).rejects.toThrow(/larger than/);
    await expect(readCrateFiles(Buffer.from('not gzip'), ['x'])).rejects.toThrow();
  });
});
