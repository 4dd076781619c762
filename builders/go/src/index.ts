import type { Builder } from '@quorum/core';
import { ZIP_STABILIZER_NAMES } from './stabilizers.js';
import { assessGoRisk } from './assess-risk.js';
import { GOSUMDB_SETTING, inferGoRecipe, readGoMetadata } from './infer-recipe.js';
import { GO_SUMDB_DEFAULT, parseSumDb } from './sumdb.js';
import { goPurlProblem, goModulePath, proxyFileUrl } from './module-path.js';
import { decideGoInputs, planGoBuild } from './plan.js';
import { GO_LOCKFILES, readGoSum } from './go-sum.js';

export { assessGoRisk } from './assess-risk.js';
export { GOSUMDB_SETTING, inferGoRecipe, readGoMetadata, repositoryOfPath, type GoMetadata } from './infer-recipe.js';
export { GO_SUMDB_DEFAULT, lookUpSum, parseSumDb, tilePath, type SumDb, type SumDbRecord } from './sumdb.js';
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
  // a module proxy serves no digest of the zip: the checksum database pins its h1: dirhash, checked after analysis
  artifactIntegrity: 'none',
  integrityProblem(integrity, artifact) {
    if (!integrity.startsWith('h1:')) return undefined;
    if (!artifact.stabilizedSha256) return `the zip could not be analyzed, so its dirhash cannot be checked against the checksum database's ${integrity}`;
    const h1 = `h1:${Buffer.from(artifact.stabilizedSha256, 'hex').toString('base64')}`;
    return h1 === integrity ? undefined : `the zip's dirhash ${h1} is not the ${integrity} the checksum database records`;
  },
  settings: { [GOSUMDB_SETTING]: GO_SUMDB_DEFAULT },
  settingOrigins(settings) {
    const db = parseSumDb(settings[GOSUMDB_SETTING] ?? 'off');
    return db ? [new URL(db.url).origin] : [];
  },
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
