import { AttestError } from './errors.js';
import { IN_TOTO_STATEMENT_TYPE, PROVENANCE_PREDICATE, type InTotoStatement, type ResourceDescriptor, type StatementSubject } from './in-toto.js';
import { compact, invalid, objectAt, optionalStringAt, stringAt, stringsAt } from './read-fields.js';
import { isObject } from './json-shapes.js';
import { assertValidStatement } from './validate-statement.js';

/** buildDefinition.buildType of a Quorum rebuild. */
export const REBUILD_BUILD_TYPE = 'urn:quorum:buildtype:rebuild:v1';
/** Prefix of runDetails.builder.id; the worker id follows, URI-component encoded. */
export const WORKER_URI_PREFIX = 'urn:quorum:worker:';
/** Prefix of the uri of the `quorum-result` byproduct; the rebuild id follows, URI-component encoded. */
export const REBUILD_URI_PREFIX = 'urn:quorum:rebuild:';
/** Name of the byproduct that carries the build log digest. */
export const LOG_BYPRODUCT = 'build.log';
/** Name of the byproduct that carries the outcome of the rebuild. */
export const RESULT_BYPRODUCT = 'quorum-result';
/** Name of the resolved dependency that pins the builder image. */
export const IMAGE_DEPENDENCY = 'builder-image';

/** Everything a worker states about one rebuild. */
export interface RebuildStatementInput {
  purl: string;
  releaseId: string;
  rebuildId: string;
  builder: {
    /** worker id (the builder identity enrolled with the coordinator) */
    id: string;
    operator: string;
  };
  status: 'succeeded' | 'failed';
  /** machine-readable failure reason, e.g. build-error, timeout */
  reason?: string;
  /** human message */
  message?: string;
  /** the rebuilt artifact; required when succeeded, not stated when failed */
  artifact?: { filename: string; sha256: string; sha512: string; stabilizedSha256: string; stabilizersApplied: string[] };
  /** the published artifact as this worker fetched and hashed it */
  published?: { sha256: string; sha512: string };
  source?: {
    /** where the source came from: `registry`, `mapping` (canonical) or `override` (never answers for the purl) */
    origin: string;
    repo: string;
    commit: string;
    ref?: string;
    directory?: string;
    /** commit time, seconds since the epoch (SOURCE_DATE_EPOCH) */
    commitTime: number;
  };
  recipe: Record<string, unknown>;
  /** builder image id, `sha256:<hex>` */
  imageDigest?: string;
  /** stabilizers (name@version) the worker ran */
  stabilizers: readonly string[];
  toolchain?: Record<string, string>;
  /** RFC 3339 */
  startedOn: string;
  /** RFC 3339 */
  finishedOn: string;
  log: { sha256: string; bytes: number };
}

/** What a verified rebuild statement claims, as the coordinator and `quorum verify` read it. */
export interface RebuildClaim {
  purl: string;
  releaseId: string;
  rebuildId: string;
  workerId: string;
  /** the operator the statement names; trust lists, not statements, decide who counts as whom */
  operator: string;
  status: 'succeeded' | 'failed';
  reason?: string;
  message?: string;
  artifact?: { filename?: string; sha256: string; sha512: string; stabilizedSha256: string; stabilizersApplied: string[] };
  published?: { sha256: string; sha512?: string };
  imageDigest?: string;
  source?: { origin?: string; repo: string; commit: string; ref?: string; directory?: string; commitTime?: number };
  /** the toolchain the recipe asked for (`externalParameters.recipe.toolchain`), when stated */
  recipeToolchain?: Record<string, string>;
  /** the SHA-256 of the lockfile the builder resolved itself (`recipe.resolvedLockfile`): the source committed none */
  resolvedLockfileSha256?: string;
  log: { sha256: string; bytes?: number };
}

const IMAGE_DIGEST = /^(?:sha256:)?([0-9a-f]{64})$/;

/** The git URI of a repository in resolvedDependencies: `git+` + repo, unless it already starts with `git+`. */
export function gitUri(repo: string): string {
  return repo.startsWith('git+') ? repo : `git+${repo}`;
}

/**
 * Builds the in-toto Statement v1 (SLSA Provenance v1) a worker signs for one rebuild.
 * Subject: the rebuilt artifact when succeeded, the build log when failed (a subject is mandatory).
 * Throws AttestError('invalid-statement') when the input cannot make a valid statement.
 */
