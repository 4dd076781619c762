import type { Builder } from '@quorum/core';
import { assessNpmRisk } from './assess-risk.js';
import { decideNpmInputs, NPM_PLAN_FILES } from './decide-inputs.js';
import { inferNpmRecipe, npmArtifactIn, npmName, npmPurlProblem } from './infer-recipe.js';
import { MANAGER_PLAN_FILES } from './manager-inputs.js';
import { planNpmBuild } from './plan.js';
import { planNpmResolve } from './resolve-plan.js';
import { explainNpmFailure } from './explain-failure.js';

export { inferNpmRecipe, npmArtifactIn, npmName, npmPurlProblem } from './infer-recipe.js';
export { assessNpmRisk, NPM_INSTALL_SCRIPTS } from './assess-risk.js';
export { explainNpmFailure } from './explain-failure.js';
export { decideNpmInputs, NPM_PLAN_FILES, NPM_TOOL_PATH, RESOLVED_LOCKFILE } from './decide-inputs.js';
export { planNpmResolve, REGISTRY_MOUNT } from './resolve-plan.js';
export { resolutionManifest, registrySpecProblem } from './resolution-manifest.js';
export { lockedDependencies } from './lockfile.js';
export { MANAGER_PLAN_FILES } from './manager-inputs.js';
export { parsePackageManager, pinManager } from './package-manager.js';
export { normalizeRepositoryUrl } from './repository.js';
export { planNpmBuild, SOURCE_MOUNT, OUTPUT_MOUNT, INPUTS_MOUNT } from './plan.js';

/** Stabilizers that apply to npm's `.tgz` artifacts (names from the compare package). */
export const NPM_STABILIZERS = [
  'tar-entry-order',
  'tar-times',
  'tar-modes',
  'tar-owners',
  'tar-pax',
  'tar-devices',
  'tar-format',
  'gzip-level',
  'gzip-name',
  'gzip-time',
  'gzip-header',
] as const;

/** The npm builder. */
export const npmBuilder: Builder = {
  ecosystem: 'npm',
  defaultRegistry: 'https://registry.npmjs.org',
  imageTag: 'quorum/npm-builder:bookworm',
  artifactFormat: 'tgz',
  purlProblem: npmPurlProblem,
  metadataUrl(purl, registry) {
    // scoped names keep the @ and escape the slash, as the registry expects; every part is encoded,
    // so a name can never walk the registry's paths or add a query
    const scope = purl.namespace ? `@${encodeURIComponent(purl.namespace.replace(/^@/, ''))}%2f` : '';
    return `${registry.replace(/\/+$/, '')}/${scope}${encodeURIComponent(purl.name)}`;
  },
  inferRecipe: inferNpmRecipe,
  planFiles: [...NPM_PLAN_FILES, ...MANAGER_PLAN_FILES],
  decideInputs: decideNpmInputs,
  artifactIn: npmArtifactIn,
  plan: planNpmBuild,
  resolvePlan: planNpmResolve,
  stabilizers: NPM_STABILIZERS,
  assessRisk: assessNpmRisk,
  explainFailure: explainNpmFailure,
};
