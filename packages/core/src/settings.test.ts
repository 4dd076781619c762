import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boolSetting, intSetting, refProblem, repoUrlProblem, urlSetting } from './config-values.js';
import { quorumSettings } from './settings.js';

describe('quorumSettings', () => {
  const file = (content: string) => {
    const f = join(mkdtempSync(join(tmpdir(), 'quorum-settings-')), 'farm.json');
    writeFileSync(f, content);
    return f;
  };
  it('reads the config file and lets the environment win', () => {
    const f = file(JSON.stringify({ QUORUM_PORT: 9000, QUORUM_NPM_REGISTRY: 'http://registry.test' }));
    expect(quorumSettings({ QUORUM_CONFIG: f, QUORUM_PORT: '9100', PATH: '/bin' })).toEqual({
      QUORUM_CONFIG: f,
      QUORUM_PORT: '9100',
      QUORUM_NPM_REGISTRY: 'http://registry.test',
    });
  });
  it('names the file and the problem when it is unusable', () => {
    expect(() => quorumSettings({ QUORUM_CONFIG: file('{ nope') })).toThrow(/cannot read config file .*farm.json/);
    expect(() => quorumSettings({ QUORUM_CONFIG: file('[1]') })).toThrow(/JSON object/);
    expect(() => quorumSettings({ QUORUM_CONFIG: file('{"PORT": 1}') })).toThrow(/unknown key "PORT"/);
    expect(() => quorumSettings({ QUORUM_CONFIG: '/nonexistent/farm.json' })).toThrow(/cannot read config file/);
  });
});

describe('setting values', () => {
  it('parses and bounds integers, booleans and URLs, naming the setting on error', () => {
    expect(intSetting('QUORUM_PORT', '8081', 8080, 0, 65535)).toBe(8081);
    expect(intSetting('QUORUM_PORT', undefined, 8080)).toBe(8080);
    expect(() => intSetting('QUORUM_PORT', '70000', 8080, 0, 65535)).toThrow(/QUORUM_PORT must be an integer between 0 and 65535/);
    expect(() => intSetting('QUORUM_PORT', 'eighty', 8080)).toThrow(/QUORUM_PORT/);
    expect(boolSetting('QUORUM_ALLOW_LOCAL_REPOS', 'yes', false)).toBe(true);
    expect(boolSetting('QUORUM_ALLOW_LOCAL_REPOS', '0', true)).toBe(false);
    expect(() => boolSetting('QUORUM_ALLOW_LOCAL_REPOS', 'maybe', false)).toThrow(/must be a boolean/);
    expect(urlSetting('QUORUM_NPM_REGISTRY', 'http://r.test/', 'x')).toBe('http://r.test');
    expect(() => urlSetting('QUORUM_NPM_REGISTRY', 'not a url', 'x')).toThrow(/must be a URL/);
  });
  it('refuses local and exotic repositories unless allowed', () => {
    expect(repoUrlProblem('https://github.com/o/r.git', false)).toBeUndefined();
    expect(repoUrlProblem('file:///srv/repo', false)).toMatch(/QUORUM_ALLOW_LOCAL_REPOS/);
    expect(repoUrlProblem('file:///srv/repo', true)).toBeUndefined();
    expect(repoUrlProblem('ext::sh -c evil', true)).toBeDefined();
    expect(repoUrlProblem('ftp://x/y', true)).toMatch(/not supported/);
  });
  it('accepts plain refs and refuses option-like or traversing ones', () => {
    for (const ok of ['v1.2.3', '1.2.3', '@scope/name@1.2.3', 'release/1.x', 'a'.repeat(40)]) expect(refProblem(ok)).toBeUndefined();
    for (const bad of ['--upload-pack=x', '-v', 'a..b', 'v1 2', '']) expect(refProblem(bad)).toBeDefined();
  });
});
