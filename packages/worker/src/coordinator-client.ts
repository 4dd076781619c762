import { setTimeout as sleep } from 'node:timers/promises';
import { QuorumError, signRequest, type QueueCredentials, type RebuildReport, type RebuildSpec, type WorkerHeartbeat } from '@quorum/core';

/** Attempts of an artifact upload the coordinator answered 503 (too many at once). */
const UPLOAD_ATTEMPTS = 5;

/** The worker's side of the worker↔coordinator HTTP contract; every request is signed with the worker's enrolled key. */
export class CoordinatorClient {
  constructor(
    private readonly baseUrl: string,
    private readonly workerId: string,
    private readonly key: { keyId: string; privateKeyPem: string },
  ) {}

  private async call(method: string, path: string, body: unknown, contentType = 'application/json'): Promise<unknown> {
    let res: Response;
    const payload = body === undefined ? '' : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { ...(payload.length > 0 ? { 'content-type': contentType } : {}), ...signRequest(this.key, method, path, payload) },
        ...(payload.length > 0 ? { body: payload } : {}),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (e) {
      throw new QuorumError('upstream-unavailable', `coordinator unreachable at ${this.baseUrl}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 1000);
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        /* not JSON */
      }
      const code =
        res.status === 409
          ? 'conflict'
          : res.status === 403
            ? 'forbidden'
            : res.status === 404
              ? 'not-found'
              : res.status === 503
                ? 'unavailable'
                : res.status >= 500
                  ? 'upstream-unavailable'
                  : 'invalid-input';
      throw new QuorumError(code, `coordinator ${method} ${path}: HTTP ${res.status} ${message}`);
    }
    return text ? JSON.parse(text) : undefined;
  }

  /** Binds this worker's public key to its id with a one-time token from an operator (unsigned: the token authenticates). */
  async enrol(token: string, operator: string, publicKeyPem: string): Promise<unknown> {
    const path = `/v1/workers/${encodeURIComponent(this.workerId)}/enrol`;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, operator, publicKey: publicKeyPem }),
      signal: AbortSignal.timeout(30_000),
    }).catch((e: unknown) => {
      throw new QuorumError('upstream-unavailable', `coordinator unreachable at ${this.baseUrl}: ${(e as Error).message}`, { cause: e });
    });
    const text = await res.text();
    if (!res.ok) throw new QuorumError(res.status === 409 ? 'conflict' : 'forbidden', `coordinator POST ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text);
  }

  heartbeat(hb: WorkerHeartbeat): Promise<unknown> {
    return this.call('POST', `/v1/workers/${encodeURIComponent(this.workerId)}/heartbeat`, hb);
  }

  /** This worker's own Redis user: it reaches this worker's queue only. */
  async queueCredentials(): Promise<QueueCredentials> {
    const answer = (await this.call('POST', `/v1/workers/${encodeURIComponent(this.workerId)}/queue-credentials`, undefined)) as Partial<QueueCredentials>;
    if (typeof answer?.username !== 'string' || typeof answer.password !== 'string') throw new QuorumError('upstream-unavailable', 'the coordinator answered no queue credentials');
    return { username: answer.username, password: answer.password };
  }

  /** Marks the rebuild running and gets its spec (the queue carries ids only). */
  async started(rebuildId: string): Promise<RebuildSpec> {
    const answer = (await this.call('POST', `/v1/rebuilds/${rebuildId}/started`, undefined)) as { spec?: RebuildSpec };
    const spec = answer?.spec;
    if (!spec || spec.v !== 1 || spec.rebuildId !== rebuildId) throw new QuorumError('upstream-unavailable', `the coordinator answered no usable spec for rebuild ${rebuildId}`);
    return spec;
  }

  uploadLog(rebuildId: string, log: string): Promise<unknown> {
    return this.call('PUT', `/v1/rebuilds/${rebuildId}/log`, log, 'text/plain; charset=utf-8');
  }

  /** Uploads the rebuilt artifact, so that the coordinator can explain a difference file by file. */
  async uploadArtifact(rebuildId: string, bytes: Buffer): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.call('PUT', `/v1/rebuilds/${rebuildId}/artifact`, bytes, 'application/octet-stream');
      } catch (e) {
        if (!(e instanceof QuorumError && e.code === 'unavailable') || attempt >= UPLOAD_ATTEMPTS) throw e;
        await sleep(500 * 2 ** attempt);
      }
    }
  }

  report(report: RebuildReport & { bundle?: unknown }): Promise<unknown> {
    return this.call('POST', `/v1/rebuilds/${report.rebuildId}/report`, report);
  }
}
