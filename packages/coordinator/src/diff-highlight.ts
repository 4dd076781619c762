/**
 * Syntax colouring of a unified diff, on the server. Each side of a hunk (context and removed lines;
 * context and added lines) is highlighted as one text, so a comment or a string spanning lines is
 * coloured as the file has it, then split back into lines. highlight.js escapes every character of
 * the text it is given; the markup that comes back is its own `<span class="hljs-…">` and nothing else.
 */
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { terminalSafe } from '@quorum/core';

hljs.registerLanguage('bash', bash);
hljs.registerLanguage('css', css);
hljs.registerLanguage('javascript', javascript);
hljs.registerLanguage('json', json);
hljs.registerLanguage('markdown', markdown);
hljs.registerLanguage('typescript', typescript);
hljs.registerLanguage('xml', xml);
hljs.registerLanguage('yaml', yaml);

const BY_EXTENSION: Record<string, string> = {
  js: 'javascript',
  cjs: 'javascript',
  mjs: 'javascript',
  jsx: 'javascript',
  ts: 'typescript',
  cts: 'typescript',
  mts: 'typescript',
  tsx: 'typescript',
  json: 'json',
  map: 'json',
  css: 'css',
  html: 'xml',
  htm: 'xml',
  xml: 'xml',
  svg: 'xml',
  md: 'markdown',
  markdown: 'markdown',
  yml: 'yaml',
  yaml: 'yaml',
  sh: 'bash',
};

/** Diffs larger than this are shown uncoloured: colouring is for reading, and nobody reads that much. */
const MAX_HIGHLIGHTED_CHARS = 256 * 1024;

/** The language a path's extension names, when the dashboard colours it. */
export function languageOf(path: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return ext ? BY_EXTENSION[ext] : undefined;
}

/** One line of a unified diff, ready to show: its kind, its marker and its text as safe HTML. */
export interface DiffLine {
  kind: 'file' | 'hunk' | 'add' | 'del' | 'ctx';
  html: string;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');

/** Splits highlighted HTML at newlines; spans open at a line's end are closed there and reopened on the next. */
function splitLines(highlighted: string): string[] {
  const lines: string[] = [];
  const open: string[] = [];
  let current = '';
  for (const part of highlighted.split(/(<span [^>]*>|<\/span>|\n)/)) {
    if (part === '\n') {
      lines.push(current + '</span>'.repeat(open.length));
      current = open.join('');
    } else if (part.startsWith('<span ')) {
      open.push(part);
      current += part;
    } else if (part === '</span>') {
      open.pop();
      current += part;
    } else current += part;
  }
  lines.push(current + '</span>'.repeat(open.length));
  return lines;
}

function highlightSide(lines: string[], language: string | undefined): string[] {
  const text = lines.join('\n');
  if (!language) return lines.map(escapeHtml);
  try {
    const out = splitLines(hljs.highlight(text, { language, ignoreIllegals: true }).value);
    return out.length === lines.length ? out : lines.map(escapeHtml);
  } catch {
    return lines.map(escapeHtml);
  }
}

/**
 * A unified diff's lines, each with its kind and its text as HTML, coloured by the language of
 * `path`. Control and bidi characters are shown as escapes before anything else happens to the text.
 */
export function diffLines(unified: string, path: string): DiffLine[] {
  const raw = unified.split('\n').map((l) => terminalSafe(l));
  const language = unified.length <= MAX_HIGHLIGHTED_CHARS ? languageOf(path) : undefined;
  const kinds: DiffLine['kind'][] = [];
  let inHunk = false;
  for (const l of raw) {
    if (l.startsWith('@@')) inHunk = true;
    // `---`/`+++` name the files only before the first hunk: inside one, `++i` is an added line
    kinds.push(l.startsWith('@@') ? 'hunk' : !inHunk && (l.startsWith('+++') || l.startsWith('---')) ? 'file' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : 'ctx');
  }
  const out: DiffLine[] = raw.map((l, i) => ({ kind: kinds[i]!, html: escapeHtml(l) }));
  // each hunk's old side (context and removed) and new side (context and added), highlighted whole
  for (let start = 0; start < raw.length;) {
    if (kinds[start] !== 'hunk') {
      start++;
      continue;
    }
    let end = start + 1;
    while (end < raw.length && kinds[end] !== 'hunk' && kinds[end] !== 'file') end++;
    for (const side of ['del', 'add'] as const) {
      const at: number[] = [];
      for (let i = start + 1; i < end; i++) if ((kinds[i] === 'ctx' && !raw[i]!.startsWith('\\')) || kinds[i] === side) at.push(i);
      const coloured = highlightSide(
        at.map((i) => raw[i]!.slice(1)),
        language,
      );
      at.forEach((i, k) => {
        // a context line is taken from the new side, as it reads after the change
        if (side === 'add' || kinds[i] === 'del') out[i] = { kind: kinds[i]!, html: escapeHtml(raw[i]!.slice(0, 1)) + coloured[k]! };
      });
    }
    start = end;
  }
  return out;
}
