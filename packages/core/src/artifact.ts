/** Digest facts about one artifact, as computed by the compare package. */
export interface ArtifactDigests {
  /** size in bytes of the raw artifact */
  size: number;
  /** sha256 of the raw bytes, hex */
  sha256: string;
  /** sha512 of the raw bytes, hex */
  sha512: string;
  /** sha256 of the stabilized form (canonical manifest of the normalized contents), hex */
  stabilizedSha256: string;
  /**
   * One digest per stabilizer of the facet that stabilizer normalizes (e.g. all entry times).
   * Two artifacts with equal stabilized digests differ exactly in the facets whose digests differ,
   * which names the stabilizers that were needed to make them equal.
   */
  facets: Record<string, string>;
  /** stabilizers whose normalization changed anything in this artifact, relative to canonical values */
  stabilizersApplied: string[];
}

/** Names the stabilizers needed for `a` and `b` (with equal stabilized digests) to compare equal. */
export function stabilizersBetween(a: Pick<ArtifactDigests, 'facets'>, b: Pick<ArtifactDigests, 'facets'>): string[] {
  const names = new Set([...Object.keys(a.facets), ...Object.keys(b.facets)]);
  return [...names].filter((n) => a.facets[n] !== b.facets[n]).sort();
}
