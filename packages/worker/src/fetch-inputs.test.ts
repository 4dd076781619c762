import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPlanFiles } from './fetch-inputs.js';

describe('readPlanFiles', () => {
  let clone = '';
  beforeEach(async () => {
    clone = await mkdtemp(join(tmpdir(), 'quorum-plan-files-'));
    await mkdir(join(clone, 'packages/app'), { recursive: true });
    await writeFile(join(clone, 'pnpm-lock.yaml'), 'root lock');
    await writeFile(join(clone, 'package.json'), '{"root":true}');
    await writeFile(join(clone, 'packages/app/package.json'), '{"app":true}');
  });
  afterEach(() => rm(clone, { recursive: true, force: true }));

  it('reads root/ names from the repository root when the package is below it', async () => {
    const files = await readPlanFiles(join(clone, 'packages/app'), ['package.json', 'pnpm-lock.yaml', 'root/package.json', 'root/pnpm-lock.yaml', 'root/yarn.lock'], clone);
    expect(files).toEqual({ 'package.json': '{"app":true}', 'root/package.json': '{"root":true}', 'root/pnpm-lock.yaml': 'root lock' });
  });

  it('reads no root/ names for a package at the root, which has no other root', async () => {
    const files = await readPlanFiles(clone, ['package.json', 'root/package.json'], clone);
    expect(files).toEqual({ 'package.json': '{"root":true}' });
  });

  it("refuses a root lockfile that is a link, as it refuses the package's own", async () => {
    await rm(join(clone, 'pnpm-lock.yaml'));
    await symlink('/etc/passwd', join(clone, 'pnpm-lock.yaml'));
    await expect(readPlanFiles(join(clone, 'packages/app'), ['root/pnpm-lock.yaml'], clone)).rejects.toThrow(/not a regular file/);
  });
});
