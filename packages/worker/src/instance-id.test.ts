import { lstat, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE_ID_FILE, loadOrCreateInstanceId } from './instance-id.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'instance-id-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadOrCreateInstanceId', () => {
  it('creates an id once per data directory, readable by all (0644), and keeps it across restarts', async () => {
    const dataDir = join(root, 'worker-1');
    const first = await loadOrCreateInstanceId(dataDir);
    expect(first).toMatch(/^[a-z0-9-]+$/);
    expect((await stat(join(dataDir, INSTANCE_ID_FILE))).mode & 0o777).toBe(0o644);
    expect(await loadOrCreateInstanceId(dataDir)).toBe(first);
  });

  it('gives another data directory another id, even for a worker with the same worker id', async () => {
    const a = await loadOrCreateInstanceId(join(root, 'farm-a', 'worker-1'));
    const b = await loadOrCreateInstanceId(join(root, 'farm-b', 'worker-1'));
    expect(a).not.toBe(b);
  });

  it('agrees on one id when two starts race on one data directory', async () => {
    const dataDir = join(root, 'worker-1');
    const ids = await Promise.all([loadOrCreateInstanceId(dataDir), loadOrCreateInstanceId(dataDir), loadOrCreateInstanceId(dataDir)]);
    expect(new Set(ids).size).toBe(1);
    expect(await loadOrCreateInstanceId(dataDir)).toBe(ids[0]);
  });

  it('keeps an id an operator wrote, when it is well formed', async () => {
    await writeFile(join(root, INSTANCE_ID_FILE), 'rack-7-worker-1\n');
    expect(await loadOrCreateInstanceId(root)).toBe('rack-7-worker-1');
  });

  for (const [what, content] of [
    ['empty', ''],
    ['upper case', 'ABC'],
    ['a label injection attempt', 'x,quorum.worker=other'],
    ['spaces', 'a b'],
    ['several lines', 'abc\ndef\n'],
    ['too long', 'a'.repeat(200)],
  ] as const) {
    it(`replaces a malformed id file (${what}) with a new valid id`, async () => {
      await writeFile(join(root, INSTANCE_ID_FILE), content);
      const id = await loadOrCreateInstanceId(root);
      expect(id).toMatch(/^[a-z0-9][a-z0-9-]{0,63}$/);
      expect(await readFile(join(root, INSTANCE_ID_FILE), 'utf8')).toBe(`${id}\n`);
      expect(await loadOrCreateInstanceId(root)).toBe(id);
    });
  }

  it('replaces a symlink in place of the id file without following or touching its target', async () => {
    const target = join(root, 'elsewhere');
    await writeFile(target, 'borrowed-id\n');
    await symlink(target, join(root, INSTANCE_ID_FILE));
    const id = await loadOrCreateInstanceId(root);
    expect(id).not.toBe('borrowed-id');
    expect((await lstat(join(root, INSTANCE_ID_FILE))).isFile()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('borrowed-id\n');
  });
});
