import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { readCrateFiles } from './read-crate.js';
import { isObject, type BuildInput, type BuildPlan, type InputsDecision, type PlanInput } from '@quorum/core';
import { cratePurlProblem, downloadUrl, originOf, sriOfHexSha256 } from './crate-name.js';
import { isKnownRegistry, parseCargoLock } from './cargo-lock.js';

/** Mount points inside the build container. */
export const SOURCE_MOUNT = '/src';
export const OUTPUT_MOUNT = '/out';
export const INPUTS_MOUNT = '/inputs';
/** File in the output mount where the build records the exact toolchain it ran. */
export const TOOLCHAIN_FILE = 'toolchain.json';
/** Where the dependencies' `.crate`s land under the inputs mount. */
export const CRATES_DIR = 'crates';

/**
 * The build: `cargo package` in a copy of the checkout (cargo records the commit it packs from, and
 * the mount is read-only), offline. cargo packs a Cargo.lock resolved from the package's
 * dependencies: they are the lockfile's `.crate`s, checked by the fetch phase, vendored as a
 * directory source with the checksum the lockfile pins, the only crates the resolution can choose.
 */
const BUILD_SCRIPT = `set -eu
umask 022
printf '{"cargo":"%s","rustc":"%s"}' "$(cargo --version | cut -d' ' -f2)" "$(rustc --version | cut -d' ' -f2)" > ${OUTPUT_MOUNT}/${TOOLCHAIN_FILE}
echo "[quorum] toolchain $(cat ${OUTPUT_MOUNT}/${TOOLCHAIN_FILE}); crate $QUORUM_CRATE $QUORUM_VERSION from ./$QUORUM_PACKAGE_DIR"
mkdir -p /tmp/work "$CARGO_HOME"
cp -a ${SOURCE_MOUNT}/. /tmp/work/
if [ -d ${INPUTS_MOUNT}/${CRATES_DIR} ]; then
  for c in ${INPUTS_MOUNT}/${CRATES_DIR}/*.crate; do
    d="/tmp/vendor/$(basename "$c" .crate)"
    mkdir -p "$d"
    tar -xzf "$c" -C "$d" --strip-components=1 --no-same-owner
    rm -f "$d/.cargo-checksum.json"
    printf '{"files":{},"package":"%s"}' "$(sha256sum "$c" | cut -d' ' -f1)" > "$d/.cargo-checksum.json"
  done
  # a dependency's links could lead cargo (or the lines above) out of the vendored tree
  if [ -n "$(find /tmp/vendor -type l | head -n 1)" ]; then echo "[quorum] refused: a locked crate holds a symbolic link"; exit 1; fi
  printf '[source.crates-io]\\nreplace-with = "quorum-vendored"\\n[source.quorum-vendored]\\ndirectory = "/tmp/vendor"\\n' > "$CARGO_HOME/config.toml"
  echo "[quorum] $(ls ${INPUTS_MOUNT}/${CRATES_DIR} | wc -l) locked crates vendored"
fi
# cargo packs the file a symbolic link points at: one pointing outside the source would put into the
# crate what the commit does not hold (the build's own inputs, the image's files)
find /tmp/work -path /tmp/work/.git -prune -o -type l -exec sh -c 'for l; do
  case "$(realpath -m "$l")" in /tmp/work/*) ;; *) echo "[quorum] refused: the symbolic link \${l#/tmp/work/} points outside the source"; exit 1 ;; esac
done' sh {} +
cd "/tmp/work/$QUORUM_PACKAGE_DIR"
cargo package --no-verify --offline --locked
cp "$CARGO_TARGET_DIR/package/$QUORUM_CRATE-$QUORUM_VERSION.crate" ${OUTPUT_MOUNT}/
`;

/** Builds the hermetic build plan of one crate version. Pure. */
export function planCratesBuild(input: PlanInput): BuildPlan {
  return {
    image: input.image,
    argv: ['/bin/sh', '-c', BUILD_SCRIPT],
    env: {
      HOME: '/tmp/home',
      CARGO_HOME: '/tmp/cargo-home',
      CARGO_TARGET_DIR: '/tmp/target',
      CARGO_NET_OFFLINE: 'true',
      CARGO_TERM_COLOR: 'never',
      SOURCE_DATE_EPOCH: String(input.source.commitTime),
      TZ: 'UTC',
      LANG: 'C.UTF-8',
      QUORUM_CRATE: input.purl.name,
      QUORUM_VERSION: input.purl.version,
      QUORUM_PACKAGE_DIR: input.source.directory ?? '.',
    },
    sourceMount: SOURCE_MOUNT,
    outputMount: OUTPUT_MOUNT,
    ...(input.inputs.dependencyCount > 0 ? { inputsMount: INPUTS_MOUNT } : {}),
    artifactGlob: '*.crate',
    toolchainFile: TOOLCHAIN_FILE,
    workdir: '/tmp',
    user: '1000:1000',
    limits: { ...input.limits },
  };
}

