import { describe, expect, it } from 'vitest';
import { loadCoordinatorConfig } from './config.js';

describe('loadCoordinatorConfig', () => {
  it("reads the operator's git mirrors, and refuses malformed ones naming the setting", () => {
    expect(loadCoordinatorConfig({}).gitMirrors).toEqual([]);
    const c = loadCoordinatorConfig({ QUORUM_GIT_MIRRORS: '{"https://github.com/": "file:///srv/git/"}' });
    expect(c.gitMirrors).toEqual([{ prefix: 'https://github.com', target: 'file:///srv/git', below: true }]);
    expect(() => loadCoordinatorConfig({ QUORUM_GIT_MIRRORS: '{"https://github.com/x": "ext::sh"}' })).toThrow(/QUORUM_GIT_MIRRORS/);
  });
});
