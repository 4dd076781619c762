import { randomBytes, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QuorumError } from '@quorum/core';

/** File inside a worker's data directory that holds its instance id. */
export const INSTANCE_ID_FILE = 'instance-id';

const VALID_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Longer than any valid id plus a line break: enough to tell a valid file from anything else. */
const READ_LIMIT = 128;

/** The id in the file, or undefined when the file is absent or not a small regular file holding a valid id. */
async function readInstanceId(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ELOOP: a symlink in its place is not this data directory's id
    if (code === 'ENOENT' || code === 'ELOOP') return undefined;
    throw new QuorumError('internal', `cannot read the worker instance id at ${path}: ${code}`, { cause: e });
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.alloc(READ_LIMIT + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > READ_LIMIT) return undefined;
    const id = buffer.subarray(0, bytesRead).toString('utf8').replace(/\n$/, '');
    return VALID_ID.test(id) ? id : undefined;
  } finally {
    await handle.close();
  }
}

/**
 * The random id of the worker instance that owns `dataDir`, created on first use (file
 * `instance-id`, mode 0644) and kept across restarts; a missing, unreadable or malformed file is
 * replaced by a new id. Tells this worker's containers from those of another worker that shares
 * its worker id but not its data directory.
 */
export async function loadOrCreateInstanceId(dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, INSTANCE_ID_FILE);
  const existing = await readInstanceId(path);
  if (existing) return existing;
  const id = randomUUID();
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${id}\n`, { mode: 0o644, flag: 'wx' });
    await chmod(tmp, 0o644);
    try {
      // exclusive: two processes starting on one data directory agree on the first id written
      await link(tmp, path);
      return id;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const raced = await readInstanceId(path);
    if (raced) return raced;
    // what is there is not a valid id (or a link): replace the entry itself, never its target
    await rename(tmp, path);
    return id;
  } finally {
    await rm(tmp, { force: true });
  }
}
