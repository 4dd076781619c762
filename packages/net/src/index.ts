export * from './egress-policy.js';
export { resolveEgress, type VettedAddress } from './resolve.js';
export { egressFetch, expectOk, fetchJson, parseHttpUrl, type EgressFetchOptions, type FetchJsonOptions, type Response } from './http.js';
export * from './download.js';
export { gitClone, gitLsRemote, gitLocal, type GitLocalOptions, type GitRemoteOptions } from './git.js';
