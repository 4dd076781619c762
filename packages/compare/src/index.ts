export { analyzeTgz, DEFAULT_TGZ_LIMITS, type AnalyzeTgzOptions, type TgzAnalysis } from './analyze-tgz.js';
export {
  analyzeArtifact,
  artifactFormat,
  diffArtifacts,
  formatChoiceProblem,
  openArtifactDiff,
  ARTIFACT_FORMATS,
  type AnalyzeArtifactOptions,
  type ArtifactFormat,
  type ArtifactFormatInfo,
} from './artifact-formats.js';
export { inspectZip, h1FromStabilized, type ZipStabilizedForm } from './analyze-zip.js';
export type { ArchiveAnalysis, ArchiveLimits } from './archive-reader.js';
export {
  CRATE_STABILIZERS,
  TGZ_STABILIZERS,
  ZIP_STABILIZERS,
  type CrateStabilizerName,
  type StabilizerInfo,
  type StabilizerName,
  type TgzStabilizerName,
  type ZipStabilizerName,
} from './stabilizers.js';
export { analyzeCrate, manifestData, vcsInfoData } from './crate-format.js';
export { MANIFEST_VERSION_LINE, compareUtf8, manifestLine, manifestSha256, normalizeMode, serializeManifest, type EntryType, type ManifestEntry } from './manifest.js';
export { parseGzipHeader, type GzipHeader } from './gzip-header.js';
export { hashStream, sha256File } from './hash.js';
export {
  diffTgz,
  diffArchives,
  openTgzDiff,
  openArchiveDiff,
  formatBytes,
  DEFAULT_DIFF_OPTIONS,
  MAX_FILE_DIFF_LINES,
  MAX_TOTAL_DIFF_LINES,
  type ArtifactDiff,
  type ChangedFile,
  type ChangedSide,
  type DiffFile,
  type DiffOptions,
  type DiffSide,
  type MetadataChange,
  type MetadataField,
  type ArchiveDiffReader,
  /** @deprecated the reader is format-neutral: ArchiveDiffReader */
  type ArchiveDiffReader as TgzDiffReader,
} from './diff-archive.js';
export { renderDiff, escapeForTerminal } from './render-diff.js';
