export { buildGate, type GateOptions } from './gate-server.js';
export { FarmClient, MAX_AUDIT_BATCH, type FarmClientOptions } from './farm-client.js';
export { decide, GATE_POLICIES, parsePolicy, parseRule, policyFor, type GateDecision, type GatePolicies, type GatePolicyName, type GateRule } from './gate-policy.js';
export { sha512Of, TarballStore, type StoredArtifact } from './tarball-store.js';
export { MAX_NEW_PER_POLL, ReleaseWatcher, type PollSummary, type WatchEvent, type WatchOptions } from './release-watcher.js';
