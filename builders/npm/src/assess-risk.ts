import {
  isObject,
  RISK_LEVELS,
  RISK_MAX_FLAGS,
  RISK_MAX_TEXT_CHARS,
  cutText,
  maxRiskLevel,
  riskPathList,
  type ArtifactSide,
  type DifferingEntry,
  type FileDifference,
  type RiskFlag,
  type RiskLevel,
  type RiskSummary,
} from '@quorum/core';

/**
 * npm lifecycle scripts that run when a consumer installs the package from its registry tarball.
 * `prepare` is not among them: npm runs it for git and folder installs only (and for the root
 * project), never for a tarball from a registry.
 */
export const NPM_INSTALL_SCRIPTS: readonly string[] = ['preinstall', 'install', 'postinstall'];

/** The directory `npm pack` puts every file under; npm strips the first path segment, whatever it is, when it extracts. */
const ROOT = 'package';
const MANIFEST = `${ROOT}/package.json`;

/** package.json fields that choose which code runs or how it loads: a difference is high risk. */
const ENTRY_FIELDS: ReadonlySet<string> = new Set(['main', 'exports', 'imports', 'bin', 'browser', 'module', 'type', 'gypfile']);

/**
 * package.json fields that choose what a consumer's install fetches and runs: high risk, since the
 * code (and install scripts) of a changed dependency was checked by no builder.
 */
const DEPENDENCY_FIELDS: ReadonlySet<string> = new Set(['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies', 'bundledDependencies']);

/**
 * package.json fields that are documentation or publishing metadata: they change nothing that is
 * installed or run. Fields starting with `_` (written by old npm versions) count too. Every field not
 * named here, in ENTRY_FIELDS or in DEPENDENCY_FIELDS (`engines`, `os`, `types`, `devDependencies`,
 * `sideEffects`, `config`, unknown ones …) is medium.
 */
const METADATA_FIELDS: ReadonlySet<string> = new Set([
  'description',
  'keywords',
  'author',
  'contributors',
  'maintainers',
  'homepage',
  'bugs',
  'repository',
  'license',
  'licenses',
  'funding',
  'readme',
  'readmeFilename',
  'gitHead',
  'version',
  'private',
  'publishConfig',
  'files',
  'man',
  '$schema',
  // settings of development tools, read in the package's own repository only
  'eslintConfig',
  'prettier',
  'jest',
  'nyc',
  'c8',
  'ava',
  'xo',
  'standard',
  'husky',
  'lint-staged',
  'commitlint',
  'mocha',
  'tap',
  'renovate',
  'release',
]);

/** Deepest nesting of a package.json value the comparison walks. */
const MAX_MANIFEST_DEPTH = 64;
/** Most bin or entry-point targets collected from one package.json. */
const MAX_TARGETS = 1000;
/** Paths, names and details shown in one message. */
const SHOWN = 3;
const MAX_NAME_CHARS = 60;
const MAX_PATH_CHARS = 120;

/** A kind of file, by what npm and Node do with it. */
interface FileKind {
  key: string;
  /** what one of them is called, and more than one */
  noun: [one: string, many: string];
  level: RiskLevel;
  code: string;
}

const kind = (key: string, noun: [string, string], level: RiskLevel, code: string): FileKind => ({ key, noun, level, code });
/** In the order their messages appear. */
const KINDS = {
  outside: kind('outside', [`entry outside ${ROOT}/`, `entries outside ${ROOT}/`], 'high', 'outside-root'),
  bin: kind('bin', ['bin target', 'bin targets'], 'high', 'bin-target'),
  nestedManifest: kind('nestedManifest', ['nested package.json', 'nested package.json files'], 'high', 'entry-point'),
  shrinkwrap: kind('shrinkwrap', ['npm-shrinkwrap.json', 'npm-shrinkwrap.json files'], 'high', 'dependencies'),
  entry: kind('entry', ['entry point file', 'entry point files'], 'high', 'entry-point'),
  js: kind('js', ['JavaScript file', 'JavaScript files'], 'high', 'executable-code'),
  addon: kind('addon', ['native addon', 'native addons'], 'high', 'executable-code'),
  nativeLib: kind('nativeLib', ['native library or WebAssembly module', 'native libraries or WebAssembly modules'], 'high', 'executable-code'),
  script: kind('script', ['script', 'scripts'], 'high', 'executable-code'),
  gyp: kind('gyp', ['node-gyp build file', 'node-gyp build files'], 'high', 'native-build'),
  nativeSource: kind('nativeSource', ['C/C++ source file', 'C/C++ source files'], 'medium', 'native-build'),
  types: kind('types', ['TypeScript declaration file', 'TypeScript declaration files'], 'medium', 'types'),
  codeLike: kind('codeLike', ['other code-like file', 'other code-like files'], 'medium', 'code-like'),
  link: kind('link', ['link entry (npm does not install links)', 'link entries (npm does not install links)'], 'medium', 'links'),
  other: kind('other', ['other file', 'other files'], 'medium', 'other-files'),
  doc: kind('doc', ['documentation file', 'documentation files'], 'low', 'documentation'),
  directory: kind('directory', ['directory entry', 'directory entries'], 'low', 'directories'),
} as const;
const KIND_ORDER = Object.keys(KINDS);

