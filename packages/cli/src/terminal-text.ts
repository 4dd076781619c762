import { StringDecoder } from 'node:string_decoder';
import { terminalSafe, type TerminalSafeOptions } from '@quorum/core';

export type { TerminalSafeOptions } from '@quorum/core';

/**
 * Text from the coordinator, a build or a file, made safe to print: control characters, DEL, C1
 * controls, bidi formatting characters and lone surrogates become visible JSON-style escapes
 * (`\u001b`, `\u202e`, `\r`); `\n` is kept only with `multiline`. Same as `terminalSafe` of @quorum/core.
 */
export const safeText: (text: string, options?: TerminalSafeOptions) => string = terminalSafe;

/**
 * Pretty JSON (two-space indent) for the CLI's `--json` outputs: JSON.stringify escapes U+0000–U+001F
 * and lone surrogates itself; DEL, C1 controls and the bidi and separator characters are written as
 * `\uXXXX` too. Still valid JSON with the same parsed value, since those characters can only stand
 * inside strings, never right after a backslash.
 */
export function safeJson(value: unknown): string {
  return safeText(JSON.stringify(value, null, 2) ?? 'null', { multiline: true });
}

/**
 * Turns a UTF-8 byte stream into terminal-safe multi-line text chunk by chunk, for streaming a build
 * log: a multi-byte character split between two chunks is held back until it is whole. Invalid
 * UTF-8 becomes U+FFFD (the raw bytes are for `quorum logs --raw`).
 */
export class SafeTextDecoder {
  private readonly decoder = new StringDecoder('utf8');

  /** The escaped text of the next chunk; may be empty while a character is incomplete. */
  write(chunk: Uint8Array): string {
    return safeText(this.decoder.write(chunk), { multiline: true });
  }

  /** The escaped rest at the end of the stream (an unfinished character becomes U+FFFD). */
  end(): string {
    return safeText(this.decoder.end(), { multiline: true });
  }
}
