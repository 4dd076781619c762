export { analyzeTgz, DEFAULT_TGZ_LIMITS, type AnalyzeTgzOptions, type TgzAnalysis } from './analyze-tgz.js';
export { analyzeArtifact, type ArtifactFormat } from './analyze-artifact.js';
export { TGZ_STABILIZERS, type StabilizerInfo, type TgzStabilizerName } from './stabilizers.js';
export { MANIFEST_VERSION_LINE, compareUtf8, manifestLine, manifestSha256, normalizeMode, serializeManifest, type EntryType, type ManifestEntry } from './manifest.js';
export { parseGzipHeader, type GzipHeader } from './gzip-header.js';
export { hashStream, sha256File } from './hash.js';
export {
  diffTgz,
  openTgzDiff,
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
  type TgzDiffReader,
} from './diff-tgz.js';
export { renderDiff, escapeForTerminal } from './render-diff.js';