const JS = /\.(?:js|cjs|mjs)$/i;
const ADDON = /\.node$/i;
const NATIVE_LIB = /\.(?:so|so\.\d+(?:\.\d+)*|dylib|dll|exe|wasm)$/i;
const SCRIPT = /\.(?:sh|bash|zsh|bat|cmd|ps1|py|pl|rb)$/i;
const GYP = /\.(?:gyp|gypi)$/i;
const NATIVE_SOURCE = /\.(?:c|cc|cpp|cxx|h|hh|hpp|hxx|m|mm)$/i;
const TYPES = /\.d\.(?:ts|mts|cts)$/i;
const CODE_LIKE = /\.(?:ts|mts|cts|tsx|jsx|coffee|vue|svelte|json|json5)$/i;
const DOC_EXT = /\.(?:md|markdown|mdx|txt|rst|adoc|asciidoc)$/i;
const DOC_NAME = /^(?:readme|license|licence|copying|changelog|changes|history|news|authors|contributors|notice|security|code_of_conduct|contributing)(?:[._-].*)?$/i;
const DOC_FILES: ReadonlySet<string> = new Set(['.npmignore', '.gitignore', '.gitattributes', '.editorconfig']);

type Change = 'onlyPublished' | 'onlyRebuilt' | 'changed';
const CHANGE_WORDS: Record<Change, string> = { onlyPublished: 'only in the published tarball', onlyRebuilt: 'only in the rebuild', changed: 'changed' };

/** What a side's package.json is. */
type Manifest = { state: 'ok'; value: Record<string, unknown> } | { state: 'absent' } | { state: 'bad'; why: string };

/** Where bin and entry-point targets point, from both sides' package.json. */
interface Targets {
  files: Set<string>;
  /** directory prefixes (`directories.bin`), with a trailing `/` */
  dirs: string[];
  /** `exports` patterns with one `*`: prefix and suffix */
  patterns: { prefix: string; suffix: string }[];
}
const sideWords = (side: ArtifactSide): string => (side === 'published' ? 'the published tarball' : 'the rebuild');
const name = (s: string): string => cutText(s, MAX_NAME_CHARS);
const counted = (n: number, [one, many]: readonly [string, string]): string => `${n} ${n === 1 ? one : many}`;

/** The path inside the package (what npm installs it as), and whether it lies under `package/`. */
function relOf(path: string): { rel: string; inRoot: boolean } {
  const slash = path.indexOf('/');
  if (slash < 0) return { rel: path, inRoot: path === ROOT || path === '.' };
  return { rel: path.slice(slash + 1), inRoot: path.slice(0, slash) === ROOT };
}

/** A listing of some paths: the first few, then `…`. */
function listed(items: readonly string[], max = SHOWN, cut = MAX_PATH_CHARS): string {
  const shown = items.slice(0, max).map((p) => cutText(p, cut));
  return `${shown.join(', ')}${items.length > max ? ', …' : ''}`;
}

/** Depth of a parsed JSON value, walked without recursion. */
function depthOf(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (d > max) max = d;
    if (d > MAX_MANIFEST_DEPTH) return d;
    if (typeof x === 'object' && x !== null) for (const child of Object.values(x)) stack.push([child, d + 1]);
  }
  return max;
}

