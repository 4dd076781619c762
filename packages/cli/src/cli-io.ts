import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { isQuorumError, type ReleaseView } from '@quorum/core';
import { ApiClient, CliError, DEFAULT_SERVER, isCliError } from './api-client.js';
import type { OutStream } from './progress.js';
import { safeJson } from './terminal-text.js';

/** Interval between two `GET /v1/releases/:id` while waiting. @defaultValue 500 ms */
export const POLL_INTERVAL_MS = 500;

/** Default of `submit --timeout`. @defaultValue 1800 s */
export const DEFAULT_WAIT_TIMEOUT_S = 1800;

/** How long `submit --wait` keeps retrying while the coordinator is unreachable or answers 5xx. @defaultValue 30 s */
export const UNAVAILABLE_GRACE_MS = 30_000;

/** Where the CLI reads and writes; `runCli` takes it so tests can run commands in-process. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  /** environment (QUORUM_SERVER, ...) @defaultValue process.env */
  env: NodeJS.ProcessEnv;
  /** @defaultValue Date.now */
  clock: () => number;
  /** @defaultValue POLL_INTERVAL_MS */
  pollIntervalMs: number;
  /** `up`: aborted = stop the farm; when absent, SIGINT/SIGTERM of this process do it */
  stop?: AbortSignal;
  /** `up`: aborted = kill the farm at once; when absent, a second SIGINT/SIGTERM does it */
  kill?: AbortSignal;
}

export function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return Number(value);
}

export function nonNegativeInt(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError('expected a whole number from 0 to 999999.');
  return Number(value);
}

export function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new InvalidArgumentError('expected a port number from 1 to 65535.');
  return Number(value);
}

export function positiveSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds greater than 0.');
  return n;
}

export function nonNegativeHours(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 24 * 365) throw new InvalidArgumentError('expected a number of hours from 0 to 8760.');
  return n;
}

export const serverOption = () => new Option('--server <url>', `coordinator base URL (default: $QUORUM_SERVER, else ${DEFAULT_SERVER})`);

export function client(server: string | undefined, io: CliIo): ApiClient {
  return new ApiClient({ server: server ?? (io.env.QUORUM_SERVER || DEFAULT_SERVER) });
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${safeJson(value)}\n`);
}

/** Core errors (a malformed purl, URL, rule or setting given on the command line) become usage errors with the same message. */
export function parsePurl<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isQuorumError(e)) throw new CliError('usage', e.message, { cause: e });
    throw e;
  }
}

/** Errors worth retrying while waiting: the coordinator restarting or briefly overloaded. */
export function isTransient(e: unknown): boolean {
  return isCliError(e, 'unreachable', 'timeout') || (isCliError(e, 'http') && (e.status ?? 0) >= 500);
}

/** Releases newest first. */
export function newestFirst(releases: readonly ReleaseView[]): ReleaseView[] {
  return [...releases].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
