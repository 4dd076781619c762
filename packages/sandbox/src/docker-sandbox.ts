import { chmod, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { QuorumError, type BuildPlan, type Sandbox, type SandboxMounts, type SandboxResult, type SandboxRunOptions } from '@quorum/core';
import Dockerode from 'dockerode';
import { CappedLog, type LogStream } from './capped-log.js';
import { containerSpec, overlaps, validatePlan, type EngineFacts } from './container-spec.js';
import type { DiskScratch } from './disk-scratch.js';
import { DEFAULT_SOCKET_PATH, engineFault, engineFromHost, engineMessage, statusOf, type EngineClient } from './engine.js';

/** Structured logger the sandbox reports to (pino-compatible). */
export interface SandboxLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  debug(obj: Record<string, unknown>, msg?: string): void;
}

/** @defaultValue 4 MiB */
export const DEFAULT_LOG_CAP_BYTES = 4 * 1024 * 1024;

/** How long to wait for a killed container to report its exit before declaring the engine faulty. */
const KILL_GRACE_MS = 15_000;
/** How long to wait for the log stream to drain after the container exited. */
const DRAIN_GRACE_MS = 5_000;

/** Options of a DockerSandbox; the first of docker, socketPath, host that is given wins. */
export interface DockerSandboxOptions {
  /** a ready Docker client */
  docker?: Dockerode;
  /** local engine socket; @defaultValue `/var/run/docker.sock` when no client or host is given */
  socketPath?: string;
  /** DOCKER_HOST-style URL: `unix:///…`, `tcp://host:2375`, `https://host:2376`, `ssh://user@host` */
  host?: string;
  /** bytes of build output kept per run; @defaultValue 4 MiB ({@link DEFAULT_LOG_CAP_BYTES}) */
  logCapBytes?: number;
  /** structured logger (pino or compatible); @defaultValue silent */
  logger?: SandboxLogger;
  /** disk-backed scratch for `/tmp` (bounded by `limits.scratchBytes`); @defaultValue a tmpfs of that size, in memory */
  scratch?: DiskScratch;
}

interface WaitBody {
  StatusCode?: number;
  Error?: { Message?: string } | null;
}

const silent: SandboxLogger = { info() {}, warn() {}, debug() {} };

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Reads a whole HTTP response body as JSON. */
function readJson<T>(res: IncomingMessage): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.once('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
      } catch (e) {
        reject(e);
      }
    });
    res.once('close', () => {
      if (!res.complete) reject(new Error('engine closed the wait response early'));
    });
  });
}

/** Runs build plans in hermetic Docker containers (network none, read-only root, no capabilities, non-root, limits). */
export class DockerSandbox implements Sandbox {
  private readonly docker: Dockerode;
  private readonly socketPath: string | undefined;
  private readonly where: string;
  private readonly logCapBytes: number;
  private readonly logger: SandboxLogger;
  private readonly scratch: DiskScratch | undefined;
  private engineFacts: Promise<EngineFacts> | undefined;

  constructor(options: DockerSandboxOptions = {}) {
    let client: EngineClient;
    if (options.docker) client = { docker: options.docker, where: 'the configured Docker client' };
    else if (options.socketPath) client = { docker: new Dockerode({ socketPath: options.socketPath }), socketPath: options.socketPath, where: `unix://${options.socketPath}` };
    else if (options.host) client = engineFromHost(options.host);
    else client = { docker: new Dockerode({ socketPath: DEFAULT_SOCKET_PATH }), socketPath: DEFAULT_SOCKET_PATH, where: `unix://${DEFAULT_SOCKET_PATH}` };
    this.docker = client.docker;
    this.socketPath = client.socketPath;
    this.where = client.where;
    const cap = options.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
    if (!Number.isSafeInteger(cap) || cap < 0) throw new QuorumError('invalid-input', `logCapBytes must be a non-negative integer, got ${cap}`);
    this.logCapBytes = cap;
    this.logger = options.logger ?? silent;
    this.scratch = options.scratch;
  }

