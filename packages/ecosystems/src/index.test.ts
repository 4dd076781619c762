import { describe, expect, it } from 'vitest';
import type { Builder } from '@quorum/core';
import { ALL_BUILDERS, builderOriginsFrom, builderSettingsFrom, registered } from './index.js';

describe('builder registration', () => {
  it('refuses a builder whose format or stabilizers the compare package does not have', () => {
    const npm = ALL_BUILDERS.find((b) => b.ecosystem === 'npm')!;
    expect(() => registered([{ ...npm, artifactFormat: 'rar' } as Builder])).toThrow(/unknown artifact format "rar"/);
    expect(() => registered([{ ...npm, stabilizers: ['tar-times', 'zip-times'] } as Builder])).toThrow(/zip-times are not tgz stabilizers/);
    expect(registered([npm])).toEqual([npm]);
  });
});

describe("builders' own settings", () => {
  it('takes each from the settings, else its default, and allows the origins they name', () => {
    const defaults = builderSettingsFrom({});
    expect(defaults.golang?.QUORUM_GOSUMDB).toMatch(/^sum\.golang\.org\+033de0ae\+/);
    expect(defaults.npm).toEqual({});
    expect(defaults.cargo).toEqual({ QUORUM_CARGO_DOWNLOADS: 'https://static.crates.io' });
    expect(builderOriginsFrom(defaults)).toEqual(['https://sum.golang.org', 'https://static.crates.io']);
    const local = builderSettingsFrom({ QUORUM_GOSUMDB: `${defaults.golang!.QUORUM_GOSUMDB} http://127.0.0.1:9999/sumdb`, QUORUM_CARGO_DOWNLOADS: 'http://127.0.0.1:8888/dl' });
    expect(builderOriginsFrom(local)).toEqual(['http://127.0.0.1:9999', 'http://127.0.0.1:8888']);
    expect(builderOriginsFrom(builderSettingsFrom({ QUORUM_GOSUMDB: 'off' }))).toEqual(['https://static.crates.io']);
    // a malformed value stops the process at its start, not at the first lookup
    expect(() => builderOriginsFrom(builderSettingsFrom({ QUORUM_GOSUMDB: 'sum.golang.org' }))).toThrow(/QUORUM_GOSUMDB/);
    expect(() => builderOriginsFrom(builderSettingsFrom({ QUORUM_CARGO_DOWNLOADS: 'static.crates.io' }))).toThrow(/QUORUM_CARGO_DOWNLOADS/);
    expect(() => builderOriginsFrom(builderSettingsFrom({ QUORUM_CARGO_DOWNLOADS: 'file:///etc' }))).toThrow(/QUORUM_CARGO_DOWNLOADS must be an http/);
  });
});
