import { describe, expect, it } from 'vitest';
import { buildClockEnv, publishSteps, publishStepsEnv } from './publish-steps.js';
import { PUBLISHED_MANIFEST_EOL, PUBLISHED_MODULE_TYPE } from './published-facts.js';

describe('publishSteps', () => {
  it('runs build when there is one, whatever else the scripts hold', () => {
    expect(publishSteps({ version: '1.0.0', scripts: { build: 'tsc', prepublishOnly: 'npm test', postprepare: 'x', prepare: 'y' } }, '1.0.0')).toEqual({ buildScript: 'build', notes: [] });
  });
  it('runs prepare through npm run when it has hooks npm pack leaves out', () => {
    for (const hook of ['preprepare', 'postprepare']) {
      const s = publishSteps({ scripts: { prepare: 'tsc', [hook]: 'bash fixup.sh' } }, undefined);
      expect(s.buildScript).toBe('prepare');
      expect(s.notes.join()).toMatch(/preprepare\/postprepare hooks/);
    }
    // a plain prepare is npm pack's own business
    expect(publishSteps({ scripts: { prepare: 'tsc' } }, undefined).buildScript).toBeUndefined();
  });
  it('takes prepublishOnly as the build only when nothing else builds', () => {
    expect(publishSteps({ scripts: { prepublishOnly: 'rollup -c' } }, undefined).buildScript).toBe('prepublishOnly');
    expect(publishSteps({ scripts: { prepublishOnly: 'git push', prepare: 'tshy' } }, undefined).buildScript).toBeUndefined();
    expect(publishSteps({ scripts: { prepublishOnly: 'safe-publish-latest', prepack: 'npmignore --auto' } }, undefined).buildScript).toBeUndefined();
  });
  it('ignores scripts that are not strings, and a scripts field that is not an object', () => {
    expect(publishSteps({ scripts: { build: 1, prepublishOnly: ['x'] } as unknown as Record<string, unknown> }, undefined)).toEqual({ notes: [] });
    expect(publishSteps({ scripts: 'build' as unknown as Record<string, unknown> }, undefined)).toEqual({ notes: [] });
  });
  it("sets the release's version when the source says another, naming a placeholder as one", () => {
    const s = publishSteps({ version: '0.0.0-development' }, '10.0.3');
    expect(s.setVersion).toBe('10.0.3');
    expect(s.notes.join()).toMatch(/says version "0\.0\.0-development" \(a placeholder\); `npm version 10\.0\.3 --no-git-tag-version`/);
    expect(publishSteps({ version: '1.3.2' }, '1.4.0').notes.join()).toMatch(/says version "1\.3\.2";/);
    expect(publishSteps({}, '1.0.0').notes.join()).toMatch(/says no version/);
    expect(publishSteps({ version: '1.0.0' }, '1.0.0').setVersion).toBeUndefined();
  });
  it('leaves a version npm publish registers as the release alone (v-prefixed, with build metadata)', () => {
    for (const v of ['v1.0.0', '=1.0.0', '1.0.0+build.7', ' 1.0.0 ']) expect(publishSteps({ version: v }, '1.0.0').setVersion, v).toBeUndefined();
  });
  it('takes no prepublishOnly as the build when the caller says it cannot run', () => {
    expect(publishSteps({ scripts: { prepublishOnly: 'rollup -c' } }, undefined, { prepublishOnly: false })).toEqual({ notes: [] });
  });
  it('writes the version as changelogen does when a script releases with it', () => {
    const s = publishSteps({ version: '1.3.2', scripts: { release: 'pnpm test && changelogen --release && npm publish' } }, '1.4.0');
    expect(s).toMatchObject({ setVersion: '1.4.0', setVersionWith: 'changelogen' });
    expect(s.notes.join()).toMatch(/as `changelogen --release` \(a script of the package\) writes it/);
    expect(publishSteps({ version: '1.3.2', scripts: { changelog: 'changelogen' } }, '1.4.0').setVersionWith).toBeUndefined();
  });
  it('never sets a version that is not one', () => {
    expect(publishSteps({ version: '1.0.0' }, '1.0.0; rm -rf /').setVersion).toBeUndefined();
    expect(publishSteps({ version: '1.0.0' }, '$(id)').setVersion).toBeUndefined();
  });
  it('names clean-publish when the package publishes with it, never an alias of another package', () => {
    const s = publishSteps({ devDependencies: { 'clean-publish': '^4.2.0' } }, undefined);
    expect(s.publishTool).toBe('clean-publish');
    expect(s.notes.join()).toMatch(/clean-publish --without-publish/);
    expect(publishSteps({ devDependencies: { 'clean-publish': 'npm:evil@1.0.0' } }, undefined).publishTool).toBeUndefined();
  });
  it('names dual-publish over clean-publish, which it runs itself, when the published package.json bears its mark; never an alias', () => {
    const marked = { prepublishOnly: true, facts: { [PUBLISHED_MODULE_TYPE]: 'module' } };
    const s = publishSteps({ devDependencies: { 'dual-publish': '^4.0.0', 'clean-publish': '^4.2.0' } }, undefined, marked);
    expect(s.publishTool).toBe('dual-publish');
    expect(s.notes.join()).toMatch(/`dual-publish --without-publish`/);
    expect(publishSteps({ devDependencies: { 'dual-publish': 'npm:evil@1.0.0', 'clean-publish': '^4.2.0' } }, undefined, marked).publishTool).toBe('clean-publish');
    // kept only to check with (size-limit), published with npm: nothing in the published manifest says otherwise
    expect(publishSteps({ devDependencies: { 'dual-publish': '^4.0.0' } }, undefined).publishTool).toBeUndefined();
    expect(publishSteps({ type: 'module', devDependencies: { 'dual-publish': '^4.0.0' } }, undefined, marked).publishTool).toBeUndefined();
    expect(publishStepsEnv({ publishTool: 'dual-publish' }).QUORUM_PUBLISH_TOOL).toBe('dual-publish');
  });
  it("packs package.json with CRLF line ends only when the published one has them and the source's has not", () => {
    const crlf = { facts: { [PUBLISHED_MANIFEST_EOL]: 'crlf' } };
    const s = publishSteps({}, undefined, { prepublishOnly: true, ...crlf, manifestText: '{\n  "name": "x"\n}\n' });
    expect(s.manifestEol).toBe('crlf');
    expect(s.notes.join()).toMatch(/CRLF line ends: the published one has them/);
    expect(publishSteps({}, undefined, { prepublishOnly: true, ...crlf, manifestText: '{\r\n  "name": "x"\r\n}\r\n' }).manifestEol).toBeUndefined();
    expect(publishSteps({}, undefined, { prepublishOnly: true, manifestText: '{}\n' }).manifestEol).toBeUndefined();
  });
});

