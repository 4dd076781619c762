import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isQuorumError } from '@quorum/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolvePackageDir } from './package-dir.js';

let root: string;
let clone: string;
let outside: string;

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'package-dir-')));
  clone = join(root, 'src');
  outside = join(root, 'host');
  await mkdir(join(clone, 'packages', 'core'), { recursive: true });
  await writeFile(join(clone, 'packages', 'core', 'package.json'), '{}');
  await writeFile(join(clone, 'README.md'), 'readme');
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, 'package.json'), '{"name":"host-secret"}');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs resolvePackageDir expecting a QuorumError; returns it. */
async function refusal(directory: string | undefined, code: string) {
  const err = await resolvePackageDir(clone, directory).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isQuorumError(err)).toBe(true);
  expect(err).toMatchObject({ code });
  expect((err as Error).message).not.toContain(root);
  return err as Error;
}

describe('resolvePackageDir', () => {
  it('resolves the repository root when no directory is declared', async () => {
    expect(await resolvePackageDir(clone, undefined)).toBe(clone);
    expect(await resolvePackageDir(clone, '')).toBe(clone);
    expect(await resolvePackageDir(clone, './')).toBe(clone);
  });

  it('resolves a declared directory inside the clone, normalised', async () => {
    expect(await resolvePackageDir(clone, 'packages/core')).toBe(join(clone, 'packages', 'core'));
    expect(await resolvePackageDir(clone, './packages//core/')).toBe(join(clone, 'packages', 'core'));
  });

  it('answers with the real directory when the clone itself is reached through a link the worker made', async () => {
    await symlink(clone, join(root, 'clone-link'));
    expect(await resolvePackageDir(join(root, 'clone-link'), 'packages/core')).toBe(join(clone, 'packages', 'core'));
  });

  it('reports a missing directory as source-not-found', async () => {
    const err = await refusal('packages/missing', 'source-not-found');
    expect(err.message).toContain('"packages/missing"');
  });

  it('reports a directory under a missing one as source-not-found', async () => {
    await refusal('nope/deeper/still', 'source-not-found');
  });

  it('refuses .. segments before touching the disk', async () => {
    const err = await refusal('../host', 'invalid-input');
    expect(err.message).toMatch(/leaves the repository/);
    await refusal('packages/../../host', 'invalid-input');
    await refusal('../../../etc', 'invalid-input');
  });

  it('refuses an absolute directory', async () => {
    await refusal('/etc', 'invalid-input');
    await refusal('//etc/', 'invalid-input');
  });

  it('refuses the .git directory', async () => {
    await mkdir(join(clone, '.git'));
    await refusal('.git', 'invalid-input');
  });

  it('refuses a committed symlink that points outside the clone', async () => {
    await symlink(outside, join(clone, 'evil'));
    const err = await refusal('evil', 'invalid-input');
    expect(err.message).toMatch(/symbolic link/);
    expect(err.message).not.toContain('host-secret');
  });

  it('refuses a symlink in a middle component, not only the last', async () => {
    await symlink(root, join(clone, 'up'));
    const err = await refusal('up/host', 'invalid-input');
    expect(err.message).toMatch(/passes through a symbolic link at "up"/);
  });

  it('refuses a symlink even when it points inside the clone', async () => {
    await symlink(join(clone, 'packages', 'core'), join(clone, 'alias'));
    await refusal('alias', 'invalid-input');
    await symlink('core', join(clone, 'packages', 'relative-alias'));
    await refusal('packages/relative-alias', 'invalid-input');
  });

  it('refuses a dangling symlink as a symlink, not as a missing directory', async () => {
    await symlink(join(root, 'does-not-exist'), join(clone, 'dangling'));
    await refusal('dangling', 'invalid-input');
  });

  it('refuses a file declared as the directory', async () => {
    const err = await refusal('README.md', 'invalid-input');
    expect(err.message).toMatch(/not a directory/);
    await refusal('README.md/below', 'invalid-input');
  });

  it('keeps control characters and long names out of its messages', async () => {
    const err = await refusal(`missing-${'x'.repeat(300)}`, 'source-not-found');
    expect(err.message.length).toBeLessThan(200);
    const bad = await refusal('a\u001b[2Jb', 'invalid-input');
    expect(bad.message).not.toContain('\u001b');
  });
});
