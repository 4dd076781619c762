import { createHash } from 'node:crypto';
import { QuorumError } from '@quorum/core';
import { analyzeTgz, type AnalyzeTgzOptions } from './analyze-tgz.js';
import { inspectZip, type ZipStabilizedForm } from './analyze-zip.js';
import type { ArchiveAnalysis, ArchiveReader } from './archive-reader.js';
import { diffArchives, openArchiveDiff, type ArchiveDiffReader, type ArtifactDiff, type DiffOptions } from './diff-archive.js';
import { analyzeCrate } from './crate-format.js';
import { CRATE_STABILIZERS, TGZ_STABILIZERS, ZIP_STABILIZERS, type StabilizerInfo } from './stabilizers.js';
import { TGZ_READER } from './tgz-reader.js';
import { zipReader } from './zip-reader.js';

/** One artifact format: its analyzer, its differ and the stabilizers its facets are named by. */
export interface ArtifactFormatInfo {
  readonly id: string;
  readonly description: string;
  readonly stabilizers: readonly StabilizerInfo[];
  /**
   * the stabilizer that owns the container's own encoding: named when two artifacts with equal
   * contents and equal facets still differ in bytes (which a complete set of facets leaves to it)
   */
  readonly encodingStabilizer: string;
  analyze(input: NodeJS.ReadableStream | string, opts?: AnalyzeTgzOptions): Promise<ArchiveAnalysis>;
  readonly reader: ArchiveReader;
}

function fileOnly(input: NodeJS.ReadableStream | string, id: string): string {
  if (typeof input !== 'string') throw new QuorumError('invalid-input', `a ${id} artifact is read from a file (its central directory is at the end)`);
  return input;
}

function zipFormat(id: string, form: ZipStabilizedForm, description: string): ArtifactFormatInfo {
  return {
    id,
    description,
    stabilizers: ZIP_STABILIZERS,
    encodingStabilizer: 'zip-format',
    analyze: async (input, opts) => (await inspectZip(fileOnly(input, id), opts, form)).analysis,
    reader: zipReader(form),
  };
}

/** Every artifact format the compare package knows, by the id a builder names as its `artifactFormat`. */
export const ARTIFACT_FORMATS: Readonly<Record<string, ArtifactFormatInfo>> = Object.freeze({
  tgz: {
    id: 'tgz',
    description: 'a gzip-compressed tar archive (npm tarballs); stabilized form: the canonical manifest of its entries',
    stabilizers: TGZ_STABILIZERS,
    encodingStabilizer: 'gzip-level',
    analyze: analyzeTgz,
    reader: TGZ_READER,
  },
  crate: {
    id: 'crate',
    description:
      "a gzip-compressed tar archive made by cargo (crates); stabilized form: the tgz's canonical manifest, with the normalized Cargo.toml compared as TOML data and .cargo_vcs_info.json without its dirty flag",
    stabilizers: CRATE_STABILIZERS,
    encodingStabilizer: 'gzip-level',
    analyze: (input, opts) => analyzeCrate(fileOnly(input, 'crate'), opts),
    reader: TGZ_READER,
  },
  zip: zipFormat('zip', 'manifest', 'a zip archive; stabilized form: the canonical manifest of its entries'),
  dirhash: zipFormat('dirhash', 'dirhash', "a zip archive whose stabilized form is Go's h1: dirhash of its entries' names and contents (Go module zips)"),
});

/** An artifact format's id, by the name a builder gives; throws `invalid-input` for an unknown one. */
export function artifactFormat(id: string): ArtifactFormatInfo {
  if (!Object.hasOwn(ARTIFACT_FORMATS, id)) throw new QuorumError('invalid-input', `unknown artifact format ${JSON.stringify(id)}; known: ${Object.keys(ARTIFACT_FORMATS).join(', ')}`);
  return ARTIFACT_FORMATS[id]!;
}

/** Artifact formats the compare package can analyze (a builder's `artifactFormat`). */
export type ArtifactFormat = string;

/** What an analysis applies: the builder's stabilizers, when it names them (else all of the format's). */
export interface AnalyzeArtifactOptions extends AnalyzeTgzOptions {
  stabilizers?: readonly string[];
}

/**
 * Analyzes an artifact of the given format. With `stabilizers`, only those are applied: the facets
 * of the format's other stabilizers are folded into the stabilized digest, so that two artifacts
 * differing in one of them never compare equal.
 */
export async function analyzeArtifact(format: ArtifactFormat, input: NodeJS.ReadableStream | string, opts?: AnalyzeArtifactOptions): Promise<ArchiveAnalysis> {
  const f = artifactFormat(format);
  const { stabilizers, ...limits } = opts ?? {};
  const a = await f.analyze(input, limits);
  if (stabilizers === undefined) return a;
  const applied = new Set(stabilizers);
  const kept = f.stabilizers.map((s) => s.name).filter((n) => !applied.has(n));
  if (kept.length === 0) return a;
  const h = createHash('sha256');
  h.update(`quorum-stabilized v1\n${a.stabilizedSha256}\n`);
  for (const n of kept.sort()) h.update(`${n} ${a.facets[n] ?? ''}\n`);
  return { ...a, stabilizedSha256: h.digest('hex'), stabilizersApplied: a.stabilizersApplied.filter((n) => applied.has(n)) };
}

/** The problem with a builder's choice of format and stabilizers, if there is one. */
export function formatChoiceProblem(format: string, stabilizers: readonly string[]): string | undefined {
  if (!Object.hasOwn(ARTIFACT_FORMATS, format)) return `unknown artifact format ${JSON.stringify(format)}`;
  const names = new Set(ARTIFACT_FORMATS[format]!.stabilizers.map((s) => s.name));
  const foreign = stabilizers.filter((s) => !names.has(s));
  return foreign.length > 0 ? `stabilizers ${foreign.join(', ')} are not ${format} stabilizers` : undefined;
}

/** File-level diff of two artifacts of one format (see `diffTgz`). */
export function diffArtifacts(format: ArtifactFormat, a: string, b: string, opts?: DiffOptions): Promise<ArtifactDiff> {
  return diffArchives(artifactFormat(format).reader, a, b, opts);
}

/** A file-level diff of two artifacts of one format, with a reader of their small entries (see `openTgzDiff`). */
export function openArtifactDiff(format: ArtifactFormat, a: string, b: string, opts?: DiffOptions): Promise<ArchiveDiffReader> {
  return openArchiveDiff(artifactFormat(format).reader, a, b, opts);
}
