import { QuorumError } from '@quorum/core';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real server on 127.0.0.1 that counts what reached it. */
export interface TestServer {
  port: number;
  origin: string;
  /** request paths, in order */
  requests: string[];
  /** TCP connections accepted, requests or not */
  connections: () => number;
  close: () => Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 with the given handler. */
export async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    requests.push(req.url ?? '');
    handler(req, res);
  });
  return listen(server, requests);
}

/** Starts a TCP server on 127.0.0.1 that does something rude with each connection: reset it, or never answer. */
export async function rudeServer(behaviour: 'reset' | 'hang'): Promise<TestServer> {
  const server = createNetServer((socket) => {
    if (behaviour === 'reset') socket.resetAndDestroy();
  });
  return listen(server, []);
}

/** A port on 127.0.0.1 nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Serves the bare repositories under `root` over smart HTTP, through `git http-backend` as a CGI
 * program. `protocol: 0` speaks only the original protocol, whose servers by default refuse to
 * serve a commit no branch or tag points at (protocol v2 serves any object it has).
 */
export async function gitHttpServer(root: string, opts: { protocol?: 0 | 2 } = {}): Promise<TestServer> {
  return httpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const child = spawn('git', ['http-backend'], {
      env: {
        ...gitTestEnv(),
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: opts.protocol === 0 ? '' : String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let inBody = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (inBody) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      inBody = true;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') res.statusCode = Number(value.split(' ')[0]);
        else res.setHeader(name, value);
      }
      res.write(head.subarray(end + 4));
    });
    child.stdout.on('end', () => res.end());
    child.on('error', () => res.destroy());
  });
}

/** An environment for the tests' own git commands: no user or system config. */
export function gitTestEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: devNull,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: devNull,
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.org',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.org',
  };
}

/** Runs a git command for a test fixture and returns its trimmed output. */
export function gitFixture(args: string[], cwd?: string): string {
  return execFileSync('git', args, { cwd, env: gitTestEnv(), encoding: 'utf8' }).trim();
}

/**
 * A repository with two commits, a lightweight tag `light`, an annotated tag `v1.0.0` on the
 * first commit, a branch `release`, plus a bare copy `<root>/repo.git` for serving.
 */
export function makeRepo(): { root: string; work: string; bare: string; first: string; second: string; annotatedTag: string } {
  const root = mkdtempSync(join(tmpdir(), 'quorum-net-git-'));
  const work = join(root, 'work');
  gitFixture(['init', '--quiet', '--initial-branch=main', work]);
  gitFixture(['commit', '--quiet', '--allow-empty', '-m', 'first'], work);
  const first = gitFixture(['rev-parse', 'HEAD'], work);
  gitFixture(['tag', '-a', 'v1.0.0', '-m', 'release 1.0.0'], work);
  gitFixture(['commit', '--quiet', '--allow-empty', '-m', 'second'], work);
  const second = gitFixture(['rev-parse', 'HEAD'], work);
  gitFixture(['tag', 'light'], work);
  gitFixture(['branch', 'release'], work);
  const annotatedTag = gitFixture(['rev-parse', 'refs/tags/v1.0.0'], work);
  const bare = join(root, 'repo.git');
  gitFixture(['clone', '--quiet', '--bare', work, bare]);
  return { root, work, bare, first, second, annotatedTag };
}

async function listen(server: Server, requests: string[]): Promise<TestServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The QuorumError a promise rejects with; anything else (or no failure) fails the test. */
export async function failure(promise: Promise<unknown>): Promise<QuorumError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof QuorumError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}
