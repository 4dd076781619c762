import { terminalSafe } from '@quorum/core';
import type { ArtifactDiff, ChangedFile, DiffFile, MetadataChange } from './diff-archive.js';

/**
 * Multi-line text (a unified diff) with the characters a terminal would act on written as escapes
 * (`\r`, `\u001b`, `\u202e`), newlines and tabs kept: terminalSafe of @quorum/core, so a hostile
 * file cannot hide or reorder lines of the report.
 */
export function escapeForTerminal(text: string): string {
  return terminalSafe(text, { multiline: true });
}

/** A path or label on one line: escaped, and also without newlines or tabs. */
function name(s: string): string {
  return terminalSafe(s).replace(/\t/g, '\\t');
}

function bytes(n: number): string {
  return n === 1 ? '1 byte' : `${n} bytes`;
}

function fileLine(mark: string, f: DiffFile): string {
  const what = f.type === 'file' ? `file  ${bytes(f.size)}  sha256 ${f.sha256}` : f.target !== undefined ? `${f.type} → ${JSON.stringify(f.target)}` : f.type;
  return `  ${mark} ${name(f.path)}  ${name(what)}`;
}

function changedLine(c: ChangedFile): string {
  const parts = [`  ~ ${name(c.path)}`, c.kind];
  if (c.kind === 'type') {
    // the note names both types and targets
  } else if (c.kind === 'text') {
    parts.push(`${bytes(c.a.size)} → ${bytes(c.b.size)}`);
  } else {
    parts.push(`${bytes(c.a.size)} → ${bytes(c.b.size)}`, `sha256 ${c.a.sha256} → ${c.b.sha256}`);
  }
  if (c.note !== undefined) parts.push(`(${name(c.note)})`);
  return parts.join('  ');
}

function metaValue(field: string, v: string | number): string {
  if (field === 'mtime' && typeof v === 'number' && Math.abs(v) < 8.64e12) {
    return `${v} (${new Date(v * 1000).toISOString().replace('.000Z', 'Z')})`;
  }
  return typeof v === 'number' || field === 'mode' ? String(v) : JSON.stringify(v);
}

function metadataLine(m: MetadataChange): string {
  const fields = m.fields.map((f) => `${f.name} ${metaValue(f.name, f.a)} → ${metaValue(f.name, f.b)}`);
  return `  ${name(m.path)}  ${name(fields.join(', '))}`;
}

function summary(d: ArtifactDiff): string {
  if (d.identical) return 'identical: the raw bytes are the same';
  const counts = [`${d.added.length} added`, `${d.removed.length} removed`, `${d.changed.length} changed`, `${d.metadataOnly.length} metadata-only`].join(', ');
  if (d.sameContent) return `same content, different archive: ${counts}`;
  return `content differs: ${counts}`;
}

/**
 * A human-readable report of an artifact diff: the two artifacts, a summary line, the archive-level
 * differences, the added/removed/changed/metadata-only lists, then the unified diffs. Characters a
 * terminal would act on are escaped (see escapeForTerminal).
 */
export function renderDiff(diff: ArtifactDiff): string {
  const out: string[] = [];
  const side = (k: 'a' | 'b'): string => {
    const s = diff[k];
    return `${k}: ${name(s.label)}  sha256 ${s.sha256}  ${s.entries} ${s.entries === 1 ? 'entry' : 'entries'}`;
  };
  out.push(side('a'), side('b'), summary(diff));
  if (!diff.identical) {
    out.push(diff.archive.length > 0 ? `archive differs in: ${diff.archive.join(', ')}` : 'archive: no difference besides the files below');
  }
  if (diff.truncated) out.push('truncated: some diff text was left out to stay within the caps (see the notes below)');
  const section = (title: string, lines: string[]): void => {
    if (lines.length === 0) return;
    out.push('', `${title} (${lines.length}):`, ...lines);
  };
  section(
    'added',
    diff.added.map((f) => fileLine('+', f)),
  );
  section(
    'removed',
    diff.removed.map((f) => fileLine('-', f)),
  );
  section('changed', diff.changed.map(changedLine));
  section('metadata only', diff.metadataOnly.map(metadataLine));
  // each entry so far is one line; a diff served by a coordinator is untyped input, so any field
  // (digests, kinds, archive names) may hold a newline or control character: escape them all
  const report = out.map((line) => terminalSafe(line));
  const patches = diff.changed.filter((c) => c.unified !== undefined);
  for (const c of patches) report.push('', escapeForTerminal(c.unified!).replace(/\n$/, ''));
  return `${report.join('\n')}\n`;
}
