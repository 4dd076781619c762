import { QuorumError } from '@quorum/core';
import { Agent, buildConnector, fetch, type Response } from 'undici';
import { egressRefused, hostLabel, unreachable } from './egress-errors.js';
import type { EgressPolicy } from './egress-policy.js';
import { resolveEgress } from './resolve.js';

export type { Response } from 'undici';

/** Options of {@link egressFetch}. */
export interface EgressFetchOptions {
  policy: EgressPolicy;
  /** for the whole exchange, body included; @defaultValue 30 s */
  timeoutMs?: number;
  /** the caller's cancellation: its reason is rethrown as is */
  signal?: AbortSignal;
  /** @defaultValue none */
  headers?: Record<string, string>;
  /** @defaultValue 'GET' */
  method?: string;
  /** @defaultValue 5 */
  maxRedirects?: number;
  /**
   * The origins a redirect may lead to (e.g. only the registry's own): a redirect elsewhere is
   * `egress-refused`, even to a host the policy allows. @defaultValue any the policy allows
   */
  redirectOrigins?: readonly string[];
  /** the request body (with a method that has one); dropped where a redirect turns the request into a GET */
  body?: string | Uint8Array;
}

/** Options of {@link fetchJson}. */
export interface FetchJsonOptions extends EgressFetchOptions {
  /** larger bodies are refused with `unsafe-archive`; @defaultValue 64 MiB */
  maxBytes?: number;
  /** the refusal of a body over `maxBytes`; @defaultValue "<host> sent more than N bytes" */
  tooLarge?: () => QuorumError;
  /**
   * A bound shared by several documents: a declared length over `left` is refused, and each chunk
   * is taken from `left` as it arrives, so fetches in flight together pass it by a chunk at most.
   */
  budget?: { left: number; overBudget: () => QuorumError };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// Credentials for one origin must not travel to the next one a redirect names.
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
const agents = new WeakMap<EgressPolicy, Agent>();

/**
 * Parses an http(s) URL given by anyone; anything else (a malformed URL, another scheme,
 * embedded credentials) is `invalid-input`.
 */
export function parseHttpUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new QuorumError('invalid-input', `${JSON.stringify(String(url).slice(0, 200))} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new QuorumError('invalid-input', `only http: and https: URLs are fetched, not ${parsed.protocol}`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new QuorumError('invalid-input', `a URL to fetch must not carry credentials (${parsed.host})`);
  }
  return parsed;
}

/**
 * `fetch` for URLs that come from outside: every connection (each redirect hop, each DNS answer)
 * is vetted by the egress policy and made to exactly the vetted address. Refusals are
 * `egress-refused`, every transport failure is the uniform `upstream-unavailable` "cannot reach
 * <host>", HTTP 404/410 are `not-found`; other statuses are returned for the caller to judge.
 */
export async function egressFetch(url: string | URL, opts: EgressFetchOptions): Promise<Response> {
  let current = parseHttpUrl(url);
  opts.signal?.throwIfAborted();
  const deadline = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  const maxRedirects = opts.maxRedirects ?? 5;
  let method = (opts.method ?? 'GET').toUpperCase();
  if (!/^[A-Z]{1,20}$/.test(method) || method === 'CONNECT' || method === 'TRACE' || method === 'TRACK') {
    throw new QuorumError('invalid-input', `${JSON.stringify(method.slice(0, 20))} is not a method egressFetch sends`);
  }
  const headers = { ...opts.headers };
  let body = opts.body;
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await fetch(current, { method, headers, redirect: 'manual', signal, dispatcher: agentFor(opts.policy), ...(body !== undefined ? { body } : {}) });
    } catch (e) {
      throw transportError(e, current, opts.signal);
    }
    const location = res.headers.get('location');
    if (REDIRECTS.has(res.status) && location !== null) {
      discard(res);
      if (hop >= maxRedirects) throw unreachable(current.hostname, new Error(`more than ${maxRedirects} redirects`));
      let next: URL;
      try {
        next = new URL(location, current);
      } catch (e) {
        throw new QuorumError('upstream-unavailable', `${hostLabel(current.hostname)} sent a malformed redirect`, { cause: e });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw egressRefused(current.hostname, `redirect to a ${next.protocol} URL`);
      }
      if (opts.redirectOrigins && !opts.redirectOrigins.includes(next.origin)) {
        throw new QuorumError('egress-refused', `${hostLabel(current.hostname)} redirected to another origin, which this fetch does not follow`);
      }
      if (next.username !== '' || next.password !== '') {
        throw new QuorumError('upstream-unavailable', `${hostLabel(current.hostname)} redirected to a URL with credentials`);
      }
      if (next.origin !== current.origin) {
        for (const name of Object.keys(headers)) if (ORIGIN_BOUND_HEADERS.includes(name.toLowerCase())) delete headers[name];
      }
      if ((res.status === 303 && method !== 'HEAD') || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      current = next;
      continue;
    }
    if (res.status === 404 || res.status === 410) {
      discard(res);
      throw httpStatusError(res.status, current);
    }
    return res;
  }
}

/**
 * Returns a 2xx response, else throws: 404/410 → `not-found`, any other status →
 * `upstream-unavailable` ("<host> answered HTTP <status> for <path>"), dropping the body.
 */
export function expectOk(res: Response, url: string | URL): Response {
  if (res.ok) return res;
  discard(res);
  let where: URL;
  try {
    where = new URL(res.url !== '' ? res.url : String(url));
  } catch {
    where = new URL('http://unknown.invalid/');
  }
  throw httpStatusError(res.status, where);
}

/**
 * Fetches a JSON document under the egress policy, reading at most `maxBytes` (`unsafe-archive`
 * beyond); a non-2xx status or a body that is not JSON is `upstream-unavailable`.
 */
export async function fetchJson(url: string | URL, opts: FetchJsonOptions): Promise<unknown> {
  const target = parseHttpUrl(url);
  const res = expectOk(await egressFetch(target, { ...opts, headers: { accept: 'application/json', ...opts.headers } }), target);
  const text = (await readCapped(res, target, opts.maxBytes ?? 64 * 1024 * 1024, opts)).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new QuorumError('upstream-unavailable', `${hostLabel(target.hostname)} sent invalid JSON`, { cause: e });
  }
}

/**
 * Fetches a document's bytes under the egress policy, reading at most `maxBytes` (`unsafe-archive`
 * beyond); 404/410 are `not-found`, any other non-2xx status `upstream-unavailable`.
 */
export async function fetchBytes(url: string | URL, opts: FetchJsonOptions): Promise<{ body: Buffer; contentType: string | null }> {
  const target = parseHttpUrl(url);
  const res = expectOk(await egressFetch(target, opts), target);
  return { contentType: res.headers.get('content-type'), body: await readCapped(res, target, opts.maxBytes ?? 64 * 1024 * 1024, opts) };
}

/** The caller's own cancellation passes through; any other failure is the uniform one. */
export function transportError(e: unknown, url: URL, callerSignal: AbortSignal | undefined): unknown {
  if (callerSignal?.aborted) return callerSignal.reason;
  for (let cause: unknown = e, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    if (cause instanceof QuorumError && cause.code === 'egress-refused') return cause;
  }
  return unreachable(url.hostname, e);
}

async function readCapped(res: Response, url: URL, maxBytes: number, opts: Pick<FetchJsonOptions, 'signal' | 'tooLarge' | 'budget'>): Promise<Buffer> {
  const tooLarge = opts.tooLarge ?? (() => tooBig(url, maxBytes));
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const { budget } = opts;
  if (declared > maxBytes || (budget && declared > budget.left)) {
    discard(res);
    throw declared > maxBytes ? tooLarge() : budget!.overBudget();
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (budget) budget.left -= value.byteLength;
      if (bytes > maxBytes) throw tooLarge();
      if (budget && budget.left < 0) throw budget.overBudget();
      chunks.push(value);
    }
  } catch (e) {
    void reader.cancel().catch(() => undefined);
    if (e instanceof QuorumError) throw e;
    throw transportError(e, url, opts.signal);
  }
  return Buffer.concat(chunks);
}

function tooBig(url: URL, maxBytes: number): QuorumError {
  return new QuorumError('unsafe-archive', `${hostLabel(url.hostname)} sent more than ${maxBytes} bytes`);
}

function httpStatusError(status: number, url: URL): QuorumError {
  const code = status === 404 || status === 410 ? 'not-found' : 'upstream-unavailable';
  return new QuorumError(code, `${hostLabel(url.hostname)} answered HTTP ${status} for ${url.pathname.slice(0, 200)}`);
}

function discard(res: Response): void {
  void res.body?.cancel().catch(() => undefined);
}

/** One agent per policy: keep-alive connections were made to vetted addresses of that policy. */
function agentFor(policy: EgressPolicy): Agent {
  let agent = agents.get(policy);
  if (!agent) {
    const connect = buildConnector({});
    agent = new Agent({
      connect(options, callback) {
        const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
        resolveEgress(policy, options.hostname, port).then(
          // The name stays in `host`/`servername`, so TLS still checks the certificate against it.
          ({ address }) => connect({ ...options, hostname: address }, callback),
          (e: unknown) => callback(e instanceof Error ? e : new Error(String(e)), null),
        );
      },
    });
    agents.set(policy, agent);
  }
  return agent;
}
