import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { Writable } from 'node:stream';

/** One request the fake coordinator saw. */
export interface SeenRequest {
  method: string;
  /** raw path as sent, still URL-encoded */
  url: string;
  body: string;
  /** request headers, lower-case names */
  headers: Record<string, string | string[] | undefined>;
  /** Date.now() when it arrived */
  at: number;
}

/** What a handler answers. */
export type FakeAnswer =
  | { status: number; json: unknown }
  | { status: number; text: string | Buffer; contentType?: string }
  | { destroy: true }
  /** never answer (until the server stops) */
  | { hang: true };

/** A real HTTP server on 127.0.0.1 that answers with canned views, for CLI tests. */
export class FakeCoordinator {
  readonly requests: SeenRequest[] = [];
  private server: Server | undefined;
  /** the request handler; tests replace it */
  handle: (req: SeenRequest) => FakeAnswer = () => ({ status: 404, json: { error: { code: 'not-found', message: 'no route' } } });

  get url(): string {
    const addr = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${addr.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { method: req.method ?? 'GET', url: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, at: Date.now() };
        this.requests.push(seen);
        const answer = this.handle(seen);
        if ('hang' in answer) return;
        if ('destroy' in answer) {
          res.destroy();
          return;
        }
        if ('json' in answer) {
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answer.json));
        } else {
          res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'text/plain; charset=utf-8' });
          res.end(answer.text);
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /**
   * Serves a release lifecycle: POST /v1/releases answers the first view, every
   * GET /v1/releases/:id the next one, staying on the last.
   */
  serveLifecycle(views: unknown[]): void {
    let polls = 0;
    this.handle = (req) => {
      if (req.method === 'POST' && req.url === '/v1/releases') return { status: 202, json: views[0] };
      if (req.method === 'GET' && req.url.startsWith('/v1/releases/')) {
        polls += 1;
        return { status: 200, json: views[Math.min(polls, views.length - 1)] };
      }
      return { status: 404, json: { error: { code: 'not-found', message: `no route ${req.method} ${req.url}` } } };
    };
  }
}

/** Captures what the CLI writes; `tty` makes it look like a terminal. */
export class Capture extends Writable {
  private readonly chunks: Buffer[] = [];
  isTTY: boolean | undefined;
  columns: number | undefined;
  rows: number | undefined;

  constructor(tty = false) {
    super();
    if (tty) {
      this.isTTY = true;
      this.columns = 120;
      this.rows = 40;
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    done();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get text(): string {
    return this.bytes.toString('utf8');
  }
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
