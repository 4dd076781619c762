import { describe, expect, it } from 'vitest';
import { registrySpecProblem, resolutionManifest } from './resolution-manifest.js';

describe('resolutionManifest', () => {
  it('keeps the dependency declarations and drops scripts, config and workspaces-free extras', () => {
    const r = resolutionManifest({
      name: 'p',
      version: '1.2.3',
      scripts: { preinstall: 'curl evil', prepare: 'tsc' },
      publishConfig: { registry: 'http://evil.example/' },
      config: { registry: 'http://evil.example/' },
      dependencies: { a: '^1.0.0', b: 'npm:c@^2.0.0', d: 'latest' },
      devDependencies: { typescript: '5.x || >=6' },
      overrides: { a: { e: '1.0.0' }, f: '$a' },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(JSON.parse(r.text)).toEqual({
      name: 'p',
      version: '1.2.3',
      dependencies: { a: '^1.0.0', b: 'npm:c@^2.0.0', d: 'latest' },
      devDependencies: { typescript: '5.x || >=6' },
      overrides: { a: { e: '1.0.0' }, f: '$a' },
    });
  });
  it('refuses workspaces without a lockfile', () => {
    expect(resolutionManifest({ name: 'p', workspaces: ['a'] })).toMatchObject({ ok: false });
  });
  it('refuses non-registry specs in dependencies and in overrides', () => {
    expect(resolutionManifest({ dependencies: { a: 'github:x/y' } })).toMatchObject({ ok: false, message: expect.stringMatching(/dependencies\.a/) });
    expect(resolutionManifest({ overrides: { a: 'file:../a' } })).toMatchObject({ ok: false, message: expect.stringMatching(/^overrides/) });
    expect(resolutionManifest({ dependencies: ['a'] })).toMatchObject({ ok: false });
  });
});

describe('registrySpecProblem', () => {
  it.each(['1.2.3', '^1', '~1.2', '>=1 <2', '1.x', '*', '', 'latest', 'next', 'npm:@s/p@^1', 'npm:p'])('accepts %s', (spec) => {
    expect(registrySpecProblem('a', spec)).toBeUndefined();
  });
  it.each(['git://x/y', 'git+ssh://git@x/y.git', 'user/repo', 'user/repo#v1', 'file:./a', './a', '../a', '~/a', 'link:a', 'http://x/a.tgz', 'workspace:^', 'github:a/b', 'npm:../x'])(
    'refuses %s',
    (spec) => {
      expect(registrySpecProblem('a', spec)).toBeDefined();
    },
  );
  it('refuses names that are not package names and specs that are not strings', () => {
    expect(registrySpecProblem('../x', '1')).toBeDefined();
    expect(registrySpecProblem('a', 1)).toBeDefined();
  });
});
