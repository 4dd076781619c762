import { AttestError } from './errors.js';
import { digestSetProblems, isObject, isRfc3339, isUri } from './json-shapes.js';
import { IN_TOTO_STATEMENT_TYPE, PROVENANCE_PREDICATE, VSA_PREDICATE, type InTotoStatement } from './in-toto.js';

type Obj = Record<string, unknown>;

/** Problems of an in-toto ResourceDescriptor: optional typed fields, at least one of uri, digest, content. */
function resourceDescriptorProblems(v: unknown, path: string): string[] {
  if (!isObject(v)) return [`${path} must be an object`];
  const problems: string[] = [];
  for (const f of ['name', 'uri', 'content', 'downloadLocation', 'mediaType']) {
    if (v[f] !== undefined && typeof v[f] !== 'string') problems.push(`${path}.${f} must be a string`);
  }
  if (v.digest !== undefined) problems.push(...digestSetProblems(v.digest, `${path}.digest`));
  if (v.annotations !== undefined && !isObject(v.annotations)) problems.push(`${path}.annotations must be an object`);
  if (v.uri === undefined && v.digest === undefined && v.content === undefined) {
    problems.push(`${path} must have a uri, a digest or a content`);
  }
  return problems;
}

function optionalArrayOf(v: unknown, path: string, each: (item: unknown, path: string) => string[]): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return [`${path} must be an array`];
  return v.flatMap((item, i) => each(item, `${path}[${i}]`));
}

/** Required fields of SLSA Provenance v1 (and the types of the optional ones we read). */
function provenanceProblems(p: Obj): string[] {
  const problems: string[] = [];
  const bd = p.buildDefinition;
  if (!isObject(bd)) {
    problems.push('predicate.buildDefinition is required (object)');
  } else {
    if (!isUri(bd.buildType)) problems.push('predicate.buildDefinition.buildType is required (URI)');
    if (!isObject(bd.externalParameters)) problems.push('predicate.buildDefinition.externalParameters is required (object)');
    if (bd.internalParameters !== undefined && !isObject(bd.internalParameters)) {
      problems.push('predicate.buildDefinition.internalParameters must be an object');
    }
    problems.push(...optionalArrayOf(bd.resolvedDependencies, 'predicate.buildDefinition.resolvedDependencies', resourceDescriptorProblems));
  }
  const rd = p.runDetails;
  if (!isObject(rd)) {
    problems.push('predicate.runDetails is required (object)');
  } else {
    if (!isObject(rd.builder) || !isUri(rd.builder.id)) problems.push('predicate.runDetails.builder.id is required (URI)');
    if (rd.metadata !== undefined) {
      if (!isObject(rd.metadata)) {
        problems.push('predicate.runDetails.metadata must be an object');
      } else {
        for (const f of ['startedOn', 'finishedOn']) {
          if (rd.metadata[f] !== undefined && !isRfc3339(rd.metadata[f])) problems.push(`predicate.runDetails.metadata.${f} must be an RFC 3339 time`);
        }
      }
    }
    problems.push(...optionalArrayOf(rd.byproducts, 'predicate.runDetails.byproducts', resourceDescriptorProblems));
  }
  return problems;
}

/** Required fields of SLSA VSA v1 (`slsaVersion` is optional in the spec; Quorum always writes it and requires it). */
function vsaProblems(p: Obj): string[] {
  const problems: string[] = [];
  if (!isObject(p.verifier) || !isUri(p.verifier.id)) problems.push('predicate.verifier.id is required (URI)');
  if (!isRfc3339(p.timeVerified)) problems.push('predicate.timeVerified is required (RFC 3339 time)');
  if (typeof p.resourceUri !== 'string' || p.resourceUri === '') problems.push('predicate.resourceUri is required (URI)');
  if (!isObject(p.policy)) {
    problems.push('predicate.policy is required (object with uri and digest)');
  } else {
    // The VSA spec says the policy entry MUST contain a uri.
    if (!isUri(p.policy.uri)) problems.push('predicate.policy.uri is required (URI)');
    if (p.policy.digest !== undefined) problems.push(...digestSetProblems(p.policy.digest, 'predicate.policy.digest'));
  }
  problems.push(
    ...optionalArrayOf(p.inputAttestations, 'predicate.inputAttestations', (item, path) =>
      isObject(item) && item.digest === undefined ? [`${path}.digest is required`] : resourceDescriptorProblems(item, path),
    ),
  );
  if (p.verificationResult !== 'PASSED' && p.verificationResult !== 'FAILED') {
    problems.push('predicate.verificationResult is required (PASSED or FAILED)');
  }
  if (!Array.isArray(p.verifiedLevels) || !p.verifiedLevels.every((l) => typeof l === 'string')) {
    problems.push('predicate.verifiedLevels is required (array of strings)');
  }
  if (typeof p.slsaVersion !== 'string' || !/^\d+\.\d+$/.test(p.slsaVersion)) {
    problems.push('predicate.slsaVersion is required (MAJOR.MINOR)');
  }
  return problems;
}

/**
 * Lists what is wrong with `s` as an in-toto Statement v1 (empty = valid), including the required
 * fields of the two predicate types Quorum uses: SLSA Provenance v1 and SLSA VSA v1.
 */
export function validateStatement(s: unknown): string[] {
  if (!isObject(s)) return ['statement must be a JSON object'];
  const problems: string[] = [];
  if (s._type !== IN_TOTO_STATEMENT_TYPE) problems.push(`_type must be ${IN_TOTO_STATEMENT_TYPE}`);
  if (!Array.isArray(s.subject) || s.subject.length === 0) {
    problems.push('subject must be a non-empty array');
  } else {
    for (const [i, subj] of (s.subject as unknown[]).entries()) {
      const path = `subject[${i}]`;
      if (!isObject(subj)) {
        problems.push(`${path} must be an object`);
        continue;
      }
      if (subj.name !== undefined && typeof subj.name !== 'string') problems.push(`${path}.name must be a string`);
      problems.push(...digestSetProblems(subj.digest, `${path}.digest`));
    }
  }
  if (!isUri(s.predicateType)) problems.push('predicateType is required (URI)');
  if (!isObject(s.predicate)) {
    problems.push('predicate must be an object');
  } else if (s.predicateType === PROVENANCE_PREDICATE) {
    problems.push(...provenanceProblems(s.predicate));
  } else if (s.predicateType === VSA_PREDICATE) {
    problems.push(...vsaProblems(s.predicate));
  }
  return problems;
}

/** Throws AttestError('invalid-statement') listing the problems of `s`, if any. */
export function assertValidStatement(s: unknown, what = 'statement'): asserts s is InTotoStatement {
  const problems = validateStatement(s);
  if (problems.length > 0) throw new AttestError('invalid-statement', `invalid ${what}: ${problems.join('; ')}`);
}