/** The tables of a Cargo.toml that declare dependencies cargo resolves when it packs (its own and per target). */
function declaresDependencies(manifest: Record<string, unknown>): boolean {
  const tables = ['dependencies', 'dev-dependencies', 'build-dependencies', 'dev_dependencies', 'build_dependencies'];
  const has = (t: unknown) => isObject(t) && tables.some((k) => isObject(t[k]) && Object.keys(t[k]).length > 0);
  return has(manifest) || (isObject(manifest.target) && Object.values(manifest.target).some(has));
}

/**
 * Why a file cargo copies into the crate (`readme`, `license-file`, the package's own or inherited
 * from the workspace root) would come from outside the repository or from its `.git`, if one would:
 * cargo packs it from wherever the path leads (the image's files, the build's inputs).
 */
function fileOutsideRepository(pkg: Record<string, unknown>, directory: string, rootToml: string | undefined): string | undefined {
  let workspacePackage: Record<string, unknown> = {};
  if (rootToml !== undefined) {
    try {
      const root = parseToml(rootToml) as Record<string, unknown>;
      workspacePackage = isObject(root.workspace) && isObject(root.workspace.package) ? root.workspace.package : {};
    } catch {
      // an unreadable workspace root names nothing; cargo itself refuses it
    }
  }
  for (const key of ['readme', 'license-file']) {
    const own = pkg[key];
    const inherited = isObject(own) && own.workspace === true;
    const value = inherited ? workspacePackage[key] : own;
    if (typeof value !== 'string') continue;
    const from = inherited || directory === '' ? '.' : directory;
    const resolved = posix.normalize(posix.join(from, value));
    if (value.startsWith('/') || value.includes('\\') || resolved === '..' || resolved.startsWith('../') || resolved.split('/').includes('.git')) {
      return `the crate's ${key} ${JSON.stringify(value.slice(0, 200))} is outside the repository: cargo would pack a file the commit does not hold`;
    }
  }
  return undefined;
}

/** The largest published Cargo.lock taken as the dependency set. @defaultValue 1 MiB */
export const MAX_PUBLISHED_LOCK_CHARS = 1024 * 1024;

/**
 * Decides what a crate's build needs. cargo packs a Cargo.lock with every crate, resolved from the
 * package's dependencies: a crate that declares none needs nothing; one that does needs every registry
 * crate of the Cargo.lock it is resolved from, downloaded by the checksum that lockfile pins. That
 * lockfile is the source's (package directory's, else the workspace's), else the one the published
 * crate carries (`publishedLock`, the publisher's resolution: said in the notes). The source's
 * Cargo.toml must be this crate's. Pure.
 */
