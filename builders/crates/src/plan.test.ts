import { describe, expect, it } from 'vitest';
import { decideCratesInputs } from './plan.js';

const SUM = 'd'.repeat(64);
const release = { version: '0.2.0', facts: { crateName: 'tool', downloadTemplate: 'https://dl.test/crates' } };
const TOML = '[package]\nname = "tool"\nversion = "0.2.0"\n\n[dependencies]\nitoa = "1"\n';
const LOCK = `version = 3\n[[package]]\nname = "itoa"\nversion = "1.0.9"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${SUM}"\n\n[[package]]\nname = "tool"\nversion = "0.2.0"\n`;

describe("a crate build's inputs", () => {
  it('needs nothing for a library: cargo packs it without resolving', () => {
    expect(decideCratesInputs({ 'Cargo.toml': TOML, 'Cargo.lock': LOCK }, {}, 'https://index.test', release)).toEqual({ tools: [], dependencies: [], install: false, notes: [] });
  });

  it("fetches every registry crate of a binary's Cargo.lock by the checksum it pins, the workspace's lockfile when the package has none", () => {
    const d = decideCratesInputs({ 'Cargo.toml': TOML, 'src/main.rs': 'fn main() {}', 'root/Cargo.lock': LOCK }, {}, 'https://index.test', release);
    expect(d.problem).toBeUndefined();
    expect(d.dependencies).toEqual([{ url: 'https://dl.test/crates/itoa/1.0.9/download', integrity: `sha256-${Buffer.from(SUM, 'hex').toString('base64')}`, path: 'crates/itoa-1.0.9.crate' }]);
    expect(d.install).toBe(true);
  });

  it('refuses a source that is not this crate and a binary whose dependencies cannot be fetched offline', () => {
    expect(decideCratesInputs({}, {}, 'https://index.test', release).problem).toMatchObject({ code: 'source-mismatch' });
    expect(decideCratesInputs({ 'Cargo.toml': TOML.replace('"tool"', '"other"') }, {}, 'https://index.test', release).problem).toMatchObject({
      code: 'source-mismatch',
      message: expect.stringContaining('"other"'),
    });
    expect(decideCratesInputs({ 'Cargo.toml': TOML.replace('0.2.0', '0.3.0') }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'source-mismatch' });
    expect(decideCratesInputs({ 'Cargo.toml': '[package\n' }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'source-mismatch' });
    const bin = { 'Cargo.toml': TOML, 'src/main.rs': 'fn main() {}' };
    expect(decideCratesInputs(bin, {}, 'https://index.test', release).problem).toMatchObject({ code: 'unpinned-dependency' });
    const git = LOCK.replace('registry+https://github.com/rust-lang/crates.io-index', 'git+https://github.com/x/itoa#abc');
    expect(decideCratesInputs({ ...bin, 'Cargo.lock': git }, {}, 'https://index.test', release).problem).toMatchObject({
      code: 'unpinned-dependency',
      message: expect.stringContaining('comes from git'),
    });
    expect(decideCratesInputs({ ...bin, 'Cargo.lock': LOCK.replace(`checksum = "${SUM}"\n`, '') }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'unpinned-dependency' });
  });
});
