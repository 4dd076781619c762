import type { Static } from 'typebox';
import type { ArtifactDigestsSchema } from './api-schemas.js';
/** Digest facts about one artifact, as computed by the compare package. */
export type ArtifactDigests = Static<typeof ArtifactDigestsSchema>;

/** Names the stabilizers needed for `a` and `b` (with equal stabilized digests) to compare equal. */
export function stabilizersBetween(a: Pick<ArtifactDigests, 'facets'>, b: Pick<ArtifactDigests, 'facets'>): string[] {
  const names = new Set([...Object.keys(a.facets), ...Object.keys(b.facets)]);
  return [...names].filter((n) => a.facets[n] !== b.facets[n]).sort();
}