async function readManifest(diff: FileDifference, side: ArtifactSide): Promise<Manifest> {
  const read = await diff.readText(side, MANIFEST);
  if (read.kind === 'absent') return { state: 'absent' };
  if (read.kind === 'unreadable') return { state: 'bad', why: `cannot be read (${read.reason})` };
  let value: unknown;
  try {
    // npm strips a byte order mark before parsing, and so do we
    value = JSON.parse(read.text.replace(/^\ufeff/, ''));
  } catch {
    return { state: 'bad', why: 'is not valid JSON' };
  }
  if (!isObject(value)) return { state: 'bad', why: 'is not a JSON object' };
  if (depthOf(value) > MAX_MANIFEST_DEPTH) return { state: 'bad', why: `is nested deeper than ${MAX_MANIFEST_DEPTH} levels` };
  return { state: 'ok', value };
}

/** A package path as npm and Node resolve it from package.json: no `./`, no empty or `.` segments. */
function normalizeTarget(t: string): string {
  return t
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** Adds a package.json path (or a pattern with one `*`) to a target set, within MAX_TARGETS. */
function adder(into: Targets): (t: unknown) => void {
  return (t) => {
    if (typeof t !== 'string' || into.files.size + into.patterns.length >= MAX_TARGETS) return;
    const star = t.indexOf('*');
    if (star >= 0) into.patterns.push({ prefix: normalizeTarget(t.slice(0, star)), suffix: t.slice(star + 1) });
    else if (normalizeTarget(t) !== '') into.files.add(normalizeTarget(t));
  };
}

/** Files npm links as commands: `bin` (a string or a map) and everything under `directories.bin`. */
function collectBins(m: Record<string, unknown>, into: Targets): void {
  const add = adder(into);
  if (typeof m.bin === 'string') add(m.bin);
  else if (isObject(m.bin)) Object.values(m.bin).forEach(add);
  const dirs = m.directories;
  if (isObject(dirs) && typeof dirs.bin === 'string' && normalizeTarget(dirs.bin) !== '') into.dirs.push(`${normalizeTarget(dirs.bin)}/`);
}

/** Files Node or a bundler may load as the package's entry points: `main` (with the extensions Node tries), `exports`, `browser`, `module`. */
function collectEntries(m: Record<string, unknown>, into: Targets): void {
  const add = adder(into);
  if (typeof m.main === 'string') {
    const main = normalizeTarget(m.main);
    for (const t of [main, `${main}.js`, `${main}.json`, `${main}.node`, `${main}/index.js`]) add(t);
  }
  if (typeof m.module === 'string') add(m.module);
  if (typeof m.browser === 'string') add(m.browser);
  else if (isObject(m.browser)) Object.values(m.browser).forEach(add);
  // every string leaf of `exports` (conditions nest), walked without recursion
  const stack: unknown[] = [m.exports];
  let seen = 0;
  while (stack.length > 0 && seen++ < MAX_TARGETS * 4) {
    const v = stack.pop();
    if (typeof v === 'string') add(v);
    else if (typeof v === 'object' && v !== null) for (const child of Object.values(v)) stack.push(child);
  }
}

function matchesTarget(rel: string, t: Targets): boolean {
  if (t.files.has(rel)) return true;
  if (t.dirs.some((d) => rel.startsWith(d))) return true;
  return t.patterns.some((p) => rel.length >= p.prefix.length + p.suffix.length && rel.startsWith(p.prefix) && rel.endsWith(p.suffix));
}

/** What a file is by its name alone. */
function kindByName(rel: string): FileKind {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  if (rel.endsWith('/package.json')) return KINDS.nestedManifest;
  if (rel === 'npm-shrinkwrap.json') return KINDS.shrinkwrap;
  if (JS.test(base)) return KINDS.js;
  if (ADDON.test(base)) return KINDS.addon;
  if (NATIVE_LIB.test(base)) return KINDS.nativeLib;
  if (SCRIPT.test(base)) return KINDS.script;
  if (GYP.test(base)) return KINDS.gyp;
  if (NATIVE_SOURCE.test(base)) return KINDS.nativeSource;
  if (TYPES.test(base)) return KINDS.types;
  if (CODE_LIKE.test(base)) return KINDS.codeLike;
  if (DOC_EXT.test(base) || DOC_NAME.test(base) || DOC_FILES.has(base)) return KINDS.doc;
  return KINDS.other;
}

/**
 * What a differing entry is to npm: where it lies, whether package.json points to it, then its
 * name. npm installs neither links nor entries outside the package directory as such.
 */
function classify(entry: DifferingEntry, bins: Targets, entries: Targets): FileKind {
  const { rel, inRoot } = relOf(entry.path);
  if (!inRoot) return KINDS.outside;
  if (matchesTarget(rel, bins)) return KINDS.bin;
  const byName = kindByName(rel);
  if (byName.level !== 'high' && matchesTarget(rel, entries)) return KINDS.entry;
  if (byName.level === 'high') return byName;
  if (entry.type === 'directory') return KINDS.directory;
  if (entry.type === 'symlink' || entry.type === 'hardlink') return KINDS.link;
  return byName;
}

/** What a low summary says differs, in this order; `true` for the mass nouns (`… differs`). */
const LOW_WHAT = { documentation: true, 'directory entries': false, 'file permissions': false, metadata: true } as const;
type LowWhat = keyof typeof LOW_WHAT;

/** The reasons found so far, and the low-level facts for the text of a low summary. */
class Findings {
  readonly flags: RiskFlag[] = [];
  readonly low = new Map<LowWhat, string[]>();

  note(what: LowWhat, detail: string): void {
    this.low.set(what, [...(this.low.get(what) ?? []), detail]);
  }

  /** How many reasons and notes so far. */
  get size(): number {
    return this.flags.length + [...this.low.values()].reduce((n, l) => n + l.length, 0);
  }

  flag(code: string, level: RiskLevel, message: string): void {
    this.flags.push({ code, level, message: cutText(message, RISK_MAX_TEXT_CHARS) });
  }
}

const json = (v: unknown): string | undefined => (v === undefined ? undefined : JSON.stringify(v));

/** The differences between the dependency maps of one field: `name added`, `name changed`, … */
function dependencyChanges(a: unknown, b: unknown): string[] | undefined {
  if (!isObject(a) && a !== undefined) return undefined;
  if (!isObject(b) && b !== undefined) return undefined;
  const [x, y] = [a ?? {}, b ?? {}];
  const names = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
  const added = names.filter((n) => !(n in x));
  const removed = names.filter((n) => !(n in y));
  const changed = names.filter((n) => n in x && n in y && json(x[n]) !== json(y[n]));
  return [...added.map((n) => `${name(n)} added`), ...removed.map((n) => `${name(n)} removed`), ...changed.map((n) => `${name(n)} changed`)];
}

/** Compares the two package.json files field by field (values in order: `exports` conditions are matched in order). */
function compareManifests(rebuilt: Record<string, unknown>, published: Record<string, unknown>, f: Findings): void {
  const keys = [...new Set([...Object.keys(rebuilt), ...Object.keys(published)])].sort();
  const entry: string[] = [];
  const deps: string[] = [];
  const other: string[] = [];
  const metadata: string[] = [];
  for (const key of keys) {
    const [a, b] = [rebuilt[key], published[key]];
    if (json(a) === json(b)) continue;
    if (key === 'scripts') {
      compareScripts(isObject(a) ? a : {}, isObject(b) ? b : {}, f);
      // a `scripts` that is not an object is no documentation either
      if ((a !== undefined && !isObject(a)) || (b !== undefined && !isObject(b))) other.push(key);
    } else if (key === 'directories') {
      const [da, db] = [isObject(a) ? a : {}, isObject(b) ? b : {}];
      if (json(da.bin) !== json(db.bin)) entry.push('directories.bin');
      if (json({ ...da, bin: undefined }) !== json({ ...db, bin: undefined })) metadata.push('directories');
    } else if (ENTRY_FIELDS.has(key)) {
      entry.push(key);
    } else if (DEPENDENCY_FIELDS.has(key)) {
      const changes = dependencyChanges(a, b);
      // the same names and ranges in another order install the same set
      if (changes === undefined) deps.push(name(key));
      else if (changes.length > 0) deps.push(`${name(key)}: ${listed(changes, 5, MAX_NAME_CHARS + 10)}`);
      else metadata.push(`${key} (order)`);
    } else if (METADATA_FIELDS.has(key) || key.startsWith('_')) {
      metadata.push(key);
    } else {
      other.push(key);
    }
  }
  if (entry.length > 0) f.flag('entry-point', 'high', `entry points changed in package.json (${listed(entry, 10, MAX_NAME_CHARS)})`);
  if (deps.length > 0) f.flag('dependencies', 'high', `dependencies changed in package.json (${deps.slice(0, 5).join('; ')}${deps.length > 5 ? '; …' : ''})`);
  if (other.length > 0) f.flag('manifest-fields', 'medium', `package.json fields ${listed(other, 10, MAX_NAME_CHARS)} changed`);
  if (metadata.length > 0) f.note('metadata', `package.json ${listed(metadata, 10, MAX_NAME_CHARS)} changed`);
}

function compareScripts(rebuilt: Record<string, unknown>, published: Record<string, unknown>, f: Findings): void {
  const names = [...new Set([...Object.keys(rebuilt), ...Object.keys(published)])].sort();
  const others: string[] = [];
  for (const n of NPM_INSTALL_SCRIPTS) {
    const [a, b] = [rebuilt[n], published[n]];
    if (json(a) === json(b)) continue;
    const how = a === undefined ? 'added' : b === undefined ? 'removed' : 'changed';
    f.flag('install-script', 'high', `install script ${n} ${how} in package.json`);
  }
  for (const n of names) {
    if (NPM_INSTALL_SCRIPTS.includes(n) || json(rebuilt[n]) === json(published[n])) continue;
    if (n === 'prepare') f.flag('scripts', 'medium', 'script prepare changed in package.json (npm runs it only when installing from git or a folder)');
    else others.push(name(n));
  }
  if (others.length > 0) f.flag('scripts', 'medium', `script${others.length === 1 ? '' : 's'} ${listed(others, 10, MAX_NAME_CHARS)} changed in package.json`);
}

/** The sentence of a summary: the level, then the reasons at the top levels (or, when low, what differs). */
function summaryText(level: RiskLevel, f: Findings, flags: RiskFlag[]): string {
  if (level !== 'low') return cutText(`${level} risk: ${flags.map((x) => x.message).join('; ')}`, RISK_MAX_TEXT_CHARS);
  const whats = (Object.keys(LOW_WHAT) as LowWhat[]).filter((w) => f.low.has(w));
  if (whats.length === 0) return 'low risk: no file differs in content';
  const what = whats.length === 1 ? `${whats[0]} ${LOW_WHAT[whats[0]!] ? 'differs' : 'differ'}` : `${whats.slice(0, -1).join(', ')} and ${whats[whats.length - 1]} differ`;
  return cutText(`low risk: only ${what} (${whats.flatMap((w) => f.low.get(w)!).join('; ')})`, RISK_MAX_TEXT_CHARS);
}

/**
 * The npm builder's risk assessment of a mismatch (see README "Risk of a mismatch"): install
 * scripts, executable code, entry points and dependencies are high; other code-like or unknown files
 * and package.json fields that are not pure metadata are medium; documentation and metadata only is
 * low. Reads the two package.json files (bounded) and, when a C/C++ source differs, whether the
 * published package has a binding.gyp.
 */
export async function assessNpmRisk(diff: FileDifference): Promise<RiskSummary> {
  const f = new Findings();
  const [rebuilt, published] = await Promise.all([readManifest(diff, 'rebuilt'), readManifest(diff, 'published')]);
  for (const [side, m] of [
    ['published', published],
    ['rebuilt', rebuilt],
  ] as const) {
    if (m.state === 'bad') f.flag('manifest-invalid', 'high', `package.json in ${sideWords(side)} ${m.why}: what it runs cannot be told`);
  }
  const ok = (m: Manifest): Record<string, unknown> | undefined => (m.state === 'ok' ? m.value : undefined);
  const [rm, pm] = [ok(rebuilt), ok(published)];
  // a side without package.json is compared as an empty one; a bad one cannot be compared at all
  const manifestDiffers = [diff.onlyPublished, diff.onlyRebuilt, diff.changed].some((list) => list.some((e) => e.path === MANIFEST));
  if (rebuilt.state !== 'bad' && published.state !== 'bad' && (rm || pm)) {
    const before = f.size;
    compareManifests(rm ?? {}, pm ?? {}, f);
    if (manifestDiffers && f.size === before) f.note('metadata', 'package.json formatting or key order changed');
  }

  const bins: Targets = { files: new Set(), dirs: [], patterns: [] };
  const entries: Targets = { files: new Set(), dirs: [], patterns: [] };
  for (const m of [rm, pm]) {
    if (!m) continue;
    collectBins(m, bins);
    collectEntries(m, entries);
  }

  // group the differing entries by kind and change, in a fixed order
  const groups = new Map<string, { kind: FileKind; change: Change; rels: string[] }>();
  const lists: [Change, readonly DifferingEntry[]][] = [
    ['onlyPublished', diff.onlyPublished],
    ['onlyRebuilt', diff.onlyRebuilt],
    ['changed', diff.changed],
  ];
  for (const [change, list] of lists) {
    for (const e of list) {
      if (e.path === MANIFEST || e.path === ROOT || e.path === '.') continue;
      const k = classify(e, bins, entries);
      const key = `${KIND_ORDER.indexOf(k.key).toString().padStart(2, '0')}:${change}`;
      const g = groups.get(key) ?? { kind: k, change, rels: [] };
      g.rels.push(k === KINDS.outside ? e.path : relOf(e.path).rel);
      groups.set(key, g);
    }
  }

  let gypPresent: boolean | undefined;
  for (const key of [...groups.keys()].sort()) {
    const { kind: k, change, rels } = groups.get(key)!;
    const words = CHANGE_WORDS[change];
    if (k.level === 'low') {
      f.note(k === KINDS.directory ? 'directory entries' : 'documentation', rels.length <= SHOWN ? `${listed(rels)} ${words}` : `${counted(rels.length, k.noun)} ${words} (${listed(rels)})`);
      continue;
    }
    let level = k.level;
    let message = `${counted(rels.length, k.noun)} ${words} (${listed(rels)})`;
    if (k === KINDS.outside) message += `: npm extracts ${rels.length === 1 ? 'it' : 'them'} over the package's own files`;
    if (k === KINDS.nativeSource) {
      // node-gyp compiles them at install when the package has a binding.gyp (npm runs it by default then)
      gypPresent ??= (await diff.readText('published', `${ROOT}/binding.gyp`)).kind !== 'absent';
      if (gypPresent) {
        level = 'high';
        message += ', compiled at install (binding.gyp)';
      }
    }
    f.flag(k.code, level, message);
  }

  if (diff.modeChanged.length > 0) {
    const rels = diff.modeChanged.map((e) => relOf(e.path).rel);
    const code = diff.modeChanged.some((e) => classify(e, bins, entries).level !== 'low');
    const message = `execute permission changed on ${counted(rels.length, ['file', 'files'])} (${listed(rels)})`;
    if (code) f.flag('mode', 'medium', message);
    else f.note('file permissions', message);
  }

  // most dangerous first; the order found within a level is kept
  const sorted = [...f.flags].sort((x, y) => RISK_LEVELS.indexOf(y.level) - RISK_LEVELS.indexOf(x.level));
  let flags = sorted;
  if (sorted.length > RISK_MAX_FLAGS) {
    const rest = sorted.slice(RISK_MAX_FLAGS - 1);
    flags = [...sorted.slice(0, RISK_MAX_FLAGS - 1), { code: 'more', level: rest.map((x) => x.level).reduce(maxRiskLevel), message: `${rest.length} more reasons` }];
  }
  const level: RiskLevel = flags.map((x) => x.level).reduce(maxRiskLevel, 'low');
  const nothing = diff.onlyPublished.length + diff.onlyRebuilt.length + diff.changed.length + diff.modeChanged.length === 0;
  if (nothing) {
    flags = [{ code: 'no-difference', level: 'medium', message: 'the file-level diff lists no difference to assess' }];
  }
  return {
    level: nothing ? 'medium' : level,
    text: nothing ? 'medium risk: the file-level diff lists no difference to assess' : summaryText(level, f, flags),
    onlyPublished: riskPathList(diff.onlyPublished.map((e) => e.path)),
    onlyRebuilt: riskPathList(diff.onlyRebuilt.map((e) => e.path)),
    changed: riskPathList(diff.changed.map((e) => e.path)),
    modeChanged: riskPathList(diff.modeChanged.map((e) => e.path)),
    flags,
  };
}
