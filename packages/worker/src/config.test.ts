import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from './config.js';

describe('loadWorkerConfig', () => {
  it('gives builds disk scratch of 6 GiB unless told otherwise', () => {
    const c = loadWorkerConfig({ QUORUM_WORKER_ID: 'w1' });
    expect(c.scratch).toBe('disk');
    expect(c.limits.scratchBytes).toBe(6 * 2 ** 30);
    expect(loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_BUILD_SCRATCH: 'memory', QUORUM_BUILD_SCRATCH_MB: '1024' })).toMatchObject({ scratch: 'memory', limits: { scratchBytes: 2 ** 30 } });
  });

  it('keeps the fetch cache in the data directory unless the operator names another place', () => {
    expect(loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_DATA_DIR: '/srv/w1' }).fetchCacheDir).toBe('/srv/w1/cache');
    expect(loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_DATA_DIR: '/srv/w1', QUORUM_FETCH_CACHE_DIR: '/fast/cache' }).fetchCacheDir).toBe('/fast/cache');
  });

  it('refuses a scratch kind it does not know, naming the setting', () => {
    expect(() => loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_BUILD_SCRATCH: 'ramdisk' })).toThrow(/QUORUM_BUILD_SCRATCH must be "disk" or "memory"/);
  });

  it("reads the operator's git mirrors, and refuses malformed ones naming the setting", () => {
    expect(loadWorkerConfig({ QUORUM_WORKER_ID: 'w1' }).gitMirrors).toEqual([]);
    const c = loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_GIT_MIRRORS: '{"https://github.com/vercel/ms": "/srv/mirrors/ms.git"}' });
    expect(c.gitMirrors).toEqual([{ prefix: 'https://github.com/vercel/ms', target: 'file:///srv/mirrors/ms.git', below: false }]);
    expect(() => loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_GIT_MIRRORS: '{"https://github.com/x": "relative/dir"}' })).toThrow(/QUORUM_GIT_MIRRORS/);
  });

  it('resolves dependencies as the registry stood at publish time unless the operator says otherwise', () => {
    expect(loadWorkerConfig({ QUORUM_WORKER_ID: 'w1' }).resolveAsOf).toBe('publish-time');
    expect(loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_RESOLVE_AS_OF: 'now' }).resolveAsOf).toBe('now');
    expect(() => loadWorkerConfig({ QUORUM_WORKER_ID: 'w1', QUORUM_RESOLVE_AS_OF: 'yesterday' })).toThrow(/QUORUM_RESOLVE_AS_OF must be/);
  });
});
