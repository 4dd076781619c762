import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm } from './farm.js';

/** Publishes a package whose build script is `script`, submits it and returns the decided view. */
async function buildWith(farm: Farm, name: string, files: Record<string, string>) {
  const pkg = await makeGitPackage(
    join(farm.dir, 'src', name),
    { 'package.json': packageJson(name, '1.0.0', { scripts: { build: 'node build.js' } }), 'index.js': 'module.exports = 1;\n', ...files },
    'v1.0.0',
  );
  await publishFromGit(farm.registry, pkg, { how: 'host' });
  const view = await farm.submitAndDecide({ purl: `pkg:npm/${name}@1.0.0` });
  const logs = await Promise.all(view.rebuilds.map(async (r) => (await farm.request('GET', r.logUrl!)).text()));
  return { view, logs };
}

describe('the hermetic build contract, through the whole farm', () => {
  // two builders are enough to show the contract; the timeout is short on purpose
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2, buildTimeoutMs: 8000 });
  beforeAll(() => farm.start(), 120_000);
  afterAll(() => farm.stop(), 60_000);

  it('fails a build that tries the network, with the reason in the log', async () => {
    const { view, logs } = await buildWith(farm, 'phones-home', {
      // a name lookup and a connection to the test registry's port: neither may work in the sandbox
      'build.js': `const dns = require('dns'); const net = require('net');
dns.lookup('registry.npmjs.org', (err) => {
  console.error('dns: ' + (err ? 'network unavailable ' + err.code : 'resolved'));
  const s = net.connect(${new URL(farm.registry.url).port}, '127.0.0.1');
  s.on('connect', () => { console.error('connected to the host'); process.exit(0); });
  s.on('error', (e) => { console.error('connect: network unavailable ' + e.code); process.exit(7); });
});
console.error('interfaces: ' + Object.keys(require('os').networkInterfaces()).join(','));
`,
    });
    expect(view.verdict?.verdict).toBe('failed');
    for (const [i, r] of view.rebuilds.entries()) {
      expect(r.reason).toBe('build-error');
      expect(logs[i]).toMatch(/dns: network unavailable/);
      expect(logs[i]).toMatch(/connect: network unavailable ECONNREFUSED/);
      expect(logs[i]).toContain('interfaces: lo');
      expect(logs[i]).not.toContain('connected to the host');
    }
  });

  it('fails a build that writes outside its output directory, and the source stays untouched', async () => {
    const { view, logs } = await buildWith(farm, 'escapes', {
      'build.js': `const fs = require('fs');
for (const target of ['/src/injected.js', '/etc/profile.d/evil.sh', '/usr/lib/evil', '/out/../escape']) {
  try { fs.writeFileSync(target, 'x'); console.error('wrote ' + target); }
  catch (e) { console.error('refused ' + target + ': ' + e.code); }
}
if (fs.existsSync('/src/injected.js') || fs.existsSync('/etc/profile.d/evil.sh')) process.exit(0);
process.exit(9);
`,
    });
    expect(view.verdict?.verdict).toBe('failed');
    for (const [i, r] of view.rebuilds.entries()) {
      expect(r.reason).toBe('build-error');
      expect(logs[i]).toContain('refused /src/injected.js: EROFS');
      expect(logs[i]).toContain('refused /etc/profile.d/evil.sh: EROFS');
      expect(logs[i]).not.toMatch(/^wrote \/(src|etc|usr)/m);
    }
  });

  it('kills a build that runs past the timeout, and says so in the log', async () => {
    const { view, logs } = await buildWith(farm, 'sleeper', { 'build.js': `console.error('build started'); setTimeout(() => {}, 600000);\n` });
    expect(view.verdict?.verdict).toBe('failed');
    for (const [i, r] of view.rebuilds.entries()) {
      expect(r.reason).toBe('timeout');
      // the build script itself was running when the limit cut it short, not a step before it
      expect(logs[i]).toContain('build started');
      expect(logs[i]).toMatch(/killed after 8 s/);
    }
  });
});
