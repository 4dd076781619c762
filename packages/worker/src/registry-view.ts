import { chmod, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { isQuorumError, QuorumError } from '@quorum/core';
import { egressFetch, type EgressPolicy } from '@quorum/net';
import { BuildSlots } from './build-slots.js';

/** The socket's name inside the view's directory, as `BuildPlan.registryMount` promises it. */
export const REGISTRY_SOCKET = 'registry.sock';

/** Limits and wiring of one registry view. */
export interface RegistryViewOptions {
  /** base URL of the registry the view reads */
  registry: string;
  policy: EgressPolicy;
  signal: AbortSignal;
  /** most bytes of one document; @defaultValue 128 MiB (the full metadata of a big package is tens of MiB) */
  maxDocumentBytes?: number;
  /** most bytes read in all, those in flight included; @defaultValue 2 GiB */
  maxTotalBytes?: number;
  /** most requests answered; @defaultValue 20 000 */
  maxRequests?: number;
  /** upstream fetches at once (each holds its document in memory); @defaultValue 4 */
  maxConcurrent?: number;
  /** rewrites each document before it is served (e.g. to what the registry said at a past time) */
  rewrite?: (body: Uint8Array) => Uint8Array;
}

/** What a view served, for the log and for telling a registry fault from a fact about the release. */
export interface RegistryViewStats {
  requests: number;
  bytes: number;
  /** answers the registry could not give (unreachable, 5xx, over a limit): a fault, not the release's */
  faults: number;
  /** the first fault, for the log */
  firstFault?: string;
  /** the most bytes of documents held at once (in flight) */
  peakHeldBytes: number;
  /** the first bound the resolution crossed (documents, bytes): a fact about the release's dependency tree */
  limit?: string;
}

/**
 * A read-only window on the registry for a sandboxed dependency resolution, served on a Unix
 * socket: the container has no network, and this is its only way out. Every request is a GET of a
 * path below the registry, fetched by the worker under its egress policy, bounded in size and
 * number; nothing can be written, and no other host can be named.
 */
export class RegistryView {
  readonly stats: RegistryViewStats = { requests: 0, bytes: 0, faults: 0, peakHeldBytes: 0 };
  private readonly base: string;
  /** bytes of documents being read right now */
  private held = 0;
  /** upstream fetches at once: what is in flight is held in memory */
  private readonly fetches: BuildSlots;
  private readonly server: Server;

  private constructor(
    readonly dir: string,
    private readonly opts: RegistryViewOptions,
  ) {
    this.base = opts.registry.replace(/\/+$/, '');
    this.fetches = new BuildSlots(opts.maxConcurrent ?? 4);
    this.server = createServer((req, res) => void this.answer(req, res));
  }

  /** Listens on `<dir>/registry.sock` (the directory must exist and belong to this job). */
  static async start(dir: string, opts: RegistryViewOptions): Promise<RegistryView> {
    const view = new RegistryView(dir, opts);
    const socket = join(dir, REGISTRY_SOCKET);
    // longer paths are cut silently by the kernel: the socket would be somewhere else
    if (Buffer.byteLength(socket) > 100) throw new QuorumError('internal', `the registry view's socket path is over 100 bytes: ${socket}`);
    await rm(socket, { force: true });
    await new Promise<void>((resolve, reject) => {
      view.server.once('error', reject);
      view.server.listen(socket, () => resolve());
    });
    // the build runs as another uid: it must be able to connect (a read-only mount does not stop that)
    await chmod(socket, 0o666);
    return view;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private fault(why: string): void {
    this.stats.faults++;
    this.stats.firstFault ??= why;
  }

  /** A bound the release's own dependency tree crossed: the same on every worker, so a fact, not a fault. */
  private overLimit(why: string): void {
    this.stats.limit ??= why;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: string | Uint8Array, type = 'application/json') => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const error = (status: number, message: string) => send(status, JSON.stringify({ error: message }));
    const maxRequests = this.opts.maxRequests ?? 20_000;
    if (++this.stats.requests > maxRequests) {
      this.overLimit(`more than ${maxRequests} registry documents`);
      return error(429, 'too many requests for one resolution');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(405, 'the registry view answers reads only');
    const path = viewPath(req.url ?? '');
    if (!path) return error(400, 'not a registry path');
    await this.fetches.run(() => this.serve(path, send, error));
  }

  /** Fetches one document and answers with it, bounded per document and in all (in-flight bytes count). */
  private async serve(path: string, send: (status: number, body: Uint8Array, type?: string) => void, error: (status: number, message: string) => void): Promise<void> {
    const maxDocument = this.opts.maxDocumentBytes ?? 128 * 2 ** 20;
    const maxTotal = this.opts.maxTotalBytes ?? 2 * 2 ** 30;
    // what this request holds counts against the total while it is in flight, not only once done
    let reserved = 0;
    try {
      if (this.stats.limit) return error(502, 'the resolution is over its limits');
      // the full document: a resolution "as the registry stood" needs every version's publish time
      const upstream = await egressFetch(`${this.base}${path}`, { policy: this.opts.policy, signal: this.opts.signal, timeoutMs: 120_000, headers: { accept: 'application/json' } });
      if (!upstream.ok) {
        void upstream.body?.cancel().catch(() => undefined);
        this.fault(`the registry answered HTTP ${upstream.status}`);
        return error(502, `the registry answered HTTP ${upstream.status}`);
      }
      const declared = Number(upstream.headers.get('content-length') ?? 0);
      if (declared > maxDocument) {
        void upstream.body?.cancel().catch(() => undefined);
        this.overLimit(`a registry document over ${maxDocument} bytes`);
        return error(502, 'document too large');
      }
      const chunks: Uint8Array[] = [];
      for await (const chunk of upstream.body ?? []) {
        reserved += chunk.byteLength;
        this.held += chunk.byteLength;
        this.stats.peakHeldBytes = Math.max(this.stats.peakHeldBytes, this.held);
        if (reserved > maxDocument || this.stats.bytes + this.held > maxTotal) {
          this.overLimit(reserved > maxDocument ? `a registry document over ${maxDocument} bytes` : `over ${maxTotal} bytes of registry documents`);
          return error(502, 'too much data');
        }
        chunks.push(chunk);
      }
      let body: Uint8Array = Buffer.concat(chunks);
      chunks.length = 0;
      if (this.opts.rewrite) body = this.opts.rewrite(body);
      this.stats.bytes += reserved;
      send(200, body, upstream.headers.get('content-type') ?? 'application/octet-stream');
    } catch (e) {
      // a package that does not exist is an answer; anything else is the registry's fault, not the release's
      if (isQuorumError(e, 'not-found')) return error(404, 'not found');
      this.fault(isQuorumError(e) ? e.message : 'the registry could not be read');
      error(502, 'the registry could not be read');
    } finally {
      this.held -= reserved;
    }
  }
}

/**
 * The path a request may read: absolute, no query, no dot segments once decoded, nothing that
 * could make the worker fetch another host. Undefined when it is not such a path.
 */
export function viewPath(url: string): string | undefined {
  if (!url.startsWith('/') || url.startsWith('//') || url.length > 1024) return undefined;
  if (/[?#\\\s]/.test(url)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(url);
  } catch {
    return undefined;
  }
  if (decoded.split('/').some((part) => part === '.' || part === '..') || /[\0\\]/.test(decoded)) return undefined;
  return url;
}