export function rebuildStatement(input: RebuildStatementInput): InTotoStatement {
  const succeeded = input.status === 'succeeded';
  const artifact = succeeded ? input.artifact : undefined;
  if (succeeded && !artifact) throw new AttestError('invalid-statement', 'a succeeded rebuild must state its artifact');
  let imageHex: string | undefined;
  if (input.imageDigest !== undefined) {
    imageHex = IMAGE_DIGEST.exec(input.imageDigest)?.[1];
    if (!imageHex) throw new AttestError('invalid-statement', `imageDigest must be sha256:<64 hex>, got ${input.imageDigest}`);
  }
  const subject: StatementSubject[] = artifact
    ? [{ name: artifact.filename, digest: { sha256: artifact.sha256, sha512: artifact.sha512 } }]
    : [{ name: LOG_BYPRODUCT, digest: { sha256: input.log.sha256 } }];
  const resolvedDependencies: ResourceDescriptor[] = [];
  if (input.source) {
    resolvedDependencies.push({
      uri: gitUri(input.source.repo),
      digest: { gitCommit: input.source.commit },
      annotations: { commitTime: input.source.commitTime },
    });
  }
  if (imageHex) resolvedDependencies.push({ name: IMAGE_DEPENDENCY, digest: { sha256: imageHex } });
  const statement: InTotoStatement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject,
    predicateType: PROVENANCE_PREDICATE,
    predicate: {
      buildDefinition: compact({
        buildType: REBUILD_BUILD_TYPE,
        externalParameters: compact({
          purl: input.purl,
          releaseId: input.releaseId,
          rebuildId: input.rebuildId,
          source: input.source ? compact({ origin: input.source.origin, repo: input.source.repo, ref: input.source.ref, directory: input.source.directory }) : undefined,
          recipe: input.recipe,
        }),
        internalParameters: compact({
          imageDigest: imageHex ? `sha256:${imageHex}` : undefined,
          stabilizers: [...input.stabilizers],
          toolchain: input.toolchain,
        }),
        resolvedDependencies: resolvedDependencies.length > 0 ? resolvedDependencies : undefined,
      }),
      runDetails: {
        builder: { id: WORKER_URI_PREFIX + encodeURIComponent(input.builder.id) },
        metadata: { invocationId: input.rebuildId, startedOn: input.startedOn, finishedOn: input.finishedOn },
        byproducts: [
          { name: LOG_BYPRODUCT, digest: { sha256: input.log.sha256 }, annotations: { bytes: input.log.bytes } },
          {
            name: RESULT_BYPRODUCT,
            uri: REBUILD_URI_PREFIX + encodeURIComponent(input.rebuildId),
            annotations: compact({
              status: input.status,
              reason: input.reason,
              message: input.message,
              operator: input.builder.operator,
              stabilizedSha256: artifact?.stabilizedSha256,
              stabilizersApplied: artifact ? [...artifact.stabilizersApplied] : undefined,
              publishedSha256: input.published?.sha256,
              publishedSha512: input.published?.sha512,
            }),
          },
        ],
      },
    },
  };
  assertValidStatement(statement, 'rebuild statement');
  return statement;
}

const SHA256 = /^[0-9a-f]{64}$/;

function findByproduct(byproducts: unknown, name: string): Record<string, unknown> | undefined {
  if (!Array.isArray(byproducts)) return undefined;
  const found = byproducts.find((b) => isObject(b) && b.name === name);
  return isObject(found) ? found : undefined;
}

/**
 * Reads a rebuild statement back into a claim; throws AttestError('invalid-statement') when it is
 * not a valid Quorum rebuild statement (exact predicateType and buildType, required fields present).
 */
