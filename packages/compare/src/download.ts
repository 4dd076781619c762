import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { QuorumError } from '@quorum/core';

/** Options of a capped download. */
export interface DownloadOptions {
  /** refuse bodies bigger than this; @defaultValue 512 MiB */
  maxBytes?: number;
  signal?: AbortSignal;
  /** @defaultValue 120 s */
  timeoutMs?: number;
}

/** Digests of a downloaded file, for Subresource-Integrity checks. */
export interface DownloadResult {
  bytes: number;
  hex: { sha1: string; sha256: string; sha512: string };
}

/**
 * Streams a URL to a file, hashing on the way, with a size cap. HTTP errors and caps are
 * faults (`upstream-unavailable`, `unsafe-archive`); nothing is left behind on failure.
 */
export async function downloadToFile(url: string, path: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const maxBytes = opts.maxBytes ?? 512 * 1024 * 1024;
  const signals = [AbortSignal.timeout(opts.timeoutMs ?? 120_000), ...(opts.signal ? [opts.signal] : [])];
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.any(signals), redirect: 'follow' });
  } catch (e) {
    throw new QuorumError('upstream-unavailable', `cannot download ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok || !res.body) {
    throw new QuorumError(res.status === 404 ? 'not-found' : 'upstream-unavailable', `download of ${url} answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new QuorumError('unsafe-archive', `${url} is ${declared} bytes, over the cap of ${maxBytes}`);
  const hashes = { sha1: createHash('sha1'), sha256: createHash('sha256'), sha512: createHash('sha512') };
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > maxBytes) return cb(new QuorumError('unsafe-archive', `${url} exceeds the cap of ${maxBytes} bytes`));
      for (const h of Object.values(hashes)) h.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), meter, createWriteStream(path));
  } catch (e) {
    await rm(path, { force: true });
    if (e instanceof QuorumError) throw e;
    throw new QuorumError('upstream-unavailable', `download of ${url} broke off: ${(e as Error).message}`, { cause: e });
  }
  return { bytes, hex: { sha1: hashes.sha1.digest('hex'), sha256: hashes.sha256.digest('hex'), sha512: hashes.sha512.digest('hex') } };
}

/**
 * Checks a Subresource-Integrity string (`sha512-<base64> sha1-<base64>`) against hex digests.
 * The strongest algorithm present must match, as SRI prescribes.
 */
export function integrityMatches(sri: string, hex: DownloadResult['hex']): boolean {
  const order = ['sha512', 'sha256', 'sha1'] as const;
  const entries = sri
    .trim()
    .split(/\s+/)
    .map((part) => /^(sha1|sha256|sha512)-([A-Za-z0-9+/=]+)/.exec(part))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ alg: m[1] as (typeof order)[number], hex: Buffer.from(m[2]!, 'base64').toString('hex') }));
  for (const alg of order) {
    const wanted = entries.filter((e) => e.alg === alg);
    if (wanted.length > 0) return wanted.some((e) => e.hex === hex[alg]);
  }
  return false;
}

/**
 * Downloads a file and checks it against a Subresource-Integrity string: the one way every part of
 * Quorum takes an artifact, a tool or a dependency from a registry. A mismatch throws
 * `integrity-mismatch` and leaves no file behind.
 */
export async function downloadVerified(url: string, integrity: string, path: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const got = await downloadToFile(url, path, opts);
  if (!integrityMatches(integrity, got.hex)) {
    await rm(path, { force: true });
    throw new QuorumError('integrity-mismatch', `${url} does not match the integrity ${integrity}`);
  }
  return got;
}
