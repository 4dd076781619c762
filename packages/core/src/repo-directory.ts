/** Longest declared package directory accepted, in characters. */
export const MAX_REPO_DIRECTORY_CHARS = 500;
/** Most path segments a declared package directory may have. */
export const MAX_REPO_DIRECTORY_SEGMENTS = 32;

/** Longest excerpt of a declared directory quoted in a message. */
const QUOTE_CHARS = 80;

// C0, DEL and C1 controls, plus the bidirectional formatting characters that make a path read
// differently in a log or a terminal than it is on disk, and lone surrogates (with `u`, a pair is
// one code point): written to disk they become U+FFFD, another name than the one declared.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/u;
const CONTROL_ALL = new RegExp(CONTROL.source, 'gu');

/**
 * Quotes a declared directory for a message: JSON-quoted, every control or bidirectional
 * formatting character as a `\uXXXX` escape, cut to a readable length.
 */
export function quoteRepoDirectory(directory: string): string {
  const text = String(directory);
  // a cut through a surrogate pair leaves a lone surrogate, which JSON.stringify escapes
  const cut = text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
  return JSON.stringify(cut).replace(CONTROL_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The canonical form of a declared package directory: no leading `./` or `/`, no empty or `.`
 * segments, no trailing `/`; `''` is the repository root. Only meaningful for a directory
 * `repoDirectoryProblem` accepts (it does not resolve `..`).
 */
export function normalizeRepoDirectory(directory: string): string {
  return directory
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.')
    .join('/');
}

/**
 * Why a package directory declared by a registry (e.g. npm `repository.directory`) is unacceptable
 * as a path inside a repository, or undefined when it is acceptable (`''` and `.` mean the root).
 */
export function repoDirectoryProblem(directory: string): string | undefined {
  if (typeof directory !== 'string') return `repository directory is a ${typeof directory}, not a string`;
  const quoted = quoteRepoDirectory(directory);
  if (directory.length > MAX_REPO_DIRECTORY_CHARS) return `repository directory ${quoted} is over ${MAX_REPO_DIRECTORY_CHARS} characters`;
  if (CONTROL.test(directory)) return `repository directory ${quoted} contains control or formatting characters`;
  if (directory.includes('\\')) return `repository directory ${quoted} contains a backslash`;
  if (/^[A-Za-z]:/.test(directory)) return `repository directory ${quoted} starts with a drive letter`;
  if (directory.startsWith('/')) return `repository directory ${quoted} is an absolute path`;
  const segments = normalizeRepoDirectory(directory)
    .split('/')
    .filter((s) => s !== '');
  if (segments.includes('..')) return `repository directory ${quoted} leaves the repository (..)`;
  // case-insensitive: the same checkout may land on a case-insensitive file system
  if (segments.some((s) => s.toLowerCase() === '.git')) return `repository directory ${quoted} is inside .git`;
  if (segments.length > MAX_REPO_DIRECTORY_SEGMENTS) return `repository directory ${quoted} has over ${MAX_REPO_DIRECTORY_SEGMENTS} segments`;
  return undefined;
}
