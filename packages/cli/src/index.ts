export { runCli, buildProgram, POLL_INTERVAL_MS, DEFAULT_WAIT_TIMEOUT_S, UNAVAILABLE_GRACE_MS, type CliIo } from './main.js';
export { ApiClient, CliError, isCliError, normalizeServerUrl, resolveApiUrl, DEFAULT_SERVER, DEFAULT_REQUEST_TIMEOUT_MS, type ApiClientOptions, type CliErrorCode } from './api-client.js';
export { EXIT, exitCodeForVerdict } from './exit-codes.js';
export * from './render.js';
export { progressEvents, createProgress, LineProgress, TtyProgress, SilentProgress, type ProgressReporter, type OutStream } from './progress.js';
export { runUp, farmEnv, farmWarnings, findRepoRoot, formatChildLine, UP_DEFAULTS, HEALTH_TIMEOUT_MS, STOP_TIMEOUT_MS, type UpOptions, type UpContext } from './up.js';
