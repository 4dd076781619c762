import { describe, expect, it } from 'vitest';
import { decideCratesInputs } from './plan.js';

const SUM = 'd'.repeat(64);
const release = { version: '0.2.0', facts: { crateName: 'tool', downloadTemplate: 'https://dl.test/crates', downloadOrigin: 'https://dl.test' } };
const TOML = '[package]\nname = "tool"\nversion = "0.2.0"\n\n[dependencies]\nitoa = "1"\n';
const LOCK = `version = 3\n[[package]]\nname = "itoa"\nversion = "1.0.9"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${SUM}"\n\n[[package]]\nname = "tool"\nversion = "0.2.0"\n`;

describe("a crate build's inputs", () => {
  it('needs nothing for a crate without dependencies', () => {
    const bare = '[package]\nname = "tool"\nversion = "0.2.0"\n';
    expect(decideCratesInputs({ 'Cargo.toml': bare, 'Cargo.lock': LOCK }, {}, 'https://index.test', release)).toEqual({ tools: [], dependencies: [], install: false, notes: [] });
  });

  it("fetches every registry crate of the source's Cargo.lock by the checksum it pins, the workspace's lockfile when the package has none", () => {
    const d = decideCratesInputs({ 'Cargo.toml': TOML, 'root/Cargo.lock': LOCK }, {}, 'https://index.test', release);
    expect(d.problem).toBeUndefined();
    expect(d.dependencies).toEqual([{ url: 'https://dl.test/crates/itoa/1.0.9/download', integrity: `sha256-${Buffer.from(SUM, 'hex').toString('base64')}`, path: 'crates/itoa-1.0.9.crate' }]);
    expect(d.install).toBe(true);
    expect(d.notes).toEqual([]);
  });

  it("takes the published crate's Cargo.lock when the source commits none, and says so; the source's wins", () => {
    const published = LOCK.replace('1.0.9', '1.0.8');
    const d = decideCratesInputs({ 'Cargo.toml': TOML }, {}, 'https://index.test', { ...release, facts: { ...release.facts, publishedLock: published } });
    expect(d.dependencies.map((x) => x.path)).toEqual(['crates/itoa-1.0.8.crate']);
    expect(d.notes.join('\n')).toContain("the published crate's own Cargo.lock");
    const own = decideCratesInputs({ 'Cargo.toml': TOML, 'Cargo.lock': LOCK }, {}, 'https://index.test', { ...release, facts: { ...release.facts, publishedLock: published } });
    expect(own.dependencies.map((x) => x.path)).toEqual(['crates/itoa-1.0.9.crate']);
    // target-specific dependencies count too
    const underscored = '[package]\nname = "tool"\nversion = "0.2.0"\n\n[dev_dependencies]\nitoa = "1"\n';
    expect(decideCratesInputs({ 'Cargo.toml': underscored }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'unpinned-dependency' });
    const targeted = '[package]\nname = "tool"\nversion = "0.2.0"\n\n[target.\'cfg(unix)\'.dependencies]\nlibc = "0.2"\n';
    expect(decideCratesInputs({ 'Cargo.toml': targeted }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'unpinned-dependency' });
  });

  it("adds to the source's Cargo.lock what only the published one pins (the workspace's own packages), and says so", () => {
    const workspaceLock = `${LOCK}\n[[package]]\nname = "sibling"\nversion = "0.1.0"\n`;
    const publishedLock = `${LOCK}\n[[package]]\nname = "sibling"\nversion = "0.1.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${'f'.repeat(64)}"\n`;
    const d = decideCratesInputs({ 'Cargo.toml': TOML, 'root/Cargo.lock': workspaceLock }, {}, 'https://index.test', { ...release, facts: { ...release.facts, publishedLock } });
    expect(d.dependencies.map((x) => x.path)).toEqual(['crates/itoa-1.0.9.crate', 'crates/sibling-0.1.0.crate']);
    expect(d.notes.join('\n')).toContain("1 crates the source's Cargo.lock does not pin");
    // the published lockfile adds nothing else, and cannot re-pin what the source pins
    const repinned = LOCK.replace(SUM, 'a'.repeat(64));
    const mixed = decideCratesInputs({ 'Cargo.toml': TOML, 'Cargo.lock': LOCK }, {}, 'https://index.test', { ...release, facts: { ...release.facts, publishedLock: repinned } });
    expect(mixed.dependencies).toEqual([expect.objectContaining({ integrity: `sha256-${Buffer.from(SUM, 'hex').toString('base64')}` })]);
  });

  it('refuses a readme or licence file cargo would copy from outside the repository', () => {
    const withFile = (line: string) => ({ 'Cargo.toml': TOML.replace('version = "0.2.0"\n', `version = "0.2.0"\n${line}\n`) });
    const deep = { ...release, facts: { ...release.facts, packageDirectory: 'crates/tool' } };
    expect(decideCratesInputs(withFile('license-file = "/etc/os-release"'), {}, 'https://index.test', deep).problem).toMatchObject({ code: 'source-refused' });
    expect(decideCratesInputs(withFile('readme = "../../../secret.md"'), {}, 'https://index.test', deep).problem).toMatchObject({ code: 'source-refused' });
    expect(decideCratesInputs(withFile('readme = "../../.git/config"'), {}, 'https://index.test', deep).problem).toMatchObject({ code: 'source-refused' });
    // the workspace root's README, from a member two levels down, is the repository's
    expect(decideCratesInputs({ ...withFile('readme = "../../README.md"'), 'Cargo.lock': LOCK }, {}, 'https://index.test', deep).problem).toBeUndefined();
    const inherited = { ...withFile('readme.workspace = true'), 'root/Cargo.toml': '[workspace]\nmembers = ["crates/*"]\n[workspace.package]\nreadme = "/etc/passwd"\n' };
    expect(decideCratesInputs(inherited, {}, 'https://index.test', deep).problem).toMatchObject({ code: 'source-refused' });
  });

  it('refuses a source that is not this crate and dependencies that cannot be fetched offline', () => {
    expect(decideCratesInputs({}, {}, 'https://index.test', release).problem).toMatchObject({ code: 'source-mismatch' });
    expect(decideCratesInputs({ 'Cargo.toml': TOML.replace('"tool"', '"other"') }, {}, 'https://index.test', release).problem).toMatchObject({
      code: 'source-mismatch',
      message: expect.stringContaining('"other"'),
    });
    expect(decideCratesInputs({ 'Cargo.toml': TOML.replace('0.2.0', '0.3.0') }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'source-mismatch' });
    expect(decideCratesInputs({ 'Cargo.toml': '[package\n' }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'source-mismatch' });
    const bin = { 'Cargo.toml': TOML };
    expect(decideCratesInputs(bin, {}, 'https://index.test', release).problem).toMatchObject({ code: 'unpinned-dependency' });
    const git = LOCK.replace('registry+https://github.com/rust-lang/crates.io-index', 'git+https://github.com/x/itoa#abc');
    expect(decideCratesInputs({ ...bin, 'Cargo.lock': git }, {}, 'https://index.test', release).problem).toMatchObject({
      code: 'unpinned-dependency',
      message: expect.stringContaining('comes from git'),
    });
    expect(decideCratesInputs({ ...bin, 'Cargo.lock': LOCK.replace(`checksum = "${SUM}"\n`, '') }, {}, 'https://index.test', release).problem).toMatchObject({ code: 'unpinned-dependency' });
    // a template that sends some names elsewhere is refused for them, whatever the release's own URL
    const spread = { ...release, facts: { ...release.facts, downloadTemplate: 'https://dl.test{prefix}/c/{crate}' } };
    expect(decideCratesInputs({ ...bin, 'Cargo.lock': LOCK }, {}, 'https://index.test', spread).problem).toMatchObject({ message: expect.stringContaining('would be downloaded from') });
    // two entries landing on one input file: the same version twice by two checksums, a name and version that are not a crate's
    const twice = `${LOCK}\n[[package]]\nname = "itoa"\nversion = "1.0.9"\nsource = "sparse+https://index.crates.io/"\nchecksum = "${'e'.repeat(64)}"\n`;
    expect(decideCratesInputs({ ...bin, 'Cargo.lock': twice }, {}, 'https://index.test', release).problem).toMatchObject({ message: expect.stringContaining('two checksums') });
    const odd = LOCK.replace('name = "itoa"\nversion = "1.0.9"', 'name = "foo"\nversion = "bar-1.0.0"');
    expect(decideCratesInputs({ ...bin, 'Cargo.lock': odd }, {}, 'https://index.test', release).problem).toMatchObject({ message: expect.stringContaining('not a crate version') });
  });
});
