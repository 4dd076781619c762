import { describe, expect, it } from 'vitest';
import { parseReleasePurl } from '@quorum/core';
import { goPurl, readGoSum } from './go-sum.js';

const H1 = 'h1:' + Buffer.alloc(32, 7).toString('base64');

describe('readGoSum', () => {
  it("reads every module version's zip digest, leaving go.mod-only lines out", () => {
    const text = `github.com/BurntSushi/toml v1.3.2 ${H1}\ngithub.com/BurntSushi/toml v1.3.2/go.mod ${H1}\ngolang.org/x/mod v0.7.0/go.mod ${H1}\n\nexample.com/m/v2 v2.0.0+incompatible ${H1}\n`;
    const r = readGoSum('go.sum', text);
    expect(r).toEqual({
      ok: true,
      format: 'go.sum',
      unverifiable: [],
      releases: [
        { purl: 'pkg:golang/github.com/BurntSushi/toml@v1.3.2', stabilizedSha256: '07'.repeat(32), at: 'go.sum:1' },
        { purl: 'pkg:golang/example.com/m/v2@v2.0.0+incompatible', stabilizedSha256: '07'.repeat(32), at: 'go.sum:5' },
      ],
    });
    // what the audit asks is what the farm keys on
    for (const rel of r.ok ? r.releases : []) expect(parseReleasePurl(rel.purl).canonical).toBe(rel.purl);
  });

  it('refuses what is not a go.sum, without guessing', () => {
    expect(readGoSum('go.sum', 'github.com/o/r v1.0.0 sha256-abc\n')).toMatchObject({ ok: false, message: expect.stringContaining('line 1') });
    expect(readGoSum('go.sum', 'github.com/o/r v1.0.0 h1:short\n')).toMatchObject({ ok: false, message: expect.stringContaining('not an h1: hash') });
    expect(readGoSum('go.sum', `../../etc v1.0.0 ${H1}\n`)).toMatchObject({ ok: false });
    expect(readGoSum('go.sum', `github.com/o/r 1.0.0 ${H1}\n`)).toMatchObject({ ok: false, message: expect.stringContaining('canonical Go module version') });
    expect(readGoSum('package-lock.json', '')).toMatchObject({ ok: false });
    // two zips pinned for one version: the go command would take either
    expect(readGoSum('go.sum', `github.com/o/r v1.0.0 ${H1}\ngithub.com/o/r v1.0.0 h1:${Buffer.alloc(32, 8).toString('base64')}\n`)).toMatchObject({
      ok: false,
      message: expect.stringContaining('another h1:'),
    });
    expect(goPurl('example.com/m', 'v1.0.0')).toBe('pkg:golang/example.com/m@v1.0.0');
  });
});
