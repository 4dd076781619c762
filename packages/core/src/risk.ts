import type { Static } from 'typebox';
import { RISK_LEVELS, type RiskFlagSchema, RiskLevelSchema, RiskSummarySchema } from './api-schemas.js';
/**
 * The risk summary of a `mismatch`: how dangerous the difference between the rebuilt and the
 * published artifact is, computed by the ecosystem's builder from the file-level difference. The
 * types here name no ecosystem and no artifact format.
 */

/** Which artifact of a mismatch something belongs to. */
export type ArtifactSide = 'published' | 'rebuilt';

/** How dangerous a difference is, most dangerous first in RISK_LEVELS' reverse. */
export type RiskLevel = Static<typeof RiskLevelSchema>;

/** The levels from least to most dangerous. */

/** Paths listed per kind of difference in a summary; the count is always complete. @defaultValue 20 */
export const RISK_PATHS_SHOWN = 20;

/** Longest path kept in a summary's lists (longer ones are cut with `…`). @defaultValue 512 characters */
export const RISK_MAX_PATH_CHARS = 512;

/** Most flags a summary carries. @defaultValue 20 */
export const RISK_MAX_FLAGS = 20;

/** Longest summary sentence or flag message. @defaultValue 600 characters */
export const RISK_MAX_TEXT_CHARS = 600;

/** Largest entry content a risk assessment may read from an artifact. @defaultValue 256 KiB */
export const MAX_RISK_TEXT_BYTES = 256 * 1024;

/** One entry that differs, as the assessment sees it. */
export interface DifferingEntry {
  /** normalized archive path */
  path: string;
  /** entry type as the artifact's format names it (`file`, `directory`, `symlink`, `hardlink`, …) */
  type: string;
}

/** What reading one small entry of an artifact gave. */
export type EntryText =
  | { kind: 'text'; text: string }
  | { kind: 'absent' }
  /** present, but not a regular file, larger than the bound, or not text */
  | { kind: 'unreadable'; reason: string };

/**
 * The file-level difference between the rebuilt and the published artifact of a mismatch, as a
 * builder's `assessRisk` reads it. Lists are sorted by path.
 */
export interface FileDifference {
  /** entries only the published artifact has (what it has beyond its source) */
  onlyPublished: readonly DifferingEntry[];
  /** entries only the rebuilt artifact has */
  onlyRebuilt: readonly DifferingEntry[];
  /** entries on both sides whose content, type or link target differs (`type` is the published side's) */
  changed: readonly DifferingEntry[];
  /** entries with the same content whose execute permission differs */
  modeChanged: readonly DifferingEntry[];
  /**
   * The text of one entry on one side: at most MAX_RISK_TEXT_BYTES, checked against the content the
   * diff saw. An entry that is equal on both sides can be read from either.
   */
  readText(side: ArtifactSide, path: string): Promise<EntryText>;
}

/** A reason for the level: a builder-defined code and one bounded sentence. */
export type RiskFlag = Static<typeof RiskFlagSchema>;

/** How many paths differ in one way, and the first RISK_PATHS_SHOWN of them. */
export interface RiskPathList {
  count: number;
  paths: string[];
}

/** What a mismatch's difference amounts to; carried by the verdict and its signed VSA. */
export type RiskSummary = Static<typeof RiskSummarySchema>;

/** The more dangerous of two levels. */
export function maxRiskLevel(a: RiskLevel, b: RiskLevel): RiskLevel {
  return RISK_LEVELS.indexOf(a) >= RISK_LEVELS.indexOf(b) ? a : b;
}

/** Cuts text to `max` characters with `…` (never between the halves of a surrogate pair). */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** The count and the first `shown` paths of a list, each cut to RISK_MAX_PATH_CHARS. */
export function riskPathList(paths: readonly string[], shown = RISK_PATHS_SHOWN): RiskPathList {
  return { count: paths.length, paths: paths.slice(0, shown).map((p) => cutText(p, RISK_MAX_PATH_CHARS)) };
}

