import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isQuorumError } from '@quorum/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyOutput, listOutputs, pickArtifact, readSmallOutput } from './read-outputs.js';

const SECRET = 'BEGIN PRIVATE KEY host-secret-bytes';
const LIMIT = { maxBytes: 4096 };

let root: string;
let out: string;
let secret: string;
let servers: Server[];

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'read-outputs-')));
  out = join(root, 'out');
  await mkdir(out);
  secret = join(root, 'signing-key.pem');
  await writeFile(secret, SECRET);
  servers = [];
});
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await rm(root, { recursive: true, force: true });
});

/** Awaits a promise expected to reject with a QuorumError; checks the message leaks neither host paths nor the secret. */
async function refusal(promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(
    (value) => {
      expect(JSON.stringify(value ?? null)).not.toContain('host-secret');
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(isQuorumError(err)).toBe(true);
  expect(err).toMatchObject({ code });
  const message = (err as Error).message;
  expect(message).not.toContain(root);
  expect(message).not.toContain('host-secret');
  return err as Error;
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

async function socketAt(path: string): Promise<void> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
}

describe('listOutputs', () => {
  it('reports every entry with its own type and size, following nothing', async () => {
    await writeFile(join(out, 'a.tgz'), 'tarball');
    await symlink(secret, join(out, 'link.tgz'));
    mkfifo(join(out, 'pipe.tgz'));
    await mkdir(join(out, 'dir.tgz'));
    await socketAt(join(out, 'sock'));
    const entries = await listOutputs(out);
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['a.tgz', 'file'],
      ['dir.tgz', 'directory'],
      ['link.tgz', 'symlink'],
      ['pipe.tgz', 'fifo'],
      ['sock', 'socket'],
    ]);
    expect(entries.find((e) => e.name === 'a.tgz')?.size).toBe(7);
    // a link's own size is the length of its target path, not the target's size
    expect(entries.find((e) => e.name === 'link.tgz')?.size).toBe(secret.length);
  });

  it('lists a name that is not UTF-8 under its real bytes', async () => {
    const name = Buffer.concat([Buffer.from('x'), Buffer.from([0xff]), Buffer.from('.tgz')]);
    await writeFile(Buffer.concat([Buffer.from(`${out}/`), name]), 'tarball');
    const entries = await listOutputs(out);
    expect(entries).toEqual([{ name: 'x\ufffd.tgz', type: 'file', size: 7 }]);
  });

  it('refuses an output directory that is a symlink', async () => {
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere);
    await symlink(elsewhere, join(root, 'out-link'));
    await refusal(listOutputs(join(root, 'out-link')), 'unsafe-output');
  });
});

