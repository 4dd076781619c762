import { describe, expect, it } from 'vitest';
import { publishSteps, publishStepsEnv } from './publish-steps.js';

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
  it('never sets a version that is not one', () => {
    expect(publishSteps({ version: '1.0.0' }, '1.0.0; rm -rf /').setVersion).toBeUndefined();
    expect(publishSteps({ version: '1.0.0' }, '$(id)').setVersion).toBeUndefined();
  });
  it('names clean-publish when the package publishes with it', () => {
    const s = publishSteps({ devDependencies: { 'clean-publish': '^4.2.0' } }, undefined);
    expect(s.publishTool).toBe('clean-publish');
    expect(s.notes.join()).toMatch(/clean-publish --without-publish/);
  });
});

describe('publishStepsEnv', () => {
  it('passes only the known steps to the build script', () => {
    expect(publishStepsEnv({ buildScript: 'prepublishOnly', setVersion: '2.0.0', publishTool: 'clean-publish' })).toEqual({ QUORUM_BUILD_SCRIPT: 'prepublishOnly', QUORUM_SET_VERSION: '2.0.0', QUORUM_PUBLISH_TOOL: 'clean-publish' });
    expect(publishStepsEnv({ buildScript: 'test; curl evil', setVersion: '1.0.0 && id', publishTool: 'np' })).toEqual({ QUORUM_BUILD_SCRIPT: '', QUORUM_SET_VERSION: '', QUORUM_PUBLISH_TOOL: '' });
    expect(publishStepsEnv(undefined)).toEqual({ QUORUM_BUILD_SCRIPT: '', QUORUM_SET_VERSION: '', QUORUM_PUBLISH_TOOL: '' });
  });
});
