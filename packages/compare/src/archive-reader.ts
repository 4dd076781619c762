import type { ArtifactDigests } from '@quorum/core';
import type { AnalyzeTgzOptions } from './analyze-tgz.js';
import type { ContentProbe, ContentWant } from './entry-contents.js';
import type { EntryType, ManifestEntry } from './manifest.js';
import type { EntryMeta } from './tar-walker.js';

/** Digests of an archive artifact plus its stabilized manifest (for file-level diffs). */
export type ArchiveAnalysis = ArtifactDigests & { entries: ManifestEntry[] };

/** Limits of one archive analysis (whatever the format); crossing one is an `unsafe-archive` fault. */
export type ArchiveLimits = AnalyzeTgzOptions;

/** One entry of an inspected archive, as a file-level diff names it and finds it again. */
export interface InspectedEntry {
  /** position in the archive, 0-based */
  index: number;
  /** the name as stored */
  rawName: string;
  /** the normalized path (as in the manifest) */
  path: string;
  type: EntryType;
  /** the entry's own metadata as stored, for per-file diffs */
  meta: EntryMeta;
  contentBytes?: number;
  sha256?: string;
}

/** What one analysis pass learns: the public result and the entries in archive order. */
export interface ArchiveInspection {
  analysis: ArchiveAnalysis;
  raw: readonly InspectedEntry[];
}

/**
 * How a file-level diff reads one archive format: one inspection pass per artifact, the facets of
 * the entries two artifacts share, and a second pass over chosen entries. Each format has one, next
 * to its analyzer.
 */
export interface ArchiveReader<I extends ArchiveInspection = ArchiveInspection> {
  inspect(file: string, limits: Required<ArchiveLimits>, sha512: boolean): Promise<I>;
  /**
   * The stabilizers whose facets differ. With equal content that is `stabilizersBetween` of the two
   * analyses; with different content, over the entries both hold with the same content (`common`),
   * so that added or changed files do not name every stabilizer.
   */
  archiveStabilizers(A: I, B: I, common: ReadonlySet<string>, equalContent: boolean): string[];
  /** Reads the wanted entries (by archive position) once more, checking each against the first pass. */
  probeEntries(file: string, wants: readonly ContentWant[], limits: Required<ArchiveLimits>): Promise<Map<number, ContentProbe>>;
}
