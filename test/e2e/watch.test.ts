import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { Farm, freePort, ROOT } from './farm.js';

const CLI = join(ROOT, 'packages/cli/bin/quorum.js');

describe('quorum watch: new versions in the registry are submitted without anyone asking', () => {
  // no workers: what is checked is which releases the farm was asked for, not their verdicts
  const farm = new Farm({ workers: 0 });
  let stateDir = '';

  /** A version in the registry; the watch reads only its metadata, so the tarball's bytes do not matter. */
  function publish(name: string, version: string, publishedAt?: string): void {
    farm.registry.publish({ tarball: Buffer.from(`${name}@${version}`), manifest: { name, version } });
    if (publishedAt) farm.registry.setTime(name, version, publishedAt);
  }

  /** The versions of a package the farm has releases of, sorted. */
  async function releasedVersions(purl: string): Promise<string[]> {
    const res = await farm.request('GET', `/v1/packages/${encodeURIComponent(purl)}`);
    if (res.status === 404) return [];
    expect(res.status).toBe(200);
    const view = (await res.json()) as { releases: { purl: string }[] };
    return view.releases.map((r) => r.purl.slice(r.purl.lastIndexOf('@') + 1)).sort();
  }

  function watch(args: string[], state = join(stateDir, 'state.json')) {
    return execa('node', [CLI, 'watch', '--upstream', farm.registry.url, '--server', farm.url, '--state', state, ...args], { reject: false, env: { QUORUM_STATE_DIR: stateDir } });
  }

  beforeAll(async () => {
    await farm.start();
    stateDir = await mkdtemp(join(farm.dir, 'watch-'));
  }, 300_000);
  afterAll(async () => {
    await farm.stop();
  }, 60_000);

  it('starts from the versions it first sees, submits each later one once, and not one the farm already has', async () => {
    publish('watched-a', '1.0.0');
    publish('watched-a', '1.1.0');
    const first = await watch(['pkg:npm/watched-a', '--once']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain('watching pkg:npm/watched-a from its 2 versions');
    expect(await releasedVersions('pkg:npm/watched-a')).toEqual([]);

    publish('watched-a', '1.2.0');
    const second = await watch(['pkg:npm/watched-a', '--once']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain('new pkg:npm/watched-a@1.2.0: submitted for verification');
    expect(second.stderr).toContain('1 new, 1 submitted, 0 problems');
    expect(await releasedVersions('pkg:npm/watched-a')).toEqual(['1.2.0']);

    // nothing new: nothing submitted again
    const third = await watch(['pkg:npm/watched-a', '--once']);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stdout).toBe('');
    expect(await releasedVersions('pkg:npm/watched-a')).toEqual(['1.2.0']);

    // someone submitted the next version before the watch saw it: the farm is not asked twice
    publish('watched-a', '1.3.0');
    await farm.submit({ purl: 'pkg:npm/watched-a@1.3.0' });
    const fourth = await watch(['pkg:npm/watched-a', '--once']);
    expect(fourth.exitCode, fourth.stderr).toBe(0);
    expect(fourth.stdout).toMatch(/new pkg:npm\/watched-a@1\.3\.0: the farm already has it/);
    expect(await releasedVersions('pkg:npm/watched-a')).toEqual(['1.2.0', '1.3.0']);
  });

  it('with --backfill, submits the newest versions by publish time at the first poll; --json prints one event per line', async () => {
    // listed in this order, published in another: 2.0.0 is the newest, then 0.9.0
    publish('watched-b', '1.0.0', '2026-01-01T00:00:00.000Z');
    publish('watched-b', '2.0.0', '2026-03-01T00:00:00.000Z');
    publish('watched-b', '0.9.0', '2026-02-01T00:00:00.000Z');
    const res = await watch(['pkg:npm/watched-b', '--once', '--backfill', '2', '--json']);
    expect(res.exitCode, res.stderr).toBe(0);
    const events = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toEqual({ event: 'baseline', package: 'pkg:npm/watched-b', versions: 3 });
    expect(events.filter((e) => e.event === 'new').map((e) => [e.purl, e.outcome])).toEqual([
      ['pkg:npm/watched-b@2.0.0', 'submitted'],
      ['pkg:npm/watched-b@0.9.0', 'submitted'],
    ]);
    expect(events.at(-1)).toMatchObject({ event: 'poll', packages: 1, newVersions: 2, submitted: 2, problems: 0 });
    expect(await releasedVersions('pkg:npm/watched-b')).toEqual(['0.9.0', '2.0.0']);
  });

  it('follows every package a lockfile installs, scoped ones included', async () => {
    publish('@watch-scope/watched-c', '1.0.0');
    publish('watched-d', '3.0.0');
    const dir = await mkdtemp(join(farm.dir, 'consumer-'));
    const lock = {
      name: 'consumer',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'consumer', dependencies: { '@watch-scope/watched-c': '^1.0.0', 'watched-d': '^3.0.0' } },
        'node_modules/@watch-scope/watched-c': { version: '1.0.0', resolved: `${farm.registry.url}/@watch-scope/watched-c/-/watched-c-1.0.0.tgz` },
        'node_modules/watched-d': { version: '3.0.0', resolved: `${farm.registry.url}/watched-d/-/watched-d-3.0.0.tgz` },
      },
    };
    await writeFile(join(dir, 'package-lock.json'), JSON.stringify(lock));
    const first = await watch(['--lockfile', dir, '--once']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toContain('watching 2 packages');
    expect(first.stdout).toContain('watching pkg:npm/%40watch-scope/watched-c from its 1 version');

    publish('@watch-scope/watched-c', '1.1.0');
    const second = await watch(['--lockfile', join(dir, 'package-lock.json'), '--once']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain('new pkg:npm/%40watch-scope/watched-c@1.1.0: submitted for verification');
    expect(await releasedVersions('pkg:npm/%40watch-scope/watched-c')).toEqual(['1.1.0']);
    expect(await releasedVersions('pkg:npm/watched-d')).toEqual([]);
  });

  it('loses nothing while the farm or the registry cannot be reached: the next poll submits what the last could not', async () => {
    const state = join(stateDir, 'outage.json');
    publish('watched-e', '1.0.0');
    expect((await watch(['pkg:npm/watched-e', '--once'], state)).exitCode).toBe(0);
    publish('watched-e', '1.1.0');

    const closed = `http://127.0.0.1:${await freePort()}`;
    const farmDown = await execa('node', [CLI, 'watch', 'pkg:npm/watched-e', '--once', '--upstream', farm.registry.url, '--server', closed, '--state', state], { reject: false });
    expect(farmDown.exitCode).toBe(1);
    expect(farmDown.stdout).toContain('new pkg:npm/watched-e@1.1.0: not submitted: the farm at');
    expect(farmDown.stdout).toContain('(tried again at the next poll)');

    const registryDown = await execa('node', [CLI, 'watch', 'pkg:npm/watched-e', '--once', '--upstream', closed, '--server', farm.url, '--state', state], { reject: false });
    expect(registryDown.exitCode).toBe(1);
    expect(registryDown.stdout).toMatch(/^pkg:npm\/watched-e: cannot reach 127\.0\.0\.1$/m);
    // nothing about the host's own network beyond the address the operator gave
    expect(registryDown.stdout + registryDown.stderr).not.toMatch(/ECONNREFUSED|errno|stack/i);

    const back = await watch(['pkg:npm/watched-e', '--once'], state);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout).toContain('new pkg:npm/watched-e@1.1.0: submitted for verification');
    expect(await releasedVersions('pkg:npm/watched-e')).toEqual(['1.1.0']);
  });

  it("with the registry's changes feed, reads only the followed packages it names, and every package when the feed cannot be read", async () => {
    publish('fed-a', '1.0.0');
    publish('fed-b', '1.0.0');
    const state = join(stateDir, 'feed.json');
    const args = ['pkg:npm/fed-a', 'pkg:npm/fed-b', '--once', '--changes-feed', farm.registry.url];
    const first = await watch(args, state);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain('watching pkg:npm/fed-a from its 1 version');
    expect(first.stdout).toContain('watching pkg:npm/fed-b from its 1 version');

    publish('fed-a', '1.1.0');
    publish('not-followed', '1.0.0');
    farm.registry.requests.length = 0;
    const second = await watch(args, state);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain('new pkg:npm/fed-a@1.1.0: submitted for verification');
    expect(second.stderr).toContain('polled 1 of 2 packages');
    // the watch read the feed and fed-a (the farm reads fed-a too, to accept the submission); never fed-b
    expect(farm.registry.requests[0]).toBe('/_changes');
    expect(farm.registry.requests).toContain('/fed-a');
    expect(farm.registry.requests).not.toContain('/fed-b');

    // nothing new in the feed: it is read, and fed-a again (a package it named is read for a while, since
    // a registry's cached packument can lag behind its feed), never fed-b
    farm.registry.requests.length = 0;
    const third = await watch(args, state);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(farm.registry.requests).toEqual(['/_changes', '/fed-a']);
    expect(third.stdout).toBe('');

    // a feed that cannot be read: every package is read instead, and the run says so
    publish('fed-b', '1.1.0');
    const closed = `http://127.0.0.1:${await freePort()}`;
    const blind = await watch(['pkg:npm/fed-a', 'pkg:npm/fed-b', '--once', '--changes-feed', closed], state);
    expect(blind.exitCode).toBe(1);
    expect(blind.stdout).toContain('changes feed: cannot reach 127.0.0.1');
    expect(blind.stdout).toContain('new pkg:npm/fed-b@1.1.0: submitted for verification');
    expect(await releasedVersions('pkg:npm/fed-a')).toEqual(['1.1.0']);
    expect(await releasedVersions('pkg:npm/fed-b')).toEqual(['1.1.0']);
  });

  it('keeps polling until stopped, submitting a version within a poll of its publication', async () => {
    publish('watched-f', '1.0.0');
    const proc = execa('node', [CLI, 'watch', 'pkg:npm/watched-f', '--interval', '0.5', '--upstream', farm.registry.url, '--server', farm.url, '--state', join(stateDir, 'running.json')], {
      reject: false,
    });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await farm.waitFor(async () => out.includes('watching pkg:npm/watched-f from its 1 version'), 30_000, 'the first poll');
      publish('watched-f', '1.1.0');
      await farm.waitFor(async () => (await releasedVersions('pkg:npm/watched-f')).includes('1.1.0'), 30_000, 'the watch to submit watched-f@1.1.0');
      expect(out).toContain('new pkg:npm/watched-f@1.1.0: submitted for verification');
    } finally {
      proc.kill('SIGTERM');
    }
    expect((await proc).exitCode).toBe(0);
    expect(await releasedVersions('pkg:npm/watched-f')).toEqual(['1.1.0']);
  });

  it('answers bad input with a clear error and a non-zero exit, and a hostile registry cannot flood the farm or the terminal', async () => {
    const none = await watch([]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain('nothing to watch');
    const versioned = await watch(['pkg:npm/watched-a@1.0.0', '--once']);
    expect(versioned.exitCode).toBe(1);
    expect(versioned.stderr).toContain('a watch follows a package: pkg:npm/watched-a');
    const other = await watch(['pkg:cargo/serde', '--once']);
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain('is not in the npm ecosystem');

    // a package the registry does not have is reported; the others are still watched
    publish('watched-g', '1.0.0');
    const missing = await watch(['pkg:npm/no-such-package-here', 'pkg:npm/watched-g', '--once']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toContain('pkg:npm/no-such-package-here: not in the registry');
    expect(missing.stdout).toContain('watching pkg:npm/watched-g from its 1 version');

    // a state file that is not one is left alone, with a way out
    const junk = join(stateDir, 'junk.json');
    await writeFile(junk, '{"not": "a state"}');
    const bad = await watch(['pkg:npm/watched-g', '--once'], junk);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('is not a watch state file; move it away to start afresh');
    expect(await readFile(junk, 'utf8')).toBe('{"not": "a state"}');

    // thousands of new versions at once, one with terminal escapes in its name: at most 50 a poll
    const state = join(stateDir, 'flood.json');
    publish('watched-h', '1.0.0');
    expect((await watch(['pkg:npm/watched-h', '--once'], state)).exitCode).toBe(0);
    for (let i = 0; i < 2000; i++) publish('watched-h', `2.0.${i}`);
    // a version no client could install: left out of the metadata as read, and never printed
    publish('watched-h', '3.0.0-\u001b[2Jcleared');
    const flood = await watch(['pkg:npm/watched-h', '--once'], state);
    expect(flood.exitCode).toBe(1);
    expect(flood.stdout).toContain('2000 new versions at once; 50 are handled this poll, the rest in the next ones');
    expect(flood.stdout.match(/: submitted for verification/g)).toHaveLength(50);
    expect(flood.stdout + flood.stderr).not.toContain('\u001b');
    expect(await releasedVersions('pkg:npm/watched-h')).toHaveLength(50);
  });
});
