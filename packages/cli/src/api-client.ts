import type {
  ApiErrorBody,
  SourceMappingRequest,
  AuditAnswer,
  AuditRequest,
  EnrolWorkerAnswer,
  EnrolWorkerRequest,
  PackageView,
  RejectionView,
  ReleaseView,
  SourceMappingView,
  SubmitReleaseRequest,
  WorkerView,
} from '@quorum/core';

export type { EnrolWorkerAnswer, EnrolWorkerRequest, RejectionView } from '@quorum/core';
import type { ArtifactDiff } from '@quorum/compare';
import { EXIT } from './exit-codes.js';

/** Coordinator base URL used when neither `--server` nor `QUORUM_SERVER` names one. @defaultValue http://127.0.0.1:8080 */
export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** Per-request time limit for JSON calls. @defaultValue 30 s */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Codes of CliError: what went wrong, independent of the message. */
export type CliErrorCode = 'usage' | 'unreachable' | 'http' | 'bad-answer' | 'timeout' | 'process';

/** The one error class of the CLI: a message for `quorum: <message>`, the exit code, and for HTTP errors the API code. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: number;
  /** HTTP status, for `http` errors */
  readonly status?: number;
  /** the API's `error.code`, when the coordinator sent one */
  readonly apiCode?: string;
  constructor(code: CliErrorCode, message: string, options: { exitCode?: number; status?: number; apiCode?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT.error;
    if (options.status !== undefined) this.status = options.status;
    if (options.apiCode !== undefined) this.apiCode = options.apiCode;
  }
}

/** True when `e` is a CliError, optionally with one of the given codes. */
export function isCliError(e: unknown, ...codes: CliErrorCode[]): e is CliError {
  return e instanceof CliError && (codes.length === 0 || codes.includes(e.code));
}

