export { runCli, buildProgram, POLL_INTERVAL_MS, DEFAULT_WAIT_TIMEOUT_S, UNAVAILABLE_GRACE_MS, type CliIo } from './main.js';
export {
  ApiClient,
  CliError,
  isCliError,
  normalizeServerUrl,
  resolveApiUrl,
  DEFAULT_SERVER,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type ApiClientOptions,
  type CliErrorCode,
  type EnrolWorkerRequest,
  type EnrolWorkerAnswer,
  type RejectionView,
} from './api-client.js';
export { EXIT, exitCodeForVerdict, exitCodeForRecount } from './exit-codes.js';
export * from './render.js';
export { progressEvents, createProgress, LineProgress, TtyProgress, SilentProgress, type ProgressReporter, type OutStream } from './progress.js';
export {
  runUp,
  farmEnv,
  farmAdminToken,
  farmWarnings,
  findRepoRoot,
  formatChildLine,
  ADMIN_TOKEN_FILE,
  UP_DEFAULTS,
  HEALTH_TIMEOUT_MS,
  STOP_TIMEOUT_MS,
  type FarmAdminToken,
  type UpOptions,
  type UpContext,
} from './up.js';
export { parseTrust, readTrustFile, trustSummary, DEFAULT_VERIFY_QUORUM, type TrustFile, type TrustedBuilder, type TrustedCoordinator, type TrustPolicy } from './trust.js';
export { runVerify, checkVsa, parseServedAttestations, SERVER_TRUST_WARNING, type VerifyOptions, type VerifyContext, type ServedAttestations, type ServedBuilder } from './verify.js';
export * from './verify-report.js';
export { safeText, safeJson, SafeTextDecoder, type TerminalSafeOptions } from './terminal-text.js';
