import { describe, expect, it } from 'vitest';
import { cratePurlProblem, downloadUrl, indexPath, sriOfHexSha256 } from './crate-name.js';

describe('crate names and the index layout', () => {
  it('files a crate under the index path cargo uses, in lower case', () => {
    expect(indexPath('a')).toBe('1/a');
    expect(indexPath('ab')).toBe('2/ab');
    expect(indexPath('abc')).toBe('3/a/abc');
    expect(indexPath('Serde_JSON')).toBe('se/rd/serde_json');
  });

  it("fills the index's download template, or adds the conventional path to a bare base URL", () => {
    const sum = 'ab'.repeat(32);
    expect(downloadUrl('https://static.crates.io/crates', 'serde', '1.0.0', sum)).toBe('https://static.crates.io/crates/serde/1.0.0/download');
    expect(downloadUrl('https://dl.example/{prefix}/{lowerprefix}/{crate}-{version}.crate?sum={sha256-checksum}', 'MyCrate', '1.0.0+x', sum)).toBe(
      `https://dl.example/My/Cr/my/cr/MyCrate-1.0.0%2Bx.crate?sum=${sum}`,
    );
  });

  it('refuses names and versions no cargo registry can have', () => {
    expect(cratePurlProblem({ namespace: undefined, name: 'serde', version: '1.0.200' })).toBeUndefined();
    expect(cratePurlProblem({ namespace: 'x', name: 'serde', version: '1.0.0' })).toMatch(/no namespace/);
    expect(cratePurlProblem({ namespace: undefined, name: '../etc', version: '1.0.0' })).toMatch(/is not a crate name/);
    expect(cratePurlProblem({ namespace: undefined, name: 'a'.repeat(65), version: '1.0.0' })).toMatch(/at most 64/);
    expect(cratePurlProblem({ namespace: undefined, name: 'serde', version: '01.0.0' })).toMatch(/not a crate version/);
  });

  it('turns a hex sha256 into an SRI string and refuses anything else', () => {
    expect(sriOfHexSha256('00'.repeat(32))).toBe(`sha256-${Buffer.alloc(32).toString('base64')}`);
    expect(sriOfHexSha256('AB'.repeat(32))).toBeUndefined();
    expect(sriOfHexSha256('ab'.repeat(31))).toBeUndefined();
    expect(sriOfHexSha256(7)).toBeUndefined();
  });
});
