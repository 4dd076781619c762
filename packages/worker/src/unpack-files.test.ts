import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpackFiles } from './unpack-files.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorum-unpack-'));
  const src = join(dir, 'src');
  await mkdir(join(src, 'package/bin'), { recursive: true });
  await writeFile(join(src, 'package/bin/node'), '#!/bin/sh\necho node\n', { mode: 0o755 });
  await writeFile(join(src, 'package/LICENSE'), 'MIT\n');
  await symlink('/etc/passwd', join(src, 'package/bin/link'));
  await create({ gzip: true, file: join(dir, 'tool.tgz'), cwd: src, portable: true }, ['package']);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('unpackFiles', () => {
  it('unpacks only the named file, executable and read-only', async () => {
    const dest = join(dir, 'inputs/tools/node');
    await unpackFiles(join(dir, 'tool.tgz'), { 'package/bin/node': 'bin/node' }, dest);
    expect(await readdir(dest, { recursive: true })).toEqual(['bin', 'bin/node']);
    expect((await lstat(join(dest, 'bin/node'))).mode & 0o777).toBe(0o555);
    expect(await readFile(join(dest, 'bin/node'), 'utf8')).toContain('echo node');
    expect(await readdir(join(dir, 'inputs/tools'))).toEqual(['node']);
  });

  it('never makes a link, even one it was asked for by name', async () => {
    const dest = join(dir, 'inputs/tools/node');
    await expect(unpackFiles(join(dir, 'tool.tgz'), { 'package/bin/link': 'bin/node' }, dest)).rejects.toMatchObject({ code: 'not-found' });
    await expect(lstat(join(dest, 'bin/node'))).rejects.toThrow();
  });

  it('refuses a target outside the tool directory and a file the archive lacks', async () => {
    const dest = join(dir, 'inputs/tools/node');
    await expect(unpackFiles(join(dir, 'tool.tgz'), { 'package/bin/node': '../../escaped' }, dest)).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(unpackFiles(join(dir, 'tool.tgz'), { 'package/bin/npx': 'bin/npx' }, dest)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('reports an archive that is not one as unsafe', async () => {
    await writeFile(join(dir, 'bad.tgz'), 'not gzip at all');
    await expect(unpackFiles(join(dir, 'bad.tgz'), { 'package/bin/node': 'bin/node' }, join(dir, 'out'))).rejects.toMatchObject({ code: 'unsafe-archive' });
  });
});