describe('pickArtifact', () => {
  it('picks the single regular file matching the glob', async () => {
    await writeFile(join(out, 'pkg-1.0.0.tgz'), 'tarball');
    await writeFile(join(out, 'toolchain.json'), '{}');
    expect(await pickArtifact(out, '*.tgz', LIMIT)).toEqual({ name: 'pkg-1.0.0.tgz', type: 'file', size: 7 });
  });

  it('says how many it found when nothing matches, with the wording of the no-artifact failure', async () => {
    await writeFile(join(out, 'toolchain.json'), '{}');
    const err = await refusal(pickArtifact(out, '*.tgz', LIMIT), 'not-found');
    expect(err.message).toBe('expected one *.tgz in the output, found 0');
  });

  it('refuses several matching files as not-found', async () => {
    await writeFile(join(out, 'a.tgz'), 'a');
    await writeFile(join(out, 'b.tgz'), 'b');
    const err = await refusal(pickArtifact(out, '*.tgz', LIMIT), 'not-found');
    expect(err.message).toBe('expected one *.tgz in the output, found 2');
  });

  it('refuses a symlinked artifact pointing outside without reading its target', async () => {
    await symlink(secret, join(out, 'pkg-1.0.0.tgz'));
    const err = await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output');
    expect(err.message).toBe('output "pkg-1.0.0.tgz" is a symbolic link, not a regular file');
  });

  it('refuses a symlinked artifact even when it points inside the output', async () => {
    await writeFile(join(out, 'real'), 'tarball');
    await symlink('real', join(out, 'pkg-1.0.0.tgz'));
    await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output');
  });

  it('refuses an unsafe match even next to a regular one', async () => {
    await writeFile(join(out, 'a.tgz'), 'tarball');
    await symlink(secret, join(out, 'b.tgz'));
    await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output');
  });

  it('refuses a FIFO artifact without blocking', async () => {
    mkfifo(join(out, 'pkg-1.0.0.tgz'));
    const err = await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output');
    expect(err.message).toMatch(/is a FIFO/);
  });

  it('refuses a directory, and a socket, named like the artifact', async () => {
    await mkdir(join(out, 'pkg-1.0.0.tgz'));
    expect((await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output')).message).toMatch(/is a directory/);
    await rm(join(out, 'pkg-1.0.0.tgz'), { recursive: true });
    await socketAt(join(out, 'pkg-1.0.0.tgz'));
    expect((await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output')).message).toMatch(/is a socket/);
  });

  it('refuses an artifact over the size limit, sparse or not', async () => {
    await writeFile(join(out, 'pkg-1.0.0.tgz'), '');
    await truncate(join(out, 'pkg-1.0.0.tgz'), 64 * 1024 * 1024 * 1024);
    const err = await refusal(pickArtifact(out, '*.tgz', { maxBytes: 1024 }), 'unsafe-output');
    expect(err.message).toMatch(/over the limit of 1024/);
  });

  it('refuses a matching name with a line break or one that is not UTF-8, quoting it escaped', async () => {
    await writeFile(join(out, 'evil\n.tgz'), 'tarball');
    const err = await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output');
    expect(err.message).not.toContain('\n');
    await rm(join(out, 'evil\n.tgz'));
    await writeFile(Buffer.concat([Buffer.from(`${out}/x`), Buffer.from([0xff]), Buffer.from('.tgz')]), 'tarball');
    await refusal(pickArtifact(out, '*.tgz', LIMIT), 'unsafe-output');
  });

  it('refuses an output directory that is a symlink', async () => {
    await writeFile(join(root, 'pkg-1.0.0.tgz'), 'tarball');
    await symlink(root, join(root, 'out-link'));
    await refusal(pickArtifact(join(root, 'out-link'), '*.tgz', LIMIT), 'unsafe-output');
  });
});

describe('copyOutput', () => {
  it('copies a regular file to a new file outside the output and says how many bytes', async () => {
    await writeFile(join(out, 'pkg.tgz'), 'tarball bytes');
    const dest = join(root, 'artifact');
    expect(await copyOutput(out, 'pkg.tgz', dest, LIMIT)).toEqual({ bytes: 13 });
    expect(await readFile(dest, 'utf8')).toBe('tarball bytes');
    expect((await stat(dest)).mode & 0o777).toBe(0o600);
  });

  it('copies a file larger than one read chunk exactly', async () => {
    const bytes = Buffer.alloc(200_000, 7);
    bytes[199_999] = 9;
    await writeFile(join(out, 'pkg.tgz'), bytes);
    const dest = join(root, 'artifact');
    expect(await copyOutput(out, 'pkg.tgz', dest, { maxBytes: 200_000 })).toEqual({ bytes: 200_000 });
    expect((await readFile(dest)).equals(bytes)).toBe(true);
  });

  it('refuses a symlink to a host file and never writes its bytes', async () => {
    await symlink(secret, join(out, 'pkg.tgz'));
    const dest = join(root, 'artifact');
    await refusal(copyOutput(out, 'pkg.tgz', dest, LIMIT), 'unsafe-output');
    await expect(stat(dest)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a FIFO without blocking', async () => {
    mkfifo(join(out, 'pkg.tgz'));
    await refusal(copyOutput(out, 'pkg.tgz', join(root, 'artifact'), LIMIT), 'unsafe-output');
  });

  it('refuses a directory and an oversized sparse file', async () => {
    await mkdir(join(out, 'dir'));
    await refusal(copyOutput(out, 'dir', join(root, 'a1'), LIMIT), 'unsafe-output');
    await writeFile(join(out, 'big'), '');
    await truncate(join(out, 'big'), 10 * 1024 * 1024 * 1024);
    await refusal(copyOutput(out, 'big', join(root, 'a2'), LIMIT), 'unsafe-output');
    await expect(stat(join(root, 'a2'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses names that are not one plain entry of the output', async () => {
    await writeFile(join(root, 'outside.tgz'), SECRET);
    for (const name of ['../outside.tgz', '..', '.', '', 'a/b', 'a\u0000b']) {
      await refusal(copyOutput(out, name, join(root, 'artifact'), LIMIT), 'invalid-input');
    }
  });

  it('refuses an output directory that is a symlink', async () => {
    await writeFile(join(root, 'pkg.tgz'), 'tarball');
    await symlink(root, join(root, 'out-link'));
    await refusal(copyOutput(join(root, 'out-link'), 'pkg.tgz', join(root, 'artifact'), LIMIT), 'unsafe-output');
  });

  it('reports a missing entry as not-found', async () => {
    await refusal(copyOutput(out, 'pkg.tgz', join(root, 'artifact'), LIMIT), 'not-found');
  });

  it('never overwrites or follows an existing destination', async () => {
    await writeFile(join(out, 'pkg.tgz'), 'tarball');
    const dest = join(root, 'artifact');
    await symlink(secret, dest);
    await refusal(copyOutput(out, 'pkg.tgz', dest, LIMIT), 'internal');
    expect(await readFile(secret, 'utf8')).toBe(SECRET);
  });
});

describe('readSmallOutput', () => {
  it('reads a small regular file', async () => {
    await writeFile(join(out, 'toolchain.json'), '{"node":"20.11.0"}');
    expect(await readSmallOutput(out, 'toolchain.json', LIMIT)).toBe('{"node":"20.11.0"}');
  });

  it('answers undefined when the file is absent', async () => {
    expect(await readSmallOutput(out, 'toolchain.json', LIMIT)).toBeUndefined();
  });

  it('refuses a symlinked toolchain.json without reading its target', async () => {
    await symlink(secret, join(out, 'toolchain.json'));
    const err = await refusal(readSmallOutput(out, 'toolchain.json', LIMIT), 'unsafe-output');
    expect(err.message).toBe('output "toolchain.json" is a symbolic link, not a regular file');
  });

  it('refuses a dangling symlink rather than calling it absent', async () => {
    await symlink(join(root, 'nothing-here'), join(out, 'toolchain.json'));
    await refusal(readSmallOutput(out, 'toolchain.json', LIMIT), 'unsafe-output');
  });

  it('refuses a FIFO toolchain.json without blocking', async () => {
    mkfifo(join(out, 'toolchain.json'));
    await refusal(readSmallOutput(out, 'toolchain.json', LIMIT), 'unsafe-output');
  });

  it('refuses a directory and a file over the limit', async () => {
    await mkdir(join(out, 'toolchain.json'));
    await refusal(readSmallOutput(out, 'toolchain.json', LIMIT), 'unsafe-output');
    await rm(join(out, 'toolchain.json'), { recursive: true });
    await writeFile(join(out, 'toolchain.json'), 'x'.repeat(4097));
    await refusal(readSmallOutput(out, 'toolchain.json', LIMIT), 'unsafe-output');
  });

  it('reads a file of exactly the limit', async () => {
    await writeFile(join(out, 'toolchain.json'), 'x'.repeat(4096));
    expect(await readSmallOutput(out, 'toolchain.json', LIMIT)).toHaveLength(4096);
  });

  it('refuses an output directory that is a symlink', async () => {
    await writeFile(join(root, 'toolchain.json'), '{}');
    await symlink(root, join(root, 'out-link'));
    await refusal(readSmallOutput(join(root, 'out-link'), 'toolchain.json', LIMIT), 'unsafe-output');
  });

  it('refuses names with a slash or ..', async () => {
    await refusal(readSmallOutput(out, '../signing-key.pem', LIMIT), 'invalid-input');
    await refusal(readSmallOutput(out, '..', LIMIT), 'invalid-input');
  });
});
