import { describe, expect, it } from 'vitest';
import { parseCargoLock, readCargoLock } from './cargo-lock.js';

const SUM = 'c'.repeat(64);
const LOCK = `version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["itoa", "private", "forked"]

[[package]]
name = "itoa"
version = "1.0.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "${SUM}"

[[package]]
name = "private"
version = "0.3.0"
source = "registry+https://crates.internal.example/index"
checksum = "${SUM}"

[[package]]
name = "forked"
version = "0.1.0"
source = "git+https://github.com/someone/forked?branch=main#0123456789abcdef0123456789abcdef01234567"
`;

describe('Cargo.lock', () => {
  it('pins registry crates by their checksum and names git and other registries as from elsewhere', () => {
    const r = readCargoLock('Cargo.lock', LOCK);
    expect(r).toEqual({
      ok: true,
      format: 'Cargo.lock',
      releases: [{ purl: 'pkg:cargo/itoa@1.0.9', integrity: `sha256-${Buffer.from(SUM, 'hex').toString('base64')}`, at: 'Cargo.lock:package[1] itoa' }],
      unverifiable: [
        { name: 'private', at: 'Cargo.lock:package[2] private', why: 'installed from another registry (registry+https://crates.internal.example/index)' },
        { name: 'forked', at: 'Cargo.lock:package[3] forked', why: expect.stringContaining('installed from git') },
      ],
    });
    // a registry the farm is configured with is not elsewhere
    const configured = readCargoLock('Cargo.lock', LOCK, { registries: ['https://crates.internal.example/index'] });
    expect(configured.ok && configured.releases.map((x) => x.purl)).toEqual(['pkg:cargo/itoa@1.0.9', 'pkg:cargo/private@0.3.0']);
  });

  it('reads the checksums of a format 1 lockfile from its metadata table', () => {
    const v1 = `[[package]]\nname = "itoa"\nversion = "0.4.8"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n\n[metadata]\n"checksum itoa 0.4.8 (registry+https://github.com/rust-lang/crates.io-index)" = "${SUM}"\n`;
    const p = parseCargoLock(v1);
    expect(p.ok && p.packages[0]!.checksum).toBe(SUM);
  });

  it('refuses a lockfile pinning one version by two checksums (cargo would take either)', () => {
    const twice = `${LOCK}\n[[package]]\nname = "itoa"\nversion = "1.0.9"\nsource = "sparse+https://index.crates.io/"\nchecksum = "${'e'.repeat(64)}"\n`;
    expect(readCargoLock('Cargo.lock', twice)).toMatchObject({ ok: false, message: expect.stringContaining('by another checksum') });
  });

  it('refuses what is not a Cargo.lock, and a hostile name, without throwing', () => {
    expect(readCargoLock('go.sum', LOCK)).toMatchObject({ ok: false });
    expect(readCargoLock('Cargo.lock', '[[package]\nname=')).toMatchObject({ ok: false, message: expect.stringMatching(/not TOML/) });
    expect(readCargoLock('Cargo.lock', 'package = 3\n')).toMatchObject({ ok: false });
    const hostile = `[[package]]\nname = "../x"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${SUM}"\n`;
    expect(readCargoLock('Cargo.lock', hostile)).toMatchObject({ ok: false, message: expect.stringMatching(/not a crate name/) });
  });
});
