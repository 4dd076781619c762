import { describe, expect, it } from 'vitest';
import type { ArtifactDiff } from './diff-archive.js';
import { escapeForTerminal, renderDiff } from './render-diff.js';

/** Every character class a terminal acts on: ESC (OSC title, clear screen), C1 CSI, DEL, backspace, CR, RLO, an isolate, a lone surrogate. */
const HOSTILE = '\x1b]0;pwned\x07\x1b[2J\x9b1A\x7f\b\r\u202e\u2066\ud800';
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|[\ud800-\udfff]/u;

/** A diff as a compromised coordinator could serve it: every string field hostile, one with a newline. */
function servedDiff(): ArtifactDiff {
  const side = (label: string) => ({ label: `${label}${HOSTILE}`, sha256: `ab${HOSTILE}\nfake: line`, stabilizedSha256: 'x', entries: 1 });
  return {
    v: 1,
    a: side('published'),
    b: side('rebuild'),
    identical: false,
    sameContent: false,
    added: [{ path: `package/x${HOSTILE}\n+ package/ok.js`, type: `file${HOSTILE}`, size: 1, sha256: HOSTILE }],
    removed: [],
    changed: [
      {
        path: `package/index.js${HOSTILE}`,
        kind: `text${HOSTILE}\n` as 'text',
        a: { size: 1, sha256: HOSTILE, type: 'file' },
        b: { size: 2, sha256: HOSTILE, type: 'file' },
        unified: `--- a/package/index.js\n+++ b/package/index.js\n@@ -1 +1 @@\n-a\n+b${HOSTILE}\n`,
        note: HOSTILE,
      },
    ],
    metadataOnly: [{ path: `package/m${HOSTILE}`, fields: [{ name: 'uname', a: HOSTILE, b: 'root' }] }],
    archive: [`tar-times${HOSTILE}\nALL CLEAR`],
    truncated: false,
  };
}

describe('renderDiff of a served diff', () => {
  it('prints no raw control, bidi or surrogate character from any field', () => {
    const text = renderDiff(servedDiff());
    expect(text).not.toMatch(RAW);
    expect(text).toContain('\\u001b]0;pwned\\u0007\\u001b[2J\\u009b1A\\u007f\\b\\r\\u202e\\u2066\\ud800');
  });

  it('keeps every field on its own line, so a newline in a field cannot forge a line', () => {
    const lines = renderDiff(servedDiff()).split('\n');
    expect(lines.some((l) => l.startsWith('fake: line') || l.startsWith('ALL CLEAR') || l.startsWith('+ package/ok.js'))).toBe(false);
    expect(lines).toContain(`archive differs in: tar-times${escapeForTerminal(HOSTILE)}\\nALL CLEAR`);
  });

  it('keeps the lines of a unified diff and escapes what is in them', () => {
    const text = renderDiff(servedDiff());
    expect(text).toContain('@@ -1 +1 @@\n-a\n+b\\u001b]0;pwned');
  });
});

describe('escapeForTerminal', () => {
  it('keeps newlines and tabs and writes controls as JSON-style escapes', () => {
    expect(escapeForTerminal('a\tb\nc\x1bd\u202e')).toBe('a\tb\nc\\u001bd\\u202e');
  });
});
