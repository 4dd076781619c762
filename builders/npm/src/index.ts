import type { Builder } from '@quorum/core';
import { assessNpmRisk } from './assess-risk.js';
import { decideNpmInputs, NPM_PLAN_FILES } from './decide-inputs.js';
import { inferNpmRecipe, npmArtifactIn, npmName, npmPurlProblem } from './infer-recipe.js';
import { MANAGER_PLAN_FILES } from './manager-inputs.js';
import { planNpmBuild } from './plan.js';
import { planNpmResolve } from './resolve-plan.js';
import { explainNpmFailure } from './explain-failure.js';
import { MAX_YARN_LOCK_CHARS } from './yarn-lock.js';
import { npmDocumentAsOf } from './document-as-of.js';
import { npmMissingOutputs, npmPublishedFacts } from './published-facts.js';
import { CONSUMER_LOCKFILES, readConsumerLockfile } from './consumer-lockfile.js';
import { NPM_ABBREVIATED_METADATA, npmMetadataUrl } from './metadata-url.js';
import { npmRegistryGate } from './registry-gate.js';

export { inferNpmRecipe, npmArtifactIn, npmName, npmPurlProblem } from './infer-recipe.js';
export { assessNpmRisk, NPM_INSTALL_SCRIPTS } from './assess-risk.js';
export { explainNpmFailure } from './explain-failure.js';
export { npmDocumentAsOf } from './document-as-of.js';
export { declaredEntryPoints, npmMissingOutputs, npmPublishedFacts, PUBLISHED_MANIFEST_EOL, PUBLISHED_MODULE_TYPE } from './published-facts.js';
export { decideNpmInputs, NPM_PLAN_FILES, NPM_TOOL_PATH, RESOLVED_LOCKFILE } from './decide-inputs.js';
export { planNpmResolve, REGISTRY_MOUNT } from './resolve-plan.js';
export { resolutionManifest, registrySpecProblem } from './resolution-manifest.js';
export { lockedDependencies } from './lockfile.js';
export { CONSUMER_LOCKFILES, readConsumerLockfile } from './consumer-lockfile.js';
export { MANAGER_PLAN_FILES } from './manager-inputs.js';
export { MAX_YARN_BERRY_ITEMS, MAX_YARN_LOCK_CHARS } from './yarn-lock.js';
export { MAX_YARN_V1_KEYS } from './yarn-v1-syntax.js';
export { parsePackageManager, pinManager } from './package-manager.js';
export { normalizeRepositoryUrl } from './repository.js';
export { NPM_ABBREVIATED_METADATA, npmMetadataUrl } from './metadata-url.js';
export { npmGateTarballPath, npmRegistryGate } from './registry-gate.js';
export { planNpmBuild, SOURCE_MOUNT, OUTPUT_MOUNT, INPUTS_MOUNT } from './plan.js';

/** Stabilizers that apply to npm's `.tgz` artifacts (names from the compare package). */
export const NPM_STABILIZERS = ['tar-entry-order', 'tar-times', 'tar-modes', 'tar-owners', 'tar-pax', 'tar-devices', 'tar-format', 'gzip-level', 'gzip-name', 'gzip-time', 'gzip-header'] as const;

/** The largest `.yarnrc.yml` or `.npmrc` read (only `yarnPath`, the registries are; real ones are a few hundred bytes). @defaultValue 64 KiB */
export const MAX_YARNRC_BYTES = 64 * 1024;

/**
 * Plan files read under a lower bound than the fetch phase's general one: a yarn.lock is parsed on the
 * worker's event loop (see `MAX_YARN_LOCK_CHARS`; a file of at most that many bytes has at most that
 * many characters), a `.yarnrc.yml` is read line by line.
 */
export const NPM_PLAN_FILE_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  'yarn.lock': MAX_YARN_LOCK_CHARS,
  'root/yarn.lock': MAX_YARN_LOCK_CHARS,
  '.yarnrc.yml': MAX_YARNRC_BYTES,
  'root/.yarnrc.yml': MAX_YARNRC_BYTES,
  '.npmrc': MAX_YARNRC_BYTES,
  'root/.npmrc': MAX_YARNRC_BYTES,
});

/** The npm builder. */
export const npmBuilder: Builder = {
  ecosystem: 'npm',
  defaultRegistry: 'https://registry.npmjs.org',
  imageTag: 'quorum/npm-builder:bookworm',
  artifactFormat: 'tgz',
  purlProblem: npmPurlProblem,
  metadataUrl: npmMetadataUrl,
  metadataAccept: NPM_ABBREVIATED_METADATA,
  inferRecipe: inferNpmRecipe,
  planFiles: [...NPM_PLAN_FILES, ...MANAGER_PLAN_FILES],
  planFileLimits: NPM_PLAN_FILE_LIMITS,
  decideInputs: decideNpmInputs,
  publishedFacts: npmPublishedFacts,
  missingOutputs: npmMissingOutputs,
  artifactIn: npmArtifactIn,
  plan: planNpmBuild,
  resolvePlan: planNpmResolve,
  documentAsOf: npmDocumentAsOf,
  stabilizers: NPM_STABILIZERS,
  assessRisk: assessNpmRisk,
  lockfileNames: CONSUMER_LOCKFILES,
  readLockfile: readConsumerLockfile,
  registryGate: npmRegistryGate,
  explainFailure: explainNpmFailure,
};
