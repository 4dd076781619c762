export { DockerSandbox, DEFAULT_LOG_CAP_BYTES, type DockerSandboxOptions, type SandboxLogger } from './docker-sandbox.js';
export { containerSpec, validatePlan, BUILD_HOSTNAME, type EngineFacts } from './container-spec.js';
export { NOTE_PREFIX } from './capped-log.js';
export { DEFAULT_SOCKET_PATH } from './engine.js';
export { DiskScratch, type ScratchArea } from './disk-scratch.js';
