import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AttestError, messageOf } from './errors.js';

/** A signing key pair (ECDSA P-256) with its key id. */
export interface KeyPair {
  /** `sha256:` + hex sha256 of the public key's SPKI DER; the key hint in every bundle */
  keyId: string;
  /** SPKI PEM */
  publicKeyPem: string;
  /** PKCS#8 PEM; never leaves the process that signs */
  privateKeyPem: string;
}

/** A public key a verifier accepts signatures from. */
export interface TrustedKey {
  keyId: string;
  publicKeyPem: string;
}

/** File name of the private key inside a key directory. */
export const PRIVATE_KEY_FILE = 'signing-key.pem';
/** File name of the public key inside a key directory. */
export const PUBLIC_KEY_FILE = 'signing-key.pub.pem';

/** Parses a public key PEM; throws AttestError('invalid-key'). */
export function publicKeyObject(publicKeyPem: string): KeyObject {
  try {
    return createPublicKey(publicKeyPem);
  } catch (e) {
    throw new AttestError('invalid-key', `not a public key PEM: ${messageOf(e)}`, { cause: e });
  }
}

/** The key id of a public key: `sha256:` + hex sha256 of its SPKI DER encoding. */
export function keyIdOf(publicKeyPem: string): string {
  return keyIdOfKey(publicKeyObject(publicKeyPem));
}

function keyIdOfKey(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** Generates a fresh ECDSA P-256 key pair. */
export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { keyId: keyIdOf(publicKey), publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** Parses a private key PEM, requires ECDSA P-256, and derives the whole key pair from it. */
export function keyPairFromPrivateKey(privateKeyPem: string): KeyPair {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (e) {
    throw new AttestError('invalid-key', `not a private key PEM: ${messageOf(e)}`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyType === 'ec' ? `ec ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
    throw new AttestError('invalid-key', `signing keys must be ECDSA P-256, got ${kind}`);
  }
  const publicKey = createPublicKey(key);
  return {
    keyId: keyIdOfKey(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * Loads the key pair kept in `dir` (`signing-key.pem` mode 0600, `signing-key.pub.pem` mode 0644),
 * creating the directory (0700) and a new pair when there is none. Refuses a private key file that
 * group or others can access, and a public key file that does not match the private key.
 */
export async function loadOrCreateKeyPair(dir: string): Promise<KeyPair & { created: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  let created = false;
  let privateKeyPem = await readPrivateKeyFile(privatePath);
  if (privateKeyPem === undefined) {
    const fresh = generateKeyPair();
    created = await createExclusively(privatePath, fresh.privateKeyPem);
    // Another process may have won the race; its key is the one on disk.
    privateKeyPem = created ? fresh.privateKeyPem : await readPrivateKeyFile(privatePath);
    if (privateKeyPem === undefined) throw new AttestError('invalid-key', `${privatePath} vanished while it was being created`);
  }
  const pair = keyPairFromPrivateKey(privateKeyPem);
  await ensurePublicKeyFile(join(dir, PUBLIC_KEY_FILE), pair);
  return { ...pair, created };
}

/** Reads the private key file, or undefined when it does not exist; checks its mode on the opened file. */
async function readPrivateKeyFile(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AttestError('invalid-key', `cannot open ${path}: ${messageOf(e)}`, { cause: e });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new AttestError('invalid-key', `${path} is not a regular file`);
    // Windows reports no POSIX permission bits; the check only means something elsewhere.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new AttestError(
        'insecure-key-file',
        `private key ${path} is accessible by group or others (mode ${mode}); restrict it with \`chmod 600 ${path}\` ` + 'and, if others may have read it, replace the key and re-enrol its public key',
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Writes `content` to `path` (0600) only if nothing is there yet, atomically; false when the file already existed. */
async function createExclusively(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function ensurePublicKeyFile(path: string, pair: KeyPair): Promise<void> {
  try {
    await writeFile(path, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
    await chmod(path, 0o644);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const handle = await open(path, 'r');
  let onDisk: string;
  try {
    onDisk = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  let id: string | undefined;
  try {
    id = keyIdOf(onDisk);
  } catch {
    id = undefined;
  }
  if (id !== pair.keyId) {
    throw new AttestError('invalid-key', `${path} does not hold the public key of ${PRIVATE_KEY_FILE} (${pair.keyId}); delete it to have it written again from the private key`);
  }
}
