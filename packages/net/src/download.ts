import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { QuorumError } from '@quorum/core';
import { hostLabel } from './egress-errors.js';
import type { EgressPolicy } from './egress-policy.js';
import { egressFetch, expectOk, parseHttpUrl, transportError } from './http.js';

/** Options of a capped download. */
export interface DownloadOptions {
  policy: EgressPolicy;
  /** refuse bodies bigger than this; @defaultValue 512 MiB */
  maxBytes?: number;
  /** the caller's cancellation: its reason is rethrown as is */
  signal?: AbortSignal;
  /** for the whole download; @defaultValue 120 s */
  timeoutMs?: number;
  /** the origins a redirect may lead to; @defaultValue any the policy allows */
  redirectOrigins?: readonly string[];
}

/** Digests of a downloaded file, for Subresource-Integrity checks. */
export interface DownloadResult {
  bytes: number;
  hex: { sha1: string; sha256: string; sha384: string; sha512: string };
}

/**
 * Streams a URL to a file under the egress policy, hashing on the way, with a size cap. HTTP
 * errors and caps are faults (`not-found`, `upstream-unavailable`, `unsafe-archive`); nothing is
 * left behind on failure.
 */
export async function downloadToFile(url: string | URL, path: string, opts: DownloadOptions): Promise<DownloadResult> {
  const target = parseHttpUrl(url);
  const maxBytes = opts.maxBytes ?? 512 * 1024 * 1024;
  const res = expectOk(
    await egressFetch(target, {
      policy: opts.policy,
      timeoutMs: opts.timeoutMs ?? 120_000,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.redirectOrigins ? { redirectOrigins: opts.redirectOrigins } : {}),
    }),
    target,
  );
  const host = hostLabel(target.hostname);
  if (!res.body) throw new QuorumError('upstream-unavailable', `${host} sent no body for ${target.pathname.slice(0, 200)}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    void res.body.cancel().catch(() => undefined);
    throw new QuorumError('unsafe-archive', `${host} announced ${declared} bytes, over the cap of ${maxBytes}`);
  }
  const hashes = { sha1: createHash('sha1'), sha256: createHash('sha256'), sha384: createHash('sha384'), sha512: createHash('sha512') };
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > maxBytes) return cb(new QuorumError('unsafe-archive', `${host} sent more than the cap of ${maxBytes} bytes`));
      for (const h of Object.values(hashes)) h.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), meter, createWriteStream(path));
  } catch (e) {
    await rm(path, { force: true });
    if (e instanceof QuorumError) throw e;
    throw transportError(e, target, opts.signal);
  }
  return { bytes, hex: { sha1: hashes.sha1.digest('hex'), sha256: hashes.sha256.digest('hex'), sha384: hashes.sha384.digest('hex'), sha512: hashes.sha512.digest('hex') } };
}

/**
 * Checks a Subresource-Integrity string (`sha512-<base64> sha1-<base64>`) against hex digests.
 * The strongest algorithm present must match, as SRI prescribes.
 */
export function integrityMatches(sri: string, hex: DownloadResult['hex']): boolean {
  // sha384 too: skipping it would let `sha384-… sha1-…` be checked by its sha1 alone
  const order = ['sha512', 'sha384', 'sha256', 'sha1'] as const;
  const entries = sri
    .trim()
    .split(/\s+/)
    .map((part) => /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)/.exec(part))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ alg: m[1] as (typeof order)[number], hex: Buffer.from(m[2]!, 'base64').toString('hex') }));
  for (const alg of order) {
    const wanted = entries.filter((e) => e.alg === alg);
    if (wanted.length > 0) return wanted.some((e) => e.hex === hex[alg]);
  }
  return false;
}

/**
 * Downloads a file under the egress policy and checks it against a Subresource-Integrity string:
 * the one way every part of Quorum takes an artifact, a tool or a dependency from a registry. A
 * mismatch throws `integrity-mismatch` and leaves no file behind.
 */
export async function downloadVerified(url: string | URL, integrity: string, path: string, opts: DownloadOptions): Promise<DownloadResult> {
  const got = await downloadToFile(url, path, opts);
  if (!integrityMatches(integrity, got.hex)) {
    await rm(path, { force: true });
    throw new QuorumError('integrity-mismatch', `${String(url)} does not match the integrity ${integrity}`);
  }
  return got;
}

/**
 * downloadVerified when the registry pins the artifact (`integrity` given), else a plain download
 * under the same policy and caps: for a registry that pins no digest (the caller says so in what it reports).
 */
export async function downloadPinned(url: string | URL, integrity: string | undefined, path: string, opts: DownloadOptions): Promise<DownloadResult> {
  return integrity === undefined ? downloadToFile(url, path, opts) : downloadVerified(url, integrity, path, opts);
}