/** A JSON object (not null, not an array): what an untrusted document's tables and maps must be before they are read. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function pathListProblems(v: unknown, at: string): string[] {
  if (!isObject(v)) return [`${at} must be an object`];
  const problems: string[] = [];
  if (!Number.isSafeInteger(v.count) || (v.count as number) < 0) problems.push(`${at}.count must be a non-negative integer`);
  if (!Array.isArray(v.paths) || !v.paths.every((p) => typeof p === 'string' && p.length <= RISK_MAX_PATH_CHARS))
    problems.push(`${at}.paths must be an array of strings of at most ${RISK_MAX_PATH_CHARS} characters`);
  else if (v.paths.length > RISK_PATHS_SHOWN || (Number.isSafeInteger(v.count) && v.paths.length > (v.count as number))) problems.push(`${at}.paths lists more paths than allowed`);
  return problems;
}

/** What is wrong with a value as a RiskSummary (empty = valid): levels, bounded lists and texts. */
export function riskSummaryProblems(v: unknown, at = 'risk'): string[] {
  if (!isObject(v)) return [`${at} must be an object`];
  const problems: string[] = [];
  if (!RISK_LEVELS.includes(v.level as RiskLevel)) problems.push(`${at}.level must be one of ${RISK_LEVELS.join(', ')}`);
  if (typeof v.text !== 'string' || v.text === '' || v.text.length > RISK_MAX_TEXT_CHARS) problems.push(`${at}.text must be a non-empty string of at most ${RISK_MAX_TEXT_CHARS} characters`);
  for (const key of ['onlyPublished', 'onlyRebuilt', 'changed', 'modeChanged'] as const) problems.push(...pathListProblems(v[key], `${at}.${key}`));
  if (!Array.isArray(v.flags) || v.flags.length > RISK_MAX_FLAGS) {
    problems.push(`${at}.flags must be an array of at most ${RISK_MAX_FLAGS} flags`);
  } else {
    v.flags.forEach((f: unknown, i) => {
      const p = `${at}.flags[${i}]`;
      if (!isObject(f)) return void problems.push(`${p} must be an object`);
      if (typeof f.code !== 'string' || f.code === '' || f.code.length > 64) problems.push(`${p}.code must be a non-empty string of at most 64 characters`);
      if (!RISK_LEVELS.includes(f.level as RiskLevel)) problems.push(`${p}.level must be one of ${RISK_LEVELS.join(', ')}`);
      if (typeof f.message !== 'string' || f.message.length > RISK_MAX_TEXT_CHARS) problems.push(`${p}.message must be a string of at most ${RISK_MAX_TEXT_CHARS} characters`);
    });
  }
  return problems;
}

/** The summary sentence without its leading `<level> risk: `, for views that show the level apart. */
export function riskDetail(summary: Pick<RiskSummary, 'level' | 'text'>): string {
  const prefix = `${summary.level} risk: `;
  return summary.text.startsWith(prefix) ? summary.text.slice(prefix.length) : summary.text;
}

/** What a kind of file in an artifact is to whoever installs it, for `assessByKind`. */
export interface RiskKind {
  code: string;
  level: RiskLevel;
  /** singular and plural */
  noun: readonly [string, string];
}

/**
 * The risk summary of a file-level difference where each path's kind alone decides its risk (an
 * ecosystem whose artifacts run nothing at install): one flag per kind and side of the difference,
 * highest first; `low` kinds are only named in the text. `artifact` names the artifact (`zip`, `crate`).
 */
export function assessByKind(diff: FileDifference, kinds: readonly RiskKind[], kindOf: (path: string) => RiskKind, artifact: string): RiskSummary {
  const words = { onlyPublished: `only in the published ${artifact}`, onlyRebuilt: `missing from the published ${artifact}`, changed: 'changed' } as const;
  const flags: RiskFlag[] = [];
  const notes: string[] = [];
  for (const change of ['onlyPublished', 'onlyRebuilt', 'changed'] as const) {
    const byKind = new Map<RiskKind, string[]>();
    for (const e of diff[change]) {
      if (e.type === 'directory') continue;
      const k = kindOf(e.path);
      byKind.set(k, [...(byKind.get(k) ?? []), e.path]);
    }
    for (const k of kinds) {
      const paths = byKind.get(k);
      if (!paths) continue;
      const shown = paths.slice(0, 3).join(', ') + (paths.length > 3 ? `, … (${paths.length} in all)` : '');
      const message = `${paths.length} ${k.noun[paths.length === 1 ? 0 : 1]} ${words[change]}: ${shown}`;
      if (k.level === 'low') notes.push(message);
      else flags.push({ code: k.code, level: k.level, message: message.slice(0, RISK_MAX_TEXT_CHARS) });
    }
  }
  flags.sort((a, b) => (a.level === b.level ? 0 : maxRiskLevel(a.level, b.level) === a.level ? -1 : 1));
  const kept =
    flags.length > RISK_MAX_FLAGS
      ? [...flags.slice(0, RISK_MAX_FLAGS - 1), { code: 'more', level: flags[RISK_MAX_FLAGS - 1]!.level, message: `${flags.length - RISK_MAX_FLAGS + 1} more reasons` }]
      : flags;
  const nothing = diff.onlyPublished.length + diff.onlyRebuilt.length + diff.changed.length === 0;
  const level: RiskLevel = nothing ? 'medium' : kept.map((f) => f.level).reduce(maxRiskLevel, 'low');
  const text = nothing
    ? 'medium risk: the file-level diff lists no difference to assess'
    : kept.length === 0
      ? `low risk: only documentation differs (${notes.join('; ')})`.slice(0, RISK_MAX_TEXT_CHARS)
      : `${level} risk: ${kept.map((f) => f.message).join('; ')}`.slice(0, RISK_MAX_TEXT_CHARS);
  return {
    level,
    text,
    onlyPublished: riskPathList(diff.onlyPublished.map((e) => e.path)),
    onlyRebuilt: riskPathList(diff.onlyRebuilt.map((e) => e.path)),
    changed: riskPathList(diff.changed.map((e) => e.path)),
    modeChanged: riskPathList(diff.modeChanged.map((e) => e.path)),
    flags: nothing ? [{ code: 'no-difference', level: 'medium', message: 'the file-level diff lists no difference to assess' }] : kept,
  };
}
