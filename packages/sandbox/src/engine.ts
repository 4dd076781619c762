import { QuorumError } from '@quorum/core';
import Dockerode from 'dockerode';

/** Socket path used when neither a client, a socket path nor a host is given. */
export const DEFAULT_SOCKET_PATH = '/var/run/docker.sock';

/** A Docker client and, when it talks over a local socket, that socket's path. */
export interface EngineClient {
  docker: Dockerode;
  socketPath?: string;
  /** human description of where the engine is, for error messages */
  where: string;
}

/**
 * Connects to a Docker engine named by a DOCKER_HOST-style URL:
 * `unix:///path`, `tcp://host:port` (plain HTTP), `http://`, `https://` (no client certificates;
 * pass a ready `docker` client for mutual TLS) or `ssh://user@host`.
 */
export function engineFromHost(host: string): EngineClient {
  let url: URL;
  try {
    url = new URL(host.includes('://') ? host : `tcp://${host}`);
  } catch (e) {
    throw new QuorumError('invalid-input', `Docker host "${host}" is not a URL like unix:///var/run/docker.sock or tcp://host:2375`, { cause: e });
  }
  switch (url.protocol) {
    case 'unix:': {
      const socketPath = decodeURIComponent(url.pathname) || DEFAULT_SOCKET_PATH;
      return { docker: new Dockerode({ socketPath }), socketPath, where: `unix://${socketPath}` };
    }
    case 'tcp:':
    case 'http:':
      return { docker: new Dockerode({ protocol: 'http', host: url.hostname, port: url.port || 2375 }), where: host };
    case 'https:':
      return { docker: new Dockerode({ protocol: 'https', host: url.hostname, port: url.port || 2376 }), where: host };
    case 'ssh:':
      return {
        docker: new Dockerode({
          protocol: 'ssh',
          host: url.hostname,
          port: url.port || 22,
          ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        }),
        where: host,
      };
    default:
      throw new QuorumError('invalid-input', `unsupported Docker host scheme "${url.protocol}" in "${host}"`);
  }
}

/** HTTP status of a dockerode error, if the engine answered. */
export function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'EPERM', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** The engine's own message from a dockerode error, without dockerode's prefix. */
export function engineMessage(e: unknown): string {
  const json = (e as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message.trim();
  return e instanceof Error ? e.message : String(e);
}

/** Maps a dockerode failure to a QuorumError fault: `not-found` for 404, else `internal`. */
export function engineFault(e: unknown, action: string, where: string): QuorumError {
  if (e instanceof QuorumError) return e;
  const status = statusOf(e);
  if (status === 404) return new QuorumError('not-found', `${action}: ${engineMessage(e)}`, { cause: e });
  const code = (e as { code?: unknown } | null)?.code;
  if (status === undefined && typeof code === 'string' && UNREACHABLE.has(code)) {
    return new QuorumError('internal', `${action}: Docker engine unreachable at ${where} (${code})`, { cause: e });
  }
  const detail = status === undefined ? engineMessage(e) : `engine answered HTTP ${status}: ${engineMessage(e)}`;
  return new QuorumError('internal', `${action}: ${detail}`, { cause: e });
}
