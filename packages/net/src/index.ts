export * from './egress-policy.js';
export { resolveEgress, type VettedAddress } from './resolve.js';
export { egressFetch, expectOk, fetchBytes, fetchJson, parseHttpUrl, type EgressFetchOptions, type FetchJsonOptions, type Response } from './http.js';
export * from './download.js';
export { gitTarget, parseGitMirrors, MAX_GIT_MIRRORS, type GitMirror, type GitTarget } from './git-mirrors.js';
export {
  gitClone,
  gitCloneHistory,
  gitFetchCommit,
  gitFetchObjects,
  gitLocal,
  gitLsRemote,
  gitReadBlobs,
  gitTreeSize,
  type FetchedCommit,
  type GitFetchCommitOptions,
  type GitLocalOptions,
  type GitReadBlobsOptions,
  type GitRemoteOptions,
  type GitTreeSize,
  type GitTreeSizeOptions,
} from './git.js';
