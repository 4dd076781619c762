import { createHash } from 'node:crypto';
import { QuorumError, type AuditAnswer, type AuditEntry } from '@quorum/core';

/** Options of the gate's client of the farm. */
export interface FarmClientOptions {
  /** the coordinator's base URL, e.g. `http://127.0.0.1:8080` */
  server: string;
  /** a submit token: audits then are not rate limited, and submissions are the gate's own */
  token?: string;
  /** per request; @defaultValue 10 s */
  timeoutMs?: number;
}

/** What the farm's largest audit request takes at once. */
export const MAX_AUDIT_BATCH = 20_000;

/** The gate's questions to the farm: audits of exact artifacts, submissions, the VSA a refusal relied on. */
export class FarmClient {
  readonly server: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: FarmClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The farm's answer for each purl and integrity, in the order asked (one request per 20,000). */
  async audit(items: readonly { purl: string; integrity: string | undefined }[]): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for (let i = 0; i < items.length; i += MAX_AUDIT_BATCH) {
      const batch = items.slice(i, i + MAX_AUDIT_BATCH);
      const answer = (await this.request('POST', '/v1/audit', { packages: batch.map((b) => (b.integrity ? { purl: b.purl, integrity: b.integrity } : { purl: b.purl })) })) as AuditAnswer;
      // the answer has one entry per distinct purl and integrity, in the order first asked
      let k = 0;
      const seen = new Map<string, AuditEntry>();
      for (const b of batch) {
        const key = `${b.purl}\n${b.integrity ?? ''}`;
        let entry = seen.get(key);
        if (!entry) {
          entry = answer.entries[k++];
          if (!entry || entry.purl !== b.purl) throw new QuorumError('upstream-unavailable', `the farm at ${this.server} answered an audit out of order`);
          seen.set(key, entry);
        }
        entries.push(entry);
      }
    }
    return entries;
  }

  /** Asks the farm to verify a release it has not seen. */
  async submit(purl: string): Promise<void> {
    await this.request('POST', '/v1/releases', { purl });
  }

  /**
   * The digest of the signed VSA statement (sha256 of its DSSE payload) of the release that answers
   * for `purl`, if the farm has one: what a refusal names as the evidence it relied on.
   */
  async vsaDigest(purl: string): Promise<string | undefined> {
    const answer = (await this.request('GET', `/v1/attestations/${encodeURIComponent(purl)}`)) as { vsa?: { dsseEnvelope?: { payload?: unknown } } | null };
    const payload = answer.vsa?.dsseEnvelope?.payload;
    return typeof payload === 'string' ? `sha256:${createHash('sha256').update(Buffer.from(payload, 'base64')).digest('hex')}` : undefined;
  }

  /**
   * When the farm first had a release of `purl` (ms since the epoch): an age that does not rest on
   * the registry's word. Undefined when it has none.
   */
  async firstSeen(purl: string): Promise<number | undefined> {
    let view: { firstSeenAt?: unknown; releases?: { createdAt?: unknown }[] };
    try {
      view = (await this.request('GET', `/v1/packages/${encodeURIComponent(purl)}`)) as typeof view;
    } catch (e) {
      if (e instanceof QuorumError && e.code === 'not-found') return undefined;
      throw e;
    }
    // the first release ever, not only among the newest the view lists (resubmissions add releases)
    if (typeof view.firstSeenAt === 'string' && Number.isFinite(Date.parse(view.firstSeenAt))) return Date.parse(view.firstSeenAt);
    const times = (view.releases ?? []).map((r) => (typeof r.createdAt === 'string' ? Date.parse(r.createdAt) : NaN)).filter((t) => Number.isFinite(t));
    if (times.length === 0) return undefined;
    return Math.min(...times);
  }

  /**
   * The dashboard page of what answers for a purl. Named by the purl, not by release id: npm masks
   * anything shaped like a UUID in what it prints (it could be a token), release ids included.
   */
  answerPage(purl: string): string {
    return `${this.server}/ui/packages/${encodeURIComponent(purl)}`;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, {
        method,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new QuorumError('upstream-unavailable', `the farm at ${this.server} cannot be reached`, { cause: e });
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let message = '';
      try {
        message = String((JSON.parse(text) as { error?: { message?: unknown } }).error?.message ?? '');
      } catch {
        // not the farm's JSON error
      }
      // a refused request is the caller's to report; only an unavailable farm is worth asking again
      const code =
        ({ 400: 'invalid-input', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 409: 'conflict', 422: 'invalid-input', 429: 'rate-limited' } as const)[res.status as 400] ??
        'upstream-unavailable';
      throw new QuorumError(code, `the farm at ${this.server} answered HTTP ${res.status} for ${method} ${path.split('/').slice(0, 3).join('/')}${message ? `: ${message.slice(0, 300)}` : ''}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new QuorumError('upstream-unavailable', `the farm at ${this.server} sent invalid JSON`, { cause: e });
    }
  }
}
