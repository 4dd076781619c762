/**
 * yarn 1's lockfile syntax, read as yarn 1 itself reads it (its `src/lockfile/parse.js`: the same
 * tokens, the same indentation rules, the same quirks), in one pass over the text. The grammar
 * `@yarnpkg/parsers` has for it backtracks and builds arrays per character: about half a second per
 * MiB for an honest lockfile and several times that for a hostile one, all of it blocking the worker's
 * event loop; this reader takes about a tenth of that, most of it building the mappings, and stops at
 * {@link MAX_YARN_V1_KEYS}.
 *
 * Values are strings, numbers, booleans or mappings (objects without a prototype, so a key such as
 * `__proto__` is a key like any other); several keys before one value share it. Text yarn 1 refuses
 * is a `SyntaxError`.
 */

/** How deep mappings may nest (`a:` opens one, on the same line too): real lockfiles nest three deep. */
const MAX_DEPTH = 64;

/**
 * Most keys read, at every level together (each of several keys before one value counts): what a
 * hostile text of only short keys costs is the keys it makes. A yarn.lock of 12 MiB as yarn writes it
 * has about 300,000; real ones, a tenth of that.
 * @defaultValue 400,000
 */
export const MAX_YARN_V1_KEYS = 400_000;

type Kind = 'newline' | 'indent' | 'string' | 'number' | 'boolean' | 'colon' | 'comma' | 'eof';

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HASH = 0x23;
const COLON = 0x3a;
const COMMA = 0x2c;

/** yarn 1's comment that names the lockfile's version; a newer one is refused, as yarn 1 refuses it. */
const VERSION_COMMENT = /^yarn lockfile v(\d+)$/;

/** yarn 1's tokenizer, one token at a time. */
class Tokens {
  kind: Kind = 'eof';
  value: string | number | boolean | undefined;
  line = 1;
  private at = 0;
  /** whether the text last consumed began a line (yarn's `lastNewline`): spaces after it are an indent */
  private lastNewline = false;

  constructor(private readonly text: string) {}

  /** Moves to the next token; comments are skipped as yarn's parser skips them. */
  next(): void {
    const t = this.text;
    for (;;) {
      const i = this.at;
      if (i >= t.length) {
        this.set('eof', undefined);
        return;
      }
      const c = t.charCodeAt(i);
      if (c === LF || c === CR) {
        // yarn chops a second character whenever it is a line feed (so `\n\n` is one newline)
        this.at = i + (t.charCodeAt(i + 1) === LF ? 2 : 1);
        this.lastNewline = c === LF || t.charCodeAt(i + 1) === LF;
        this.line++;
        this.set('newline', undefined);
        return;
      }
      const afterNewline = this.lastNewline;
      this.lastNewline = false;
      if (c === HASH) {
        const end = t.indexOf('\n', i);
        const comment = t.slice(i + 1, end < 0 ? t.length : end).trim();
        const version = VERSION_COMMENT.exec(comment);
        if (version && Number(version[1]) > 1) throw new SyntaxError(`a yarn lockfile of version ${version[1]} is not yarn 1's`);
        this.at = end < 0 ? t.length : end;
        continue;
      }
      if (c === SPACE) {
        if (!afterNewline) {
          this.at = i + 1;
          continue;
        }
        let j = i;
        while (t.charCodeAt(j) === SPACE) j++;
        if ((j - i) % 2 !== 0) throw new SyntaxError(`invalid number of spaces on line ${this.line}`);
        this.at = j;
        this.set('indent', (j - i) / 2);
        return;
      }
      if (c === QUOTE) {
        const end = closingQuote(t, i);
        if (end < 0) throw new SyntaxError(`unterminated string on line ${this.line}`);
        let value: unknown = t.slice(i + 1, end);
        // JSON's rules, as yarn reads a string; only escapes and control characters need JSON.parse
        if (/[\\\u0000-\u001f]/.test(value as string)) {
          try {
            value = JSON.parse(t.slice(i, end + 1));
          } catch {
            throw new SyntaxError(`invalid string on line ${this.line}`);
          }
        }
        this.at = end + 1;
        this.set('string', value as string);
        return;
      }
      if (c >= 0x30 && c <= 0x39) {
        let j = i;
        while (j < t.length && t.charCodeAt(j) >= 0x30 && t.charCodeAt(j) <= 0x39) j++;
        this.at = j;
        this.set('number', Number(t.slice(i, j)));
        return;
      }
      if (t.startsWith('true', i)) {
        this.at = i + 4;
        this.set('boolean', true);
        return;
      }
      if (t.startsWith('false', i)) {
        this.at = i + 5;
        this.set('boolean', false);
        return;
      }
      if (c === COLON || c === COMMA) {
        this.at = i + 1;
        this.set(c === COLON ? 'colon' : 'comma', undefined);
        return;
      }
      if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2f || c === 0x2d) {
        // an unquoted string runs to a colon, a space, a line end or a comma
        let j = i + 1;
        for (; j < t.length; j++) {
          const d = t.charCodeAt(j);
          if (d === COLON || d === SPACE || d === LF || d === CR || d === COMMA) break;
        }
        this.at = j;
        this.set('string', t.slice(i, j));
        return;
      }
      throw new SyntaxError(`unexpected character on line ${this.line}`);
    }
  }

  /** The current token's kind (a method, so that a check before `next()` does not narrow it after). */
  is(kind: Kind): boolean {
    return this.kind === kind;
  }

  private set(kind: Kind, value: string | number | boolean | undefined): void {
    this.kind = kind;
    this.value = value;
  }
}