export function decideCratesInputs(
  files: Record<string, string | undefined>,
  _toolchain: Record<string, string>,
  registry: string,
  release: { version?: string; facts?: Record<string, string> },
): InputsDecision {
  const none: InputsDecision = { tools: [], dependencies: [], install: false, notes: [] };
  const refuse = (code: string, message: string): InputsDecision => ({ ...none, problem: { code, message } });
  const text = files['Cargo.toml'];
  if (text === undefined) return refuse('source-mismatch', 'the source has no Cargo.toml in the package directory');
  let manifest: Record<string, unknown>;
  try {
    manifest = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    return refuse('source-mismatch', `the source's Cargo.toml is not TOML: ${(e as Error).message.split('\n')[0]!.slice(0, 200)}`);
  }
  const pkg = isObject(manifest.package) ? manifest.package : undefined;
  const name = release.facts?.crateName;
  if (!pkg) return refuse('source-mismatch', "the source's Cargo.toml declares no [package]");
  if (name !== undefined && pkg.name !== name) return refuse('source-mismatch', `the source's Cargo.toml declares the package ${JSON.stringify(String(pkg.name).slice(0, 100))}, not ${name}`);
  if (release.version !== undefined && typeof pkg.version === 'string' && pkg.version !== release.version) {
    return refuse('source-mismatch', `the source's Cargo.toml declares version ${JSON.stringify(pkg.version.slice(0, 100))}, not ${release.version}`);
  }
  const outside = fileOutsideRepository(pkg, release.facts?.packageDirectory ?? '', files['root/Cargo.toml'] ?? text);
  if (outside) return refuse('source-refused', outside);
  if (!declaresDependencies(manifest)) return none;
  const own = files['Cargo.lock'] ?? files['root/Cargo.lock'];
  const shown = release.facts?.publishedLock;
  const published = shown !== undefined && shown.length <= MAX_PUBLISHED_LOCK_CHARS ? shown : undefined;
  if (own === undefined && published === undefined)
    return refuse('unpinned-dependency', 'the crate declares dependencies, and neither its source nor the published crate has a Cargo.lock pinning them');
  const template = release.facts?.downloadTemplate;
  const origin = release.facts?.downloadOrigin;
  if (!template || !origin) return refuse('unpinned-dependency', "the index's download template is not known");
  const locks: { text: string; from: 'source' | 'published' }[] = [
    ...(own !== undefined ? [{ text: own, from: 'source' as const }] : []),
    ...(published !== undefined ? [{ text: published, from: 'published' as const }] : []),
  ];
  const dependencies: BuildInput[] = [];
  const byPath = new Map<string, string>();
  let fromPublished = 0;
  // the source's lockfile pins the dependency set; the published crate's adds only the workspace's own
  // packages (no source in the workspace, from the registry in the packed crate) or, without one, is it
  let workspacePackages: Set<string> | undefined;
  for (const lock of locks) {
    const parsed = parseCargoLock(lock.text);
    if (!parsed.ok) {
      if (lock.from === 'published' && own !== undefined) continue;
      return refuse('unpinned-dependency', `${lock.from === 'published' ? "the published crate's " : ''}${parsed.message}`);
    }
    if (lock.from === 'source') workspacePackages = new Set(parsed.packages.filter((p) => p.source === undefined).map((p) => p.name));
    for (const p of parsed.packages) {
      if (p.source === undefined) continue;
      if (lock.from === 'published' && workspacePackages !== undefined && !workspacePackages.has(p.name)) continue;
      if (p.source.startsWith('git+')) return refuse('unpinned-dependency', `${p.at} comes from git (${p.source.slice(0, 200)}): a build offline cannot fetch it`);
      if (!isKnownRegistry(p.source, [registry])) return refuse('unpinned-dependency', `${p.at} comes from another registry (${p.source.slice(0, 200)})`);
      const integrity = sriOfHexSha256(p.checksum);
      if (!integrity) return refuse('unpinned-dependency', `${p.at} has no sha256 checksum`);
      const problem = cratePurlProblem({ namespace: undefined, name: p.name, version: p.version });
      if (problem) return refuse('unpinned-dependency', `${p.at}: ${problem}`);
      const url = downloadUrl(template, p.name, p.version, p.checksum!);
      const at = originOf(url);
      if (at !== origin) return refuse('unpinned-dependency', `${p.at} would be downloaded from ${at ?? JSON.stringify(url.slice(0, 200))}, not from ${origin}`);
      const path = `crates/${p.name}-${p.version}.crate`;
      const before = byPath.get(path);
      if (before !== undefined && before !== integrity) return refuse('unpinned-dependency', `${p.at} is locked twice, by two checksums`);
      if (before !== undefined) continue;
      byPath.set(path, integrity);
      dependencies.push({ url, integrity, path });
      if (lock.from === 'published') fromPublished++;
    }
  }
  const notes =
    own === undefined
      ? ["the source commits no Cargo.lock: the dependencies are those the published crate's own Cargo.lock pins (the publisher's resolution), resolved again by cargo among them"]
      : fromPublished > 0
        ? [`${fromPublished} crates the source's Cargo.lock does not pin (the workspace's own packages, as the registry has them) were taken from the published crate's Cargo.lock`]
        : [];
  return { ...none, dependencies, install: dependencies.length > 0, notes };
}

/**
 * What the published crate shows of how it was made: its own Cargo.lock (`publishedLock`), the
 * publisher's resolution, used as the dependency set when the source commits none.
 */
export async function cratePublishedFacts(artifactFile: string): Promise<Record<string, string>> {
  const files = await readCrateFiles(await readFile(artifactFile), ['*/Cargo.lock']);
  const lock = files['*/Cargo.lock'];
  return lock && lock.length <= MAX_PUBLISHED_LOCK_CHARS ? { publishedLock: lock.toString('utf8') } : {};
}
