import { isIP } from 'node:net';
import { webhookSignatureHeader, WEBHOOK_SIGNATURE_HEADER } from '@quorum/attest';
import { isQuorumError, QuorumError, type VerdictEvent } from '@quorum/core';
import { egressFetch, egressPolicy, egressProblem, parseHttpUrl, type EgressPolicy } from '@quorum/net';
import type { CoordinatorContext } from './context.js';
import type { StoredCallback } from './sqlite-store.js';

/** Callbacks attempted at once: each may wait up to its timeout on a slow receiver. */
const CONCURRENCY = 4;

/** How long one delivery may take, the receiver's answer included. @defaultValue 10 s */
const DELIVERY_TIMEOUT_MS = 10_000;

/** The longest wait between two attempts. @defaultValue 1 h */
const MAX_BACKOFF_MS = 60 * 60_000;

/**
 * Checks a callback URL at submission: an http(s) URL without credentials, and, when it names an
 * address rather than a host name, one the egress policy allows (a name is checked at each delivery,
 * against every address it resolves to). A refusal is a 4xx the submitter reads at once.
 */
/**
 * The egress policy of callbacks: public addresses only, unless the operator allows more for them
 * (`QUORUM_CALLBACK_ALLOW`). Not the fetch policy: its registries and allowed ranges are the
 * operator's internal services, which a submitter must not be able to reach.
 */
export function callbackPolicy(ctx: CoordinatorContext): EgressPolicy {
  return egressPolicy({ allow: ctx.config.callbackAllow });
}

export function checkCallbackUrl(ctx: CoordinatorContext, raw: string): string {
  const url = parseHttpUrl(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const problem = egressProblem(callbackPolicy(ctx), { hostname: host, address: host, port });
    if (problem) throw new QuorumError('egress-refused', `the callback URL is not one the coordinator may call: ${problem}`);
  }
  return url.href;
}

/** When the attempt after `attempts` failed ones is due: the base doubled each time, at most an hour. */
export function nextAttemptAt(nowMs: number, attempts: number, baseMs: number): number {
  return nowMs + Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(attempts, 20));
}

/**
 * Delivers verdicts to submitters' callbacks: a signed POST per callback once its release is
 * decided, under the coordinator's egress policy (no redirects followed), retried with exponential
 * backoff until the receiver answers 2xx or the attempts run out. A refused address is not retried.
 */
export class CallbackSender {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  private readonly policy: EgressPolicy;

  constructor(private readonly ctx: CoordinatorContext) {
    this.policy = callbackPolicy(ctx);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), Math.min(this.ctx.config.tickMs, 1000));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass over the due callbacks; a pass still running is not started again. */
  tick(): Promise<void> {
    if (this.running || this.stopped) return this.running ?? Promise.resolve();
    this.running = this.pass()
      // a fault of one pass (the store, a blob) is logged; the next pass tries again
      .catch((e: unknown) => this.ctx.logger.error({ err: e }, 'callback pass failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    const due = this.ctx.store.dueCallbacks(Date.now(), 50);
    let next = 0;
    const worker = async () => {
      while (next < due.length && !this.stopped) await this.deliver(due[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
  }

  private async deliver(cb: StoredCallback): Promise<void> {
    try {
      await this.attempt(cb);
    } catch (e) {
      // whatever went wrong before the request (a missing blob, an unreadable VSA) counts as an attempt: never a loop
      this.failed(cb, cb.attempts + 1, `the delivery could not be prepared: ${e instanceof Error ? e.message : String(e)}`, false);
    }
  }

  private async attempt(cb: StoredCallback): Promise<void> {
    const { store, logger } = this.ctx;
    const release = store.getRelease(cb.releaseId);
    if (!release?.verdict) return this.failed(cb, cb.attempts + 1, 'the release has no verdict', true);
    const vsaSha256 = store.latestVsa(release.id);
    const vsaBytes = vsaSha256 ? await this.ctx.blobs.read(vsaSha256) : undefined;
    const event: VerdictEvent = {
      event: 'verdict',
      deliveryId: cb.id,
      release: {
        id: release.id,
        purl: release.purl,
        canonical: release.canonical,
        verdict: release.verdict.verdict,
        reason: release.verdict.reason,
        decidedAt: release.verdict.decidedAt,
        ...(release.verdict.risk ? { risk: { level: release.verdict.risk.level, text: release.verdict.risk.text } } : {}),
        url: `/v1/releases/${release.id}`,
      },
      vsa: vsaBytes ? (JSON.parse(Buffer.from(vsaBytes).toString('utf8')) as Record<string, unknown>) : null,
    };
    const body = JSON.stringify(event);
    const t = Math.floor(Date.now() / 1000);
    const attempt = cb.attempts + 1;
    try {
      const res = await egressFetch(cb.url, {
        policy: this.policy,
        method: 'POST',
        body,
        maxRedirects: 0,
        timeoutMs: DELIVERY_TIMEOUT_MS,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'quorum-coordinator',
          'x-quorum-delivery': cb.id,
          'x-quorum-attempt': String(attempt),
          [WEBHOOK_SIGNATURE_HEADER]: webhookSignatureHeader(this.ctx.signer.keyId, t, body, (data) => this.ctx.signer.signBytes(data)),
        },
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        store.recordCallbackAttempt(cb.id, { state: 'delivered' });
        logger.info({ releaseId: release.id, callback: cb.id, attempt }, 'verdict delivered to callback');
        return;
      }
      this.failed(cb, attempt, `the receiver answered HTTP ${res.status}`, false);
    } catch (e) {
      // a refused address stays refused: retrying would only knock again
      const final = isQuorumError(e, 'egress-refused') || isQuorumError(e, 'invalid-input');
      this.failed(cb, attempt, e instanceof Error ? e.message : String(e), final);
    }
  }

  private failed(cb: StoredCallback, attempt: number, error: string, final: boolean): void {
    const { store, logger, config } = this.ctx;
    const last = final || attempt >= config.callbackAttempts;
    store.recordCallbackAttempt(cb.id, last ? { state: 'failed', error } : { state: 'waiting', nextAtMs: nextAttemptAt(Date.now(), attempt - 1, config.callbackBackoffMs), error });
    logger.warn({ releaseId: cb.releaseId, callback: cb.id, attempt, error, final: last }, last ? 'callback failed for good' : 'callback failed; retrying later');
  }
}
