import type { BuildPlan } from './builder.js';

/** Host directories bound into a build container. */
export interface SandboxMounts {
  /** host directory mounted read-only at plan.sourceMount */
  sourceDir: string;
  /** host directory mounted read-write at plan.outputMount (the only writable bind mount) */
  outputDir: string;
  /** host directory of fetched, integrity-checked inputs (toolchain, dependencies), mounted read-only at plan.inputsMount */
  inputsDir?: string;
  /** host directory holding the registry view's socket, mounted read-only at plan.registryMount */
  registryDir?: string;
}

/** How one sandboxed build ended. `timeout` and `oom` are build failures, not faults. */
export interface SandboxResult {
  exitCode: number;
  /** ok = exit 0; error = non-zero exit; timeout = killed at the wall-clock limit; oom = killed by the memory limit; aborted = cancelled by the caller */
  outcome: 'ok' | 'error' | 'timeout' | 'oom' | 'aborted';
  durationMs: number;
  /** combined stdout+stderr, capped (a truncation marker says so) */
  log: string;
  logTruncated: boolean;
  containerId: string;
}

/** Options for one run. */
export interface SandboxRunOptions {
  signal?: AbortSignal;
  /** receives log chunks as they arrive (already capped) */
  onLog?: (chunk: string) => void;
  /** labels put on the container so that a restarted worker can remove its orphans */
  labels?: Record<string, string>;
}

/** Runs build plans in hermetic containers. Throws only for faults (engine unreachable, image missing). */
export interface Sandbox {
  run(plan: BuildPlan, mounts: SandboxMounts, options?: SandboxRunOptions): Promise<SandboxResult>;
  /** content digest (image id) of an image reference, or undefined when absent */
  imageDigest(ref: string): Promise<string | undefined>;
  /** removes leftover containers carrying all the given labels (e.g. after a crash); returns how many */
  removeOrphans(labels: Record<string, string>): Promise<number>;
}
