import type { Builder } from '@quorum/core';
import { ZIP_STABILIZER_NAMES } from './stabilizers.js';
import { assessGoRisk } from './assess-risk.js';
import { inferGoRecipe, readGoMetadata } from './infer-recipe.js';
import { goPurlProblem, goModulePath, proxyFileUrl } from './module-path.js';
import { decideGoInputs, planGoBuild } from './plan.js';
import { GO_LOCKFILES, readGoSum } from './go-sum.js';

export { assessGoRisk } from './assess-risk.js';
export { inferGoRecipe, readGoMetadata, repositoryOfPath, type GoMetadata } from './infer-recipe.js';
export { escapeModuleText, goModulePath, goPurlProblem, proxyFileUrl, pseudoVersionCommit } from './module-path.js';
export { decideGoInputs, goModModule, planGoBuild } from './plan.js';
export { GO_LOCKFILES, goPurl, readGoSum } from './go-sum.js';

/** The Go modules builder: a module version's zip, rebuilt from its repository by the module zip rules. */
export const goBuilder: Builder = {
  ecosystem: 'golang',
  defaultRegistry: 'https://proxy.golang.org',
  registrySetting: 'QUORUM_GOPROXY',
  imageTag: 'quorum/go-builder:bookworm',
  // compared by the h1: dirhash Go itself pins (names and contents); the zip's own encoding is a stabilizer
  artifactFormat: 'dirhash',
  stabilizers: ZIP_STABILIZER_NAMES,
  // a module proxy serves no digest of the zip (the checksum database pins the h1: dirhash)
  artifactIntegrity: 'none',
  purlProblem: goPurlProblem,
  metadataUrl: (purl, registry) => proxyFileUrl(registry, goModulePath(purl), purl.version, 'info'),
  readMetadata: readGoMetadata,
  inferRecipe: inferGoRecipe,
  planFiles: ['go.mod'],
  decideInputs: decideGoInputs,
  // a module version's zip is always at the proxy's conventional URL; no metadata document names it
  artifactIn: () => undefined,
  plan: planGoBuild,
  assessRisk: assessGoRisk,
  lockfileNames: GO_LOCKFILES,
  readLockfile: readGoSum,
};
