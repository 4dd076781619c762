import { chmod, lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { QuorumError } from '@quorum/core';
import { extract } from 'tar';

/**
 * Unpacks named regular files of a `.tgz` (entry path → path below `destDir`) and nothing else:
 * no links, no devices, no other entries, and no path that leaves `destDir`. The execute bit is kept;
 * everything is read-only to the build anyway.
 */
export async function unpackFiles(archive: string, files: Record<string, string>, destDir: string): Promise<void> {
  const wanted = new Map(Object.entries(files).map(([entry, dest]) => [normalize(entry), dest]));
  for (const dest of wanted.values()) {
    const target = normalize(join(destDir, dest));
    if (!target.startsWith(`${destDir}/`)) throw new QuorumError('invalid-input', `unpack target ${dest} leaves the tool directory`);
  }
  await mkdir(destDir, { recursive: true });
  const staging = await mkdtemp(`${destDir}.unpack-`);
  try {
    await extract({
      file: archive,
      cwd: staging,
      strict: true,
      preserveOwner: false,
      // only the named regular files: a link in a tool archive is never followed nor made
      filter: (path, entry) => wanted.has(normalize(path)) && 'type' in entry && entry.type === 'File',
    }).catch((e: unknown) => {
      throw new QuorumError('unsafe-archive', `the tool archive cannot be unpacked: ${(e as Error).message.slice(0, 200)}`);
    });
    for (const [entry, dest] of wanted) {
      const from = join(staging, entry);
      const info = await lstat(from).catch(() => undefined);
      if (!info?.isFile()) throw new QuorumError('not-found', `the tool archive has no file ${entry}`);
      const to = join(destDir, dest);
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
      await chmod(to, info.mode & 0o111 ? 0o555 : 0o444);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