export function parseRebuildStatement(s: InTotoStatement): RebuildClaim {
  if (!isObject(s)) invalid('rebuild statement must be an object');
  if (s.predicateType !== PROVENANCE_PREDICATE) invalid(`predicateType is ${String(s.predicateType)}, expected ${PROVENANCE_PREDICATE}`);
  assertValidStatement(s, 'rebuild statement');
  const p = s.predicate;
  const bd = objectAt(p, 'buildDefinition', 'predicate');
  if (bd.buildType !== REBUILD_BUILD_TYPE) invalid(`buildType is ${String(bd.buildType)}, expected ${REBUILD_BUILD_TYPE}`);
  const ext = objectAt(bd, 'externalParameters', 'predicate.buildDefinition');
  const internal = isObject(bd.internalParameters) ? bd.internalParameters : {};
  const rd = objectAt(p, 'runDetails', 'predicate');
  const builderId = stringAt(objectAt(rd, 'builder', 'predicate.runDetails'), 'id', 'predicate.runDetails.builder');
  if (!builderId.startsWith(WORKER_URI_PREFIX)) invalid(`runDetails.builder.id ${builderId} is not a Quorum worker (${WORKER_URI_PREFIX}…)`);
  let workerId: string;
  try {
    workerId = decodeURIComponent(builderId.slice(WORKER_URI_PREFIX.length));
  } catch {
    invalid(`runDetails.builder.id ${builderId} is not URI-encoded`);
  }
  if (workerId === '') invalid('runDetails.builder.id names no worker');

  const result = findByproduct(rd.byproducts, RESULT_BYPRODUCT);
  if (!result) invalid(`runDetails.byproducts has no ${RESULT_BYPRODUCT}`);
  const r = objectAt(result, 'annotations', RESULT_BYPRODUCT);
  const rPath = `${RESULT_BYPRODUCT}.annotations`;
  const status = r.status;
  if (status !== 'succeeded' && status !== 'failed') invalid(`${rPath}.status must be succeeded or failed`);
  const log = findByproduct(rd.byproducts, LOG_BYPRODUCT);
  const logSha256 = isObject(log?.digest) ? log.digest.sha256 : undefined;
  if (typeof logSha256 !== 'string') invalid(`runDetails.byproducts has no ${LOG_BYPRODUCT} with a sha256 digest`);
  const logBytes = isObject(log?.annotations) && typeof log.annotations.bytes === 'number' ? log.annotations.bytes : undefined;

  let artifact: RebuildClaim['artifact'];
  if (status === 'succeeded') {
    if (s.subject.length !== 1) invalid(`a succeeded rebuild has exactly one subject, got ${s.subject.length}`);
    const subj = s.subject[0]!;
    const { sha256, sha512 } = subj.digest;
    if (typeof sha256 !== 'string' || typeof sha512 !== 'string') invalid('subject[0].digest must carry sha256 and sha512');
    const stabilizedSha256 = stringAt(r, 'stabilizedSha256', rPath);
    if (!SHA256.test(stabilizedSha256)) invalid(`${rPath}.stabilizedSha256 must be 64 lowercase hex characters`);
    artifact = compact({ filename: subj.name, sha256, sha512, stabilizedSha256, stabilizersApplied: r.stabilizersApplied === undefined ? [] : stringsAt(r, 'stabilizersApplied', rPath) });
  }

  let source: RebuildClaim['source'];
  if (ext.source !== undefined) {
    const src = objectAt(ext, 'source', 'predicate.buildDefinition.externalParameters');
    const sPath = 'predicate.buildDefinition.externalParameters.source';
    const repo = stringAt(src, 'repo', sPath);
    const deps = Array.isArray(bd.resolvedDependencies) ? bd.resolvedDependencies.filter(isObject) : [];
    const git = deps.find((d) => d.uri === gitUri(repo) && isObject(d.digest) && typeof d.digest.gitCommit === 'string');
    if (!git) invalid(`resolvedDependencies has no ${gitUri(repo)} entry with a gitCommit digest`);
    const commitTime = isObject(git.annotations) && typeof git.annotations.commitTime === 'number' ? git.annotations.commitTime : undefined;
    source = compact({
      origin: optionalStringAt(src, 'origin', sPath),
      repo,
      commit: (git.digest as Record<string, string>).gitCommit!,
      ref: optionalStringAt(src, 'ref', sPath),
      directory: optionalStringAt(src, 'directory', sPath),
      commitTime,
    });
  }
  let recipeToolchain: Record<string, string> | undefined;
  const recipe = ext.recipe;
  if (isObject(recipe) && recipe.toolchain !== undefined) {
    const t = recipe.toolchain;
    if (!isObject(t) || !Object.values(t).every((x) => typeof x === 'string')) invalid('predicate.buildDefinition.externalParameters.recipe.toolchain must map names to strings');
    recipeToolchain = t as Record<string, string>;
  }
  let resolvedLockfileSha256: string | undefined;
  if (isObject(recipe) && recipe.resolvedLockfile !== undefined) {
    const l = recipe.resolvedLockfile;
    if (!isObject(l) || typeof l.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(l.sha256)) invalid('predicate.buildDefinition.externalParameters.recipe.resolvedLockfile must name a sha256');
    resolvedLockfileSha256 = l.sha256;
  }
  const publishedSha256 = optionalStringAt(r, 'publishedSha256', rPath);
  const publishedSha512 = optionalStringAt(r, 'publishedSha512', rPath);

  return compact<RebuildClaim>({
    purl: stringAt(ext, 'purl', 'predicate.buildDefinition.externalParameters'),
    releaseId: stringAt(ext, 'releaseId', 'predicate.buildDefinition.externalParameters'),
    rebuildId: stringAt(ext, 'rebuildId', 'predicate.buildDefinition.externalParameters'),
    workerId,
    operator: stringAt(r, 'operator', rPath),
    status,
    reason: optionalStringAt(r, 'reason', rPath),
    message: optionalStringAt(r, 'message', rPath),
    artifact,
    published: publishedSha256 ? compact({ sha256: publishedSha256, sha512: publishedSha512 }) : undefined,
    imageDigest: optionalStringAt(internal, 'imageDigest', 'predicate.buildDefinition.internalParameters'),
    source,
    recipeToolchain,
    resolvedLockfileSha256,
    log: compact({ sha256: logSha256, bytes: logBytes }),
  });
}
