/** Options of terminalSafe. */
export interface TerminalSafeOptions {
  /** keep `\n` as a line break (logs, diffs); otherwise it is shown as the two characters `\n` @defaultValue false */
  multiline?: boolean;
}

/**
 * Characters a terminal acts on instead of showing, or that make text read differently from what
 * it is: C0 controls (tab is never matched, newline is let through in multiline mode), DEL, C1
 * controls (U+009B is a one-byte CSI), the bidirectional marks, embeddings, overrides and isolates
 * ("Trojan Source"), the Unicode line and paragraph separators, and lone surrogates (not text at
 * all; an encoder would silently turn them into U+FFFD). With the `u` flag a surrogate pair is one
 * code point, so only unpaired halves match the surrogate range.
 */
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/gu;

/** The short escapes JSON uses; every other character is written `\uXXXX`, as JSON.stringify does. */
const SHORT: Readonly<Record<string, string>> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r' };

function escapeChar(c: string): string {
  return SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * Text made safe to print on a terminal: C0 controls but tab, DEL, C1 controls, bidi formatting
 * characters, U+2028/U+2029 and lone surrogates are written as the escape JSON.stringify would use
 * for them (`\u001b`, `\u009b`, `\u202e`, `\r`, `\b`; `\n` unless multiline), everything else is unchanged. The result contains none of these
 * characters, so applying it again changes nothing. Backslashes are not doubled: a literal `\u001b`
 * in the input looks like an escaped ESC, but no control character ever reaches the terminal.
 * Non-strings (from untyped JSON) are converted with String() first.
 */
export function terminalSafe(text: string, options: TerminalSafeOptions = {}): string {
  const s = typeof text === 'string' ? text : String(text);
  const multiline = options.multiline === true;
  return s.replace(UNSAFE, (c) => (multiline && c === '\n' ? c : escapeChar(c)));
}
