import { AUTH_HEADER, QuorumError, signRequest, type RebuildReport, type WorkerHeartbeat } from '@quorum/core';

/** The worker's side of the worker↔coordinator HTTP contract. */
export class CoordinatorClient {
  constructor(
    private readonly baseUrl: string,
    private readonly workerId: string,
    /** every request is signed with the worker's enrolled key */
    private readonly key: { keyId: string; privateKeyPem: string },
  ) {}

  private async call(method: string, path: string, body: unknown, contentType = 'application/json'): Promise<unknown> {
    let res: Response;
    const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { 'content-type': contentType, 'x-quorum-worker': this.workerId, [AUTH_HEADER]: signRequest(this.key, method, path, payload) },
        body: payload,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new QuorumError('upstream-unavailable', `coordinator unreachable at ${this.baseUrl}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        /* not JSON */
      }
      const code = res.status === 409 ? 'conflict' : res.status === 403 ? 'forbidden' : res.status === 404 ? 'not-found' : res.status >= 500 ? 'upstream-unavailable' : 'invalid-input';
      throw new QuorumError(code, `coordinator ${method} ${path}: HTTP ${res.status} ${message}`);
    }
    return text ? JSON.parse(text) : undefined;
  }

  /** Binds this worker's public key to its id with a one-time token from an operator. */
  enrol(token: string, operator: string, publicKeyPem: string): Promise<unknown> {
    return this.call('POST', `/v1/workers/${encodeURIComponent(this.workerId)}/enrol`, { token, operator, publicKey: publicKeyPem });
  }

  heartbeat(hb: WorkerHeartbeat): Promise<unknown> {
    return this.call('POST', `/v1/workers/${encodeURIComponent(this.workerId)}/heartbeat`, hb);
  }

  started(rebuildId: string): Promise<unknown> {
    return this.call('POST', `/v1/rebuilds/${rebuildId}/started`, { workerId: this.workerId });
  }

  uploadLog(rebuildId: string, log: string): Promise<unknown> {
    return this.call('PUT', `/v1/rebuilds/${rebuildId}/log`, log, 'text/plain; charset=utf-8');
  }

  /** Uploads the rebuilt artifact, so that the coordinator can explain a difference file by file. */
  uploadArtifact(rebuildId: string, bytes: Buffer): Promise<unknown> {
    return this.call('PUT', `/v1/rebuilds/${rebuildId}/artifact`, bytes, 'application/octet-stream');
  }

  report(report: RebuildReport & { bundle?: unknown }): Promise<unknown> {
    return this.call('POST', `/v1/rebuilds/${report.rebuildId}/report`, report);
  }
}