/** Validates and normalises a coordinator base URL (no trailing slash). */
export function normalizeServerUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CliError('usage', `invalid coordinator URL "${input}"; expected e.g. ${DEFAULT_SERVER}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('usage', `invalid coordinator URL "${input}": only http and https are supported`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Absolute URL of an API path (`/v1/...`) or of a URL the API returned (e.g. a `logUrl`).
 * Paths are appended to the base URL, so a coordinator served under a path prefix keeps it.
 */
export function resolveApiUrl(server: string, ref: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return ref;
  const base = server.replace(/\/+$/, '');
  return ref.startsWith('/') ? `${base}${ref}` : new URL(ref, `${base}/`).href;
}

/** Options of ApiClient. */
export interface ApiClientOptions {
  /** coordinator base URL, e.g. http://127.0.0.1:8080 */
  server: string;
  /** @defaultValue DEFAULT_REQUEST_TIMEOUT_MS */
  timeoutMs?: number;
}

/** Network error codes that mean "nothing answers there". */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** Finds the system error code (ECONNREFUSED, …) in a fetch failure and its causes. */
function networkCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const nested = (cur as { errors?: unknown }).errors; // AggregateError from happy-eyeballs connects
    if (Array.isArray(nested) && nested.length > 0) return networkCode(nested[0]);
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Typed client of the coordinator's HTTP API (`/v1/...`); every failure is a CliError. */
export class ApiClient {
  /** normalised base URL, without trailing slash */
  readonly server: string;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions) {
    this.server = normalizeServerUrl(options.server);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Absolute URL of an API path or of a relative URL the API returned (e.g. a `logUrl`). */
  url(pathOrRelative: string): string {
    return resolveApiUrl(this.server, pathOrRelative);
  }

  /** `POST /v1/releases`; a submit token (or the admin token) authenticates the submitter, which source overrides need */
  submitRelease(body: SubmitReleaseRequest, token?: string): Promise<ReleaseView> {
    return this.json<ReleaseView>('POST', '/v1/releases', body, token);
  }

  /** `POST /v1/audit`: what answers for each of a lockfile's releases, the integrity each is pinned by checked */
  audit(body: AuditRequest, token?: string): Promise<AuditAnswer> {
    return this.json<AuditAnswer>('POST', '/v1/audit', body, token);
  }

  /** `GET /v1/releases/:id` */
  getRelease(id: string): Promise<ReleaseView> {
    return this.json<ReleaseView>('GET', `/v1/releases/${encodeURIComponent(id)}`);
  }

  /** `GET /v1/packages/:purl`: the purl is one URL-encoded path segment. */
  /** The file-level diff explaining a release's newest verdict. */
  getDiff(releaseId: string): Promise<ArtifactDiff> {
    return this.json<ArtifactDiff>('GET', `/v1/releases/${encodeURIComponent(releaseId)}/diff`);
  }

  getPackage(purl: string): Promise<PackageView> {
    return this.json<PackageView>('GET', `/v1/packages/${encodeURIComponent(purl)}`);
  }

  /** `GET /v1/workers` */
  listWorkers(): Promise<WorkerView[]> {
    return this.json<WorkerView[]>('GET', '/v1/workers');
  }

  /** `GET /v1/keys`: the coordinator's key, the enrolled builder keys and the quorum policy (unchecked). */
  getKeys(): Promise<unknown> {
    return this.json<unknown>('GET', '/v1/keys');
  }

  /** `GET /v1/attestations/:purl`: the VSA and builder bundles of the release that answers for the purl (canonical source; an unexplained mismatch first), unchecked. */
  getAttestations(purl: string): Promise<unknown> {
    return this.json<unknown>('GET', `/v1/attestations/${encodeURIComponent(purl)}`);
  }

  /** `POST /v1/admin/workers` with the admin token: enrols a worker's key, or asks for a one-time enrolment token. */
  enrolWorker(body: EnrolWorkerRequest, adminToken: string): Promise<EnrolWorkerAnswer> {
    return this.json<EnrolWorkerAnswer>('POST', '/v1/admin/workers', body, adminToken);
  }

  /** `GET /v1/admin/rejections` with the admin token: refused reports and enrolments. */
  listRejections(adminToken: string, opts: { unauthenticated?: boolean } = {}): Promise<RejectionView[]> {
    return this.json<RejectionView[]>('GET', `/v1/admin/rejections${opts.unauthenticated ? '?unauthenticated=1' : ''}`, undefined, adminToken);
  }

  /** `POST /v1/admin/submitters`: issues a submit token (shown once). */
  addSubmitter(name: string, adminToken: string): Promise<{ name: string; token: string }> {
    return this.json('POST', '/v1/admin/submitters', { name }, adminToken);
  }

  /** `GET /v1/admin/submitters` */
  listSubmitters(adminToken: string): Promise<{ name: string; createdAt: string; revokedAt?: string }[]> {
    return this.json('GET', '/v1/admin/submitters', undefined, adminToken);
  }

  /** `DELETE /v1/admin/submitters/:name` */
  revokeSubmitter(name: string, adminToken: string): Promise<{ name: string; revoked: boolean }> {
    return this.json('DELETE', `/v1/admin/submitters/${encodeURIComponent(name)}`, undefined, adminToken);
  }

  /** `PUT /v1/admin/source-mappings`: records where a package's source lives when its registry entry declares none. */
  putSourceMapping(body: SourceMappingRequest, adminToken: string): Promise<SourceMappingView> {
    return this.json('PUT', '/v1/admin/source-mappings', body, adminToken);
  }

  /** `DELETE /v1/admin/source-mappings/:purl` */
  deleteSourceMapping(purl: string, adminToken: string): Promise<{ purl: string; deleted: boolean }> {
    return this.json('DELETE', `/v1/admin/source-mappings/${encodeURIComponent(purl)}`, undefined, adminToken);
  }

  /** `GET /v1/source-mappings` */
  listSourceMappings(): Promise<SourceMappingView[]> {
    return this.json('GET', '/v1/source-mappings');
  }

  /** `GET /v1/rebuilds/:id/log`: the response, body unread, for streaming the log unchanged. */
  async rebuildLog(id: string): Promise<Response> {
    // no overall time limit: a log may be large and the link slow; connection errors still surface
    return this.request('GET', `/v1/rebuilds/${encodeURIComponent(id)}/log`, undefined, { accept: 'text/plain', timeoutMs: 0 });
  }

  private async json<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, bearer?: string): Promise<T> {
    const res = await this.request(method, path, body, { accept: 'application/json', timeoutMs: this.timeoutMs, ...(bearer !== undefined ? { bearer } : {}) });
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new CliError('bad-answer', `the coordinator at ${this.server} sent something that is not JSON for ${method} ${path} (HTTP ${res.status})`, { cause: e });
    }
  }

  private async request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, opts: { accept: string; timeoutMs: number; bearer?: string }): Promise<Response> {
    const url = this.url(path);
    const headers: Record<string, string> = { accept: opts.accept };
    if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`;
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    if (opts.timeoutMs > 0) init.signal = AbortSignal.timeout(opts.timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw this.fetchFailure(e, method, path, opts.timeoutMs);
    }
    if (!res.ok) throw await this.httpFailure(res, method, path);
    return res;
  }

  private fetchFailure(e: unknown, method: string, path: string, timeoutMs: number): CliError {
    const name = (e as { name?: unknown })?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new CliError('timeout', `the coordinator at ${this.server} did not answer ${method} ${path} within ${Math.round(timeoutMs / 1000)} s`, { cause: e });
    }
    const code = networkCode(e);
    const hint = `cannot reach the coordinator at ${this.server} (is \`quorum up\` running?)`;
    if (code === undefined || code === 'ECONNREFUSED') return new CliError('unreachable', hint, { cause: e });
    if (UNREACHABLE_CODES.has(code)) return new CliError('unreachable', `${hint}: ${code}`, { cause: e });
    return new CliError('unreachable', `${hint}: ${code}: ${(e as Error).message ?? String(e)}`, { cause: e });
  }

  private async httpFailure(res: Response, method: string, path: string): Promise<CliError> {
    let text = '';
    try {
      text = await res.text();
    } catch {
      // the status alone still says what happened
    }
    let parsed: Partial<ApiErrorBody> | undefined;
    try {
      parsed = JSON.parse(text) as Partial<ApiErrorBody>;
    } catch {
      parsed = undefined;
    }
    const err = parsed?.error;
    if (err && typeof err.message === 'string' && err.message !== '') {
      return new CliError('http', err.message, { status: res.status, ...(typeof err.code === 'string' ? { apiCode: err.code } : {}) });
    }
    const snippet = text.trim().replace(/\s+/g, ' ').slice(0, 200);
    const statusText = res.statusText ? ` ${res.statusText}` : '';
    return new CliError('http', `${method} ${path} failed: HTTP ${res.status}${statusText} from ${this.server}${snippet ? `: ${snippet}` : ''}`, { status: res.status });
  }
}