/**
 * Where the string opened at `start` ends, by yarn's rule: the first `"` not escaped, where escaped
 * means a backslash before it that has no backslash before itself. -1 when none does.
 */
function closingQuote(t: string, start: number): number {
  for (let j = t.indexOf('"', start + 1); j >= 0; j = t.indexOf('"', j + 1)) {
    const escaped = t.charCodeAt(j - 1) === BACKSLASH && !(j - 2 > start && t.charCodeAt(j - 2) === BACKSLASH);
    if (!escaped) return j;
  }
  return -1;
}

/** yarn 1's parser: a mapping at one indentation level. */
function parseLevel(tokens: Tokens, indent: number, keysLeft: { n: number }): Record<string, unknown> {
  if (indent > MAX_DEPTH) throw new SyntaxError('the lockfile nests deeper than any lockfile does');
  const obj = Object.create(null) as Record<string, unknown>;
  for (;;) {
    const kind = tokens.kind;
    if (kind === 'newline') {
      tokens.next();
      // at the top level the next token does not matter
      if (indent === 0) continue;
      // no indentation, or less than this level's: the mapping ends
      if (!tokens.is('indent') || tokens.value !== indent) break;
      tokens.next();
    } else if (kind === 'indent') {
      if (tokens.value !== indent) break;
      tokens.next();
    } else if (kind === 'eof') {
      break;
    } else if (kind === 'string') {
      const keys = [tokens.value as string];
      if (!keys[0]) throw new SyntaxError(`empty key on line ${tokens.line}`);
      if (--keysLeft.n < 0) throw new TooManyKeys();
      tokens.next();
      while (tokens.is('comma')) {
        tokens.next();
        if (!tokens.is('string') || !tokens.value) throw new SyntaxError(`expected a key on line ${tokens.line}`);
        if (--keysLeft.n < 0) throw new TooManyKeys();
        keys.push(tokens.value as string);
        tokens.next();
      }
      if (tokens.is('colon')) {
        tokens.next();
        const value = parseLevel(tokens, indent + 1, keysLeft);
        for (const key of keys) obj[key] = value;
        if (indent > 0 && !tokens.is('indent')) break;
      } else if (tokens.is('string') || tokens.is('number') || tokens.is('boolean')) {
        for (const key of keys) obj[key] = tokens.value;
        tokens.next();
      } else {
        throw new SyntaxError(`invalid value on line ${tokens.line}`);
      }
    } else {
      throw new SyntaxError(`unexpected ${kind} on line ${tokens.line}`);
    }
  }
  return obj;
}

/** More keys than {@link MAX_YARN_V1_KEYS}: not a syntax error, a lockfile too large to read. */
export class TooManyKeys extends Error {
  constructor() {
    super(`the yarn lockfile has more than ${MAX_YARN_V1_KEYS} keys, more than this farm reads of one`);
    this.name = 'TooManyKeys';
  }
}

/**
 * Parses a yarn 1 lockfile's text into its top-level mapping; `SyntaxError` when yarn 1 would refuse
 * it, `TooManyKeys` past {@link MAX_YARN_V1_KEYS}.
 */
export function parseYarnV1(text: string): Record<string, unknown> {
  const tokens = new Tokens(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  tokens.next();
  return parseLevel(tokens, 0, { n: MAX_YARN_V1_KEYS });
}
