import { QuorumError, urlSetting, type Builder } from '@quorum/core';
import { assessCratesRisk } from './assess-risk.js';
import { CARGO_LOCKFILES, readCargoLock } from './cargo-lock.js';
import { cratePurlProblem, indexPath, indexUrl } from './crate-name.js';
import { CARGO_DOWNLOADS_DEFAULT, CARGO_DOWNLOADS_SETTING, inferCratesRecipe, readCratesMetadata } from './infer-recipe.js';
import { cratePublishedFacts, decideCratesInputs, planCratesBuild } from './plan.js';

export { assessCratesRisk } from './assess-risk.js';
export { CARGO_LOCKFILES, isKnownRegistry, parseCargoLock, readCargoLock, type LockedCrate } from './cargo-lock.js';
export { cratePurlProblem, downloadUrl, indexPath, indexUrl, sriOfHexSha256 } from './crate-name.js';
export { CARGO_DOWNLOADS_DEFAULT, CARGO_DOWNLOADS_SETTING, indexEntry, inferCratesRecipe, readCratesMetadata, repositoryOfManifest, type CratesMetadata } from './infer-recipe.js';
export { cratePublishedFacts, decideCratesInputs, planCratesBuild } from './plan.js';
export { readCrateFiles } from './read-crate.js';

/** The stabilizers the comparison of crates applies: all of the crate format's. */
export const CRATE_STABILIZER_NAMES = [
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
  'cargo-manifest',
  'cargo-vcs-dirty',
] as const;

/** The crates builder: a crate version's `.crate`, packed again by cargo from the commit it records. */
export const cratesBuilder: Builder = {
  ecosystem: 'cargo',
  defaultRegistry: 'https://index.crates.io',
  registrySetting: 'QUORUM_CARGO_INDEX',
  imageTag: 'quorum/crates-builder:trixie',
  artifactFormat: 'crate',
  // cargo writes a deterministic tar, but its gzip encoder, tar details and Cargo.toml normalization vary with its version
  stabilizers: CRATE_STABILIZER_NAMES,
  settings: { [CARGO_DOWNLOADS_SETTING]: CARGO_DOWNLOADS_DEFAULT },
  settingOrigins(settings) {
    const downloads = new URL(urlSetting(CARGO_DOWNLOADS_SETTING, settings[CARGO_DOWNLOADS_SETTING], CARGO_DOWNLOADS_DEFAULT));
    if (downloads.protocol !== 'https:' && downloads.protocol !== 'http:') throw new QuorumError('invalid-input', `${CARGO_DOWNLOADS_SETTING} must be an http(s) URL, got "${downloads.href}"`);
    return [downloads.origin];
  },
  purlProblem: cratePurlProblem,
  metadataUrl: (purl, registry) => indexUrl(registry, indexPath(purl.name)),
  readMetadata: readCratesMetadata,
  inferRecipe: inferCratesRecipe,
  planFiles: ['Cargo.toml', 'Cargo.lock', 'root/Cargo.lock', 'root/Cargo.toml'],
  publishedFacts: cratePublishedFacts,
  decideInputs: decideCratesInputs,
  // an index line names no URL: the download is the index's template filled in
  artifactIn: () => undefined,
  plan: planCratesBuild,
  assessRisk: assessCratesRisk,
  lockfileNames: CARGO_LOCKFILES,
  readLockfile: readCargoLock,
};
