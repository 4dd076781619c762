import { posix } from 'node:path';
import { QuorumError, type BuildLimits, type BuildPlan, type SandboxMounts } from '@quorum/core';
import type Dockerode from 'dockerode';

/** Hostname every build container gets, so that builds cannot pick up a random container id. */
export const BUILD_HOSTNAME = 'quorum-build';

/** Smallest memory limit the Docker engine accepts. */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/** Engine facts that shape the container spec. */
export interface EngineFacts {
  /** the engine can inject its init process (`HostConfig.Init`) */
  init: boolean;
  /** CPUs on the engine host; the CPU limit is clamped to it */
  cpus: number;
}

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const USER = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]*))?$/;

function invalid(message: string): QuorumError {
  return new QuorumError('invalid-input', `build plan rejected: ${message}`);
}

/** True when a user or group part names root (by name or by id 0). */
function isRoot(part: string): boolean {
  return part === 'root' || /^0+$/.test(part);
}

/** Refuses plans the sandbox must never run: root users, unpinned images, unusable limits or mounts. */
export function validatePlan(plan: BuildPlan): void {
  if (!IMAGE_ID.test(plan.image)) {
    throw invalid(`image must be pinned by its content digest (sha256:<64 hex>), got "${plan.image}"`);
  }
  if (!Array.isArray(plan.argv) || plan.argv.length === 0 || plan.argv.some((a) => typeof a !== 'string')) {
    throw invalid('argv must be a non-empty list of strings');
  }
  const user = USER.exec(plan.user ?? '');
  if (!user) throw invalid(`user must be "uid" or "uid:gid" (never empty, which would mean the image default), got "${plan.user}"`);
  if (isRoot(user[1]!) || (user[2] !== undefined && isRoot(user[2]))) {
    throw invalid(`refusing to run a build as root (user "${plan.user}")`);
  }
  for (const key of Object.keys(plan.env)) {
    if (key === '' || key.includes('=') || key.includes('\0')) throw invalid(`invalid environment variable name "${key}"`);
  }
  const mountPoints: [string, string][] = [
    ['sourceMount', plan.sourceMount],
    ['outputMount', plan.outputMount],
    ...(plan.inputsMount !== undefined ? [['inputsMount', plan.inputsMount] as [string, string]] : []),
    ...(plan.registryMount !== undefined ? [['registryMount', plan.registryMount] as [string, string]] : []),
  ];
  for (const [name, p] of [['workdir', plan.workdir] as [string, string], ...mountPoints]) {
    if (!posix.isAbsolute(p) || posix.normalize(p) !== p || (p !== '/' && p.endsWith('/')) || /[:,\0]/.test(p)) {
      throw invalid(`${name} must be a normalized absolute container path without ":" or ",", got "${p}"`);
    }
  }
  for (const [name, p] of mountPoints) {
    if (p === '/' || p === '/tmp' || p.startsWith('/tmp/') || p === '/proc' || p.startsWith('/proc/') || p === '/dev' || p.startsWith('/dev/')) {
      throw invalid(`${name} "${p}" would shadow a system or scratch path`);
    }
  }
  for (const [i, [nameA, a]] of mountPoints.entries()) {
    for (const [nameB, b] of mountPoints.slice(i + 1)) {
      if (overlaps(a, b)) throw invalid(`${nameA} "${a}" and ${nameB} "${b}" must not contain each other`);
    }
  }
  validateLimits(plan.limits);
}

function validateLimits(l: BuildLimits): void {
  const positiveInt = (n: number) => Number.isSafeInteger(n) && n > 0;
  if (!positiveInt(l.memoryBytes) || l.memoryBytes < MIN_MEMORY_BYTES) throw invalid(`limits.memoryBytes must be an integer ≥ ${MIN_MEMORY_BYTES}`);
  if (!positiveInt(l.pids)) throw invalid('limits.pids must be a positive integer (0 would mean unlimited)');
  if (!(Number.isFinite(l.cpus) && l.cpus >= 0.01)) throw invalid('limits.cpus must be ≥ 0.01');
  // Timers fire at once beyond 2^31-1 ms (about 24.8 days).
  if (!positiveInt(l.timeoutMs) || l.timeoutMs > 2 ** 31 - 1) throw invalid('limits.timeoutMs must be a positive integer below 2^31');
  if (!positiveInt(l.scratchBytes)) throw invalid('limits.scratchBytes must be a positive integer');
}

/** True when one absolute path equals or contains the other. */
export function overlaps(a: string, b: string, sep = '/'): boolean {
  const withSep = (p: string) => (p.endsWith(sep) ? p : p + sep);
  return a === b || withSep(a).startsWith(withSep(b)) || withSep(b).startsWith(withSep(a));
}

/**
 * The exact create options of a build container: the hermetic build contract of DESIGN.md
 * expressed as Docker settings. Pure; `mounts` must already be validated host paths.
 */
export function containerSpec(
  plan: BuildPlan,
  mounts: SandboxMounts,
  labels: Record<string, string>,
  engine: EngineFacts,
  /** host directory for `/tmp` (disk-backed scratch); without it `/tmp` is a tmpfs of the scratch size */
  scratchDir?: string,
): Dockerode.ContainerCreateOptions {
  const cpus = Math.min(plan.limits.cpus, engine.cpus);
  return {
    Image: plan.image,
    // The plan's argv is the whole command: an image ENTRYPOINT must not wrap it.
    Entrypoint: [],
    Cmd: [...plan.argv],
    Env: Object.entries(plan.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: plan.workdir,
    User: plan.user,
    Hostname: BUILD_HOSTNAME,
    Labels: { ...labels },
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: false,
    Tty: false,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      PidsLimit: plan.limits.pids,
      Memory: plan.limits.memoryBytes,
      MemorySwap: plan.limits.memoryBytes,
      NanoCpus: Math.round(cpus * 1e9),
      ...(scratchDir ? {} : { Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${plan.limits.scratchBytes},mode=1777` } }),
      Binds: [
        ...(scratchDir ? [`${scratchDir}:/tmp:rw`] : []),
        `${mounts.sourceDir}:${plan.sourceMount}:ro`,
        `${mounts.outputDir}:${plan.outputMount}:rw`,
        ...(mounts.inputsDir && plan.inputsMount ? [`${mounts.inputsDir}:${plan.inputsMount}:ro`] : []),
        // read-only still lets the build connect to the socket in it: the view answers reads only
        ...(mounts.registryDir && plan.registryMount ? [`${mounts.registryDir}:${plan.registryMount}:ro`] : []),
      ],
      ...(engine.init ? { Init: true } : {}),
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      // The sandbox reads the output itself (attach stream, capped); an engine-side copy would be unbounded on disk.
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}