describe('publishStepsEnv', () => {
  it('passes only the known steps to the build script', () => {
    const none = { QUORUM_BUILD_SCRIPT: '', QUORUM_SET_VERSION: '', QUORUM_SET_VERSION_WITH: '', QUORUM_PUBLISH_TOOL: '', QUORUM_MANIFEST_EOL: '', QUORUM_PREPUBLISH_TIMEOUT_S: '300' };
    expect(publishStepsEnv({ buildScript: 'prepublishOnly', setVersion: '2.0.0', publishTool: 'clean-publish', manifestEol: 'crlf' })).toEqual({
      QUORUM_BUILD_SCRIPT: 'prepublishOnly',
      QUORUM_SET_VERSION: '2.0.0',
      QUORUM_SET_VERSION_WITH: '',
      QUORUM_PUBLISH_TOOL: 'clean-publish',
      QUORUM_MANIFEST_EOL: 'crlf',
      QUORUM_PREPUBLISH_TIMEOUT_S: '300',
    });
    expect(publishStepsEnv({ setVersion: '2.0.0', setVersionWith: 'changelogen' })).toMatchObject({ QUORUM_SET_VERSION: '2.0.0', QUORUM_SET_VERSION_WITH: 'changelogen' });
    expect(publishStepsEnv({ buildScript: 'test; curl evil', setVersion: '1.0.0 && id', publishTool: 'np', manifestEol: 'cr' })).toEqual(none);
    expect(publishStepsEnv(undefined)).toEqual(none);
  });
});

describe('buildClockEnv', () => {
  it('starts the clock at the publish time, else at the commit time, else leaves it real', () => {
    expect(buildClockEnv('2024-04-02T10:00:00.000Z', 1700000000)).toEqual({ QUORUM_BUILD_CLOCK: '1712052000', QUORUM_BUILD_CLOCK_FROM: 'the publish time the registry records' });
    expect(buildClockEnv('not a time', 1700000000)).toMatchObject({ QUORUM_BUILD_CLOCK: '1700000000' });
    expect(buildClockEnv(undefined, 1700000000).QUORUM_BUILD_CLOCK_FROM).toMatch(/commit time/);
    expect(buildClockEnv(undefined, Number.NaN)).toEqual({ QUORUM_BUILD_CLOCK: '', QUORUM_BUILD_CLOCK_FROM: '' });
    // a hostile registry's year 10000 would stop every process libfaketime is loaded into
    expect(buildClockEnv('+010000-01-01T00:00:00.000Z', 1700000000)).toEqual({ QUORUM_BUILD_CLOCK: '', QUORUM_BUILD_CLOCK_FROM: '' });
  });
});
