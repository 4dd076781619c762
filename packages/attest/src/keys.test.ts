import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPair, keyIdOf, loadOrCreateKeyPair, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from './keys.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'attest-keys-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('keys', () => {
  it('names a key by the sha256 of its SPKI DER', () => {
    const kp = generateKeyPair();
    expect(kp.keyId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(keyIdOf(kp.publicKeyPem)).toBe(kp.keyId);
    expect(generateKeyPair().keyId).not.toBe(kp.keyId);
  });

  it('creates a key pair with private 0600, public 0644, directory 0700, then loads the same pair', async () => {
    const dir = join(root, 'keys');
    const first = await loadOrCreateKeyPair(dir);
    expect(first.created).toBe(true);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, PRIVATE_KEY_FILE))).toBe(0o600);
    expect(await mode(join(dir, PUBLIC_KEY_FILE))).toBe(0o644);
    const again = await loadOrCreateKeyPair(dir);
    expect(again.created).toBe(false);
    expect(again.keyId).toBe(first.keyId);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
  });

  it('refuses a world-readable private key and says how to fix it', async () => {
    const dir = join(root, 'keys');
    await loadOrCreateKeyPair(dir);
    await chmod(join(dir, PRIVATE_KEY_FILE), 0o644);
    await expect(loadOrCreateKeyPair(dir)).rejects.toMatchObject({ code: 'insecure-key-file', message: expect.stringContaining('chmod 600') });
    await chmod(join(dir, PRIVATE_KEY_FILE), 0o640);
    await expect(loadOrCreateKeyPair(dir)).rejects.toMatchObject({ code: 'insecure-key-file' });
    await chmod(join(dir, PRIVATE_KEY_FILE), 0o600);
    await expect(loadOrCreateKeyPair(dir)).resolves.toMatchObject({ created: false });
  });

  it('refuses a public key file that belongs to another key', async () => {
    const dir = join(root, 'keys');
    await loadOrCreateKeyPair(dir);
    await writeFile(join(dir, PUBLIC_KEY_FILE), generateKeyPair().publicKeyPem);
    await expect(loadOrCreateKeyPair(dir)).rejects.toMatchObject({ code: 'invalid-key' });
  });

  it('rewrites a missing public key file from the private key', async () => {
    const dir = join(root, 'keys');
    const kp = await loadOrCreateKeyPair(dir);
    await rm(join(dir, PUBLIC_KEY_FILE));
    await expect(loadOrCreateKeyPair(dir)).resolves.toMatchObject({ keyId: kp.keyId, created: false });
    expect(await mode(join(dir, PUBLIC_KEY_FILE))).toBe(0o644);
  });

  it('refuses a private key that is not ECDSA P-256', async () => {
    const dir = join(root, 'keys');
    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    await loadOrCreateKeyPair(dir);
    await writeFile(join(dir, PRIVATE_KEY_FILE), privateKey, { mode: 0o600 });
    await expect(loadOrCreateKeyPair(dir)).rejects.toMatchObject({ code: 'invalid-key', message: expect.stringContaining('P-256') });
  });

  it('creates exactly one key when several processes start at once', async () => {
    const dir = join(root, 'keys');
    const all = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateKeyPair(dir)));
    expect(new Set(all.map((k) => k.keyId)).size).toBe(1);
    expect(all.filter((k) => k.created)).toHaveLength(1);
  });
});