  /** The image id (`sha256:…`) of an image reference, or undefined when the engine does not have it. */
  async imageDigest(ref: string): Promise<string | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return info.Id;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw engineFault(e, `inspecting image ${ref}`, this.where);
    }
  }

  /** Force-removes every container (running or not) that carries all the given labels; returns how many. */
  async removeOrphans(labels: Record<string, string>): Promise<number> {
    const filters = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    // An empty filter would match every container on the engine.
    if (filters.length === 0) throw new QuorumError('invalid-input', 'removeOrphans needs at least one label to match');
    let found: Dockerode.ContainerInfo[];
    try {
      found = await this.docker.listContainers({ all: true, filters: { label: filters } });
    } catch (e) {
      throw engineFault(e, 'listing containers', this.where);
    }
    let removed = 0;
    for (const c of found) {
      try {
        await this.docker.getContainer(c.Id).remove({ force: true, v: true });
        removed++;
      } catch (e) {
        if (statusOf(e) === 404) continue; // already gone
        if (statusOf(e) === 409 && /already in progress/i.test(engineMessage(e))) continue;
        throw engineFault(e, `removing orphan container ${c.Id.slice(0, 12)}`, this.where);
      }
    }
    if (removed > 0) this.logger.info({ labels, removed }, 'removed orphan build containers');
    return removed;
  }

  /** Runs one build plan; throws only for faults (engine unreachable, image missing, invalid plan). */
  async run(plan: BuildPlan, mounts: SandboxMounts, options: SandboxRunOptions = {}): Promise<SandboxResult> {
    validatePlan(plan);
    const hostMounts = await this.checkMounts(mounts);
    if (options.signal?.aborted) return this.notStarted('', 'build aborted by the caller before it started', 'aborted');
    const engine = await this.engine();
    // The build runs as a non-root uid (1000 in our images) while the job directory is usually owned
    // by the worker's user; user namespaces are off, so uids map 1:1. 0777 lets the build write its
    // outputs without the worker needing root to chown. The directory is per-job and only the
    // container writes into it; the worker reads the artifact and deletes the directory afterwards.
    try {
      await chmod(hostMounts.outputDir, 0o777);
      // The build user must be able to enter the source mount (a temp dir is often 0700); only the
      // mode of the mount root changes, never the tree's contents.
      for (const dir of [hostMounts.sourceDir, ...(hostMounts.inputsDir ? [hostMounts.inputsDir] : []), ...(hostMounts.registryDir ? [hostMounts.registryDir] : [])]) {
        const mode = (await stat(dir)).mode & 0o7777;
        if ((mode & 0o555) !== 0o555) await chmod(dir, mode | 0o555);
      }
    } catch (e) {
      throw new QuorumError('internal', `cannot open the mounts to the build user: ${(e as Error).message}`, { cause: e });
    }
    // made before the container and released after it is removed: nothing holds the mount by then
    const scratch = this.scratch ? await this.scratch.create(plan.limits.scratchBytes) : undefined;
    try {
      return await this.runIn(plan, hostMounts, scratch?.dir, engine, options);
    } finally {
      await scratch?.release().catch((e: unknown) => this.logger.warn({ err: String(e) }, 'could not release the build scratch; the next start removes it'));
    }
  }

  private async runIn(plan: BuildPlan, hostMounts: SandboxMounts, scratchDir: string | undefined, engine: EngineFacts, options: SandboxRunOptions): Promise<SandboxResult> {
    const spec = containerSpec(plan, hostMounts, { ...(options.labels ?? {}) }, engine, scratchDir);
    let container: Dockerode.Container;
    try {
      container = await this.docker.createContainer(spec);
    } catch (e) {
      if (statusOf(e) === 404) {
        throw new QuorumError('not-found', `builder image ${plan.image} is not present on the Docker engine at ${this.where}; build it with the builder's image script`, { cause: e });
      }
      throw engineFault(e, 'creating the build container', this.where);
    }
    const log = this.logger;
    log.debug({ containerId: container.id, image: plan.image }, 'build container created');
    const streams = new AbortController();
    try {
      return await this.execute(container, plan, options, streams.signal);
    } finally {
      streams.abort();
      try {
        await container.remove({ force: true, v: true });
        log.debug({ containerId: container.id }, 'build container removed');
      } catch (e) {
        if (statusOf(e) !== 404) log.warn({ containerId: container.id, err: engineMessage(e) }, 'could not remove build container; removeOrphans will retry');
      }
    }
  }

  private async execute(container: Dockerode.Container, plan: BuildPlan, options: SandboxRunOptions, streamSignal: AbortSignal): Promise<SandboxResult> {
    const out = new CappedLog(this.logCapBytes, options.onLog, (err) => this.logger.warn({ containerId: container.id, err: String(err) }, 'onLog listener threw; further errors are ignored'));

    // 1. Attach before start, so that no early output is lost.
    let attach: NodeJS.ReadableStream;
    try {
      attach = (await container.attach({ stream: true, stdout: true, stderr: true, abortSignal: streamSignal })) as NodeJS.ReadableStream;
    } catch (e) {
      throw engineFault(e, 'attaching to the build container', this.where);
    }
    const drained = new Promise<void>((resolve) => {
      attach.once('end', resolve);
      attach.once('close', resolve);
      attach.on('error', () => resolve());
    });
    const sink = (stream: LogStream) =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          out.push(stream, chunk);
          cb();
        },
      });
    this.docker.modem.demuxStream(attach, sink('stdout'), sink('stderr'));

    // 2. Register the exit wait before start. `next-exit` (not the default `not-running`, which a
    //    created container already satisfies); the registration is confirmed when the engine sends
    //    the response headers, so a build that exits at once cannot slip past it.
    let waiting: { exit: Promise<WaitBody> };
    try {
      waiting = await this.registerWait(container, streamSignal);
    } catch (e) {
      throw engineFault(e, 'waiting for the build container', this.where);
    }
    waiting.exit.catch(() => {}); // consumed below; avoid an unhandled rejection if we never get there

    if (options.signal?.aborted) return this.notStarted(container.id, 'build aborted by the caller before it started', 'aborted', out);

    // 3. Start, with the wall-clock limit and the caller's signal armed.
    const started = performance.now();
    try {
      await container.start();
    } catch (e) {
      const status = statusOf(e);
      if (status === 400 || status === 500) {
        const inspected = await container.inspect().catch(() => undefined);
        const exitCode = inspected?.State.ExitCode ?? 0;
        if (status === 400 || exitCode !== 0) {
          // The engine could not exec the plan's command (missing binary, bad workdir): a build failure.
          out.note(`the build command could not be started: ${engineMessage(e)}`);
          return this.result(container.id, exitCode || 127, 'error', performance.now() - started, out);
        }
      }
      throw engineFault(e, 'starting the build container', this.where);
    }
    this.logger.debug({ containerId: container.id }, 'build container started');

    let stopReason: 'timeout' | 'aborted' | undefined;
    let exited = false;
    let killing: Promise<void> = Promise.resolve();
    let stuck: ((e: QuorumError) => void) | undefined;
    const stuckPromise = new Promise<never>((_, reject) => (stuck = reject));
    stuckPromise.catch(() => {});
    let graceTimer: NodeJS.Timeout | undefined;

    const stop = (reason: 'timeout' | 'aborted') => {
      if (exited || stopReason) return;
      stopReason = reason;
      this.logger.info({ containerId: container.id, reason }, 'killing build container');
      killing = container.kill({ signal: 'SIGKILL' }).then(
        () => {
          graceTimer = setTimeout(
            () => stuck?.(new QuorumError('internal', `build container ${container.id.slice(0, 12)} did not exit within ${KILL_GRACE_MS / 1000} s of being killed`)),
            KILL_GRACE_MS,
          ).unref();
        },
        (e: unknown) => {
          // 409/304: it already stopped on its own, so its own exit status stands.
          if (statusOf(e) === 409 || statusOf(e) === 304 || statusOf(e) === 404) stopReason = undefined;
          else stuck?.(engineFault(e, 'killing the build container', this.where));
        },
      );
    };
    const timer = setTimeout(() => stop('timeout'), plan.limits.timeoutMs);
    const onAbort = () => stop('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    let body: WaitBody;
    try {
      body = await Promise.race([waiting.exit, stuckPromise]);
    } catch (e) {
      throw engineFault(e, 'waiting for the build container', this.where);
    } finally {
      exited = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    await killing;
    clearTimeout(graceTimer);
    const durationMs = performance.now() - started;

    // 4. Collect the rest of the output, then read the exit state.
    const drainedInTime = await Promise.race([drained.then(() => true), sleep(DRAIN_GRACE_MS).then(() => false)]);
    if (!drainedInTime) this.logger.warn({ containerId: container.id }, 'log stream did not end after the container exited');
    let state: Dockerode.ContainerInspectInfo['State'] | undefined;
    try {
      state = (await container.inspect()).State;
    } catch (e) {
      this.logger.warn({ containerId: container.id, err: engineMessage(e) }, 'could not inspect the exited build container');
    }
    const exitCode = state?.ExitCode ?? body.StatusCode ?? -1;
    if (body.Error?.Message) this.logger.warn({ containerId: container.id, err: body.Error.Message }, 'engine reported a wait error');

    let outcome: SandboxResult['outcome'];
    if (stopReason === 'timeout') {
      outcome = 'timeout';
      out.note(`build killed after ${seconds(plan.limits.timeoutMs)} s (timeout)`);
    } else if (stopReason === 'aborted') {
      outcome = 'aborted';
      out.note(`build aborted by the caller after ${seconds(durationMs)} s`);
    } else if (state?.OOMKilled) {
      outcome = 'oom';
      out.note(`build killed by the memory limit (${Math.round(plan.limits.memoryBytes / 1048576)} MiB, OOMKilled, exit ${exitCode})`);
    } else {
      outcome = exitCode === 0 ? 'ok' : 'error';
    }
    const result = this.result(container.id, exitCode, outcome, durationMs, out);
    this.logger.info({ containerId: container.id, outcome, exitCode, durationMs: result.durationMs, logBytes: out.receivedBytes, logTruncated: out.truncated }, 'build container finished');
    return result;
  }

  private result(containerId: string, exitCode: number, outcome: SandboxResult['outcome'], durationMs: number, out: CappedLog): SandboxResult {
    return { exitCode, outcome, durationMs: Math.round(durationMs), log: out.text(), logTruncated: out.truncated, containerId };
  }

  private notStarted(containerId: string, note: string, outcome: SandboxResult['outcome'], out = new CappedLog(this.logCapBytes)): SandboxResult {
    out.note(note);
    return this.result(containerId, -1, outcome, 0, out);
  }

  /** Opens `POST /containers/{id}/wait?condition=next-exit` and resolves once the engine has registered it. */
  private registerWait(container: Dockerode.Container, signal: AbortSignal): Promise<{ exit: Promise<WaitBody> }> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `/containers/${container.id}/wait?`,
          method: 'POST',
          isStream: true,
          abortSignal: signal,
          statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
          options: { _query: { condition: 'next-exit' }, _body: {} },
        },
        (err: unknown, res: unknown) => {
          if (err) reject(err);
          else resolve({ exit: readJson<WaitBody>(res as IncomingMessage) });
        },
      );
    });
  }

  /** Engine capabilities, asked once (and again after a failure). */
  private engine(): Promise<EngineFacts> {
    this.engineFacts ??= this.docker.info().then(
      (info: { InitBinary?: string; NCPU?: number }) => ({ init: Boolean(info.InitBinary), cpus: info.NCPU && info.NCPU > 0 ? info.NCPU : Number.POSITIVE_INFINITY }),
      (e: unknown) => {
        this.engineFacts = undefined;
        throw engineFault(e, 'asking the Docker engine for its capabilities', this.where);
      },
    );
    return this.engineFacts;
  }

  /** Local paths of the engine socket (as configured and resolved), which no mount may contain. */
  private async socketPaths(): Promise<string[]> {
    const paths = new Set<string>();
    for (const p of [this.socketPath, DEFAULT_SOCKET_PATH, '/run/docker.sock']) {
      if (!p) continue;
      paths.add(p);
      const real = await realpath(p).catch(() => undefined);
      if (real) paths.add(real);
    }
    return [...paths];
  }

  /** Resolves the host directories and refuses mounts that would defeat the sandbox. */
  private async checkMounts(mounts: SandboxMounts): Promise<SandboxMounts> {
    const resolved: Partial<SandboxMounts> = {};
    const keys = ['sourceDir', 'outputDir', ...(mounts.inputsDir !== undefined ? ['inputsDir' as const] : []), ...(mounts.registryDir !== undefined ? ['registryDir' as const] : [])] as const;
    for (const key of keys) {
      const p = mounts[key];
      if (typeof p !== 'string' || !p.startsWith('/')) throw new QuorumError('invalid-input', `${key} must be an absolute host path, got "${p}"`);
      let real: string;
      try {
        real = await realpath(p);
        if (!(await stat(real)).isDirectory()) throw new Error('not a directory');
      } catch (e) {
        // Docker would silently create a missing bind source as an empty root-owned directory.
        throw new QuorumError('invalid-input', `${key} ${p} is not an existing directory`, { cause: e });
      }
      if (/[:,]/.test(real)) throw new QuorumError('invalid-input', `${key} ${real} contains ":" or ",", which a bind mount cannot express`);
      if (real === '/') throw new QuorumError('invalid-input', `${key} must not be the host root`);
      for (const sock of await this.socketPaths()) {
        if (sock.startsWith(`${real}/`)) {
          throw new QuorumError('invalid-input', `${key} ${real} contains the Docker socket ${sock}; the socket never enters a build container`);
        }
      }
      resolved[key] = real;
    }
    const { sourceDir, outputDir, inputsDir, registryDir } = resolved as SandboxMounts;
    // The read-only trees must not be reachable through the writable output mount (or vice versa).
    for (const [key, dir] of [['sourceDir', sourceDir], ...(inputsDir ? [['inputsDir', inputsDir]] : []), ...(registryDir ? [['registryDir', registryDir]] : [])] as [string, string][]) {
      if (overlaps(dir, outputDir)) throw new QuorumError('invalid-input', `${key} ${dir} and outputDir ${outputDir} must not contain each other`);
    }
    return { sourceDir, outputDir, ...(inputsDir ? { inputsDir } : {}), ...(registryDir ? { registryDir } : {}) };
  }
}
