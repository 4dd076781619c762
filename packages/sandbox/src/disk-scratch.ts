import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { QuorumError } from '@quorum/core';
import { execa } from 'execa';

/** A build's scratch directory on the host, mounted read-write at `/tmp` in its container. */
export interface ScratchArea {
  /** host directory to bind-mount */
  dir: string;
  /** unmounts and deletes the area; safe to call twice */
  release(): Promise<void>;
}

/** How long one scratch command (fallocate, mkfs, mount, umount) may take. */
const COMMAND_TIMEOUT_MS = 60_000;

async function run(file: string, args: string[]): Promise<void> {
  const res = await execa(file, args, { reject: false, timeout: COMMAND_TIMEOUT_MS, stdin: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, extendEnv: false });
  if (res.failed) {
    const why = (res.stderr || res.stdout || res.shortMessage || '').trim().split('\n').slice(-2).join('; ');
    throw new Error(`${file} failed: ${why.slice(0, 300)}`);
  }
}

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
async function mountsBelow(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // field 5 is the mount point, with spaces and other bytes octal-escaped
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => typeof p === 'string' && p.length > 0)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

/**
 * Disk-backed scratch for builds: one file per build, of exactly the scratch size, reserved on the
 * worker's disk with `fallocate` (concurrent builds never promise more disk than there is), formatted
 * ext4 and loop-mounted `nosuid,nodev`. A build that writes more gets ENOSPC inside its own file
 * system; the worker's disk never fills. The file is deleted after the build. The worker never reads
 * what a build wrote there, so a hostile build's links and devices there lead nowhere.
 *
 * Needs root (mount) and loop devices on the worker machine.
 */
export class DiskScratch {
  readonly baseDir: string;

  constructor(baseDir: string) {
    this.baseDir = resolve(baseDir);
  }

  /** Makes and mounts one scratch area of `bytes`. */
  async create(bytes: number): Promise<ScratchArea> {
    if (!Number.isSafeInteger(bytes) || bytes < 16 * 2 ** 20) throw new QuorumError('invalid-input', `disk scratch must be at least 16 MiB, got ${bytes} bytes`);
    const root = join(this.baseDir, randomUUID());
    const image = join(root, 'scratch.img');
    const dir = join(root, 'mnt');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let mounted = false;
    const release = async () => {
      if (mounted) {
        mounted = false;
        await unmount(dir);
      }
      await rm(root, { recursive: true, force: true });
    };
    try {
      await run('fallocate', ['-l', String(bytes), image]);
      // no journal (the file system lives for one build), small inodes ratio (node_modules is many
      // small files), no reserved blocks; the file is fully allocated, so its unwritten blocks read as zeros
      await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-O', '^has_journal', '-i', '8192', '-E', 'nodiscard,lazy_itable_init=1', image]);
      await run('mount', ['-o', 'loop,nosuid,nodev,noatime,noinit_itable', image, dir]);
      mounted = true;
      await rmdir(join(dir, 'lost+found')).catch(() => undefined);
      // like the tmpfs it replaces: anyone may write, nobody may remove another's files
      await chmod(dir, 0o1777);
      return { dir, release };
    } catch (e) {
      await release().catch(() => undefined);
      throw new QuorumError('internal', `cannot prepare ${Math.round(bytes / 2 ** 20)} MiB of disk scratch for the build: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Unmounts and deletes every area a previous run of this worker left (after a crash); returns how many. */
  async removeStale(): Promise<number> {
    const entries = await readdir(this.baseDir).catch(() => [] as string[]);
    for (const point of await mountsBelow(this.baseDir)) await unmount(point);
    for (const name of entries) await rm(join(this.baseDir, name), { recursive: true, force: true });
    return entries.length;
  }

  /** Fails with a clear message when this machine cannot give builds disk scratch. */
  async probe(): Promise<void> {
    const area = await this.create(16 * 2 ** 20);
    await area.release();
  }
}

/** Unmounts, lazily when something still holds the mount (the file system goes once it is let go). */
async function unmount(dir: string): Promise<void> {
  try {
    await run('umount', [dir]);
  } catch {
    await run('umount', ['-l', dir]);
  }
}
