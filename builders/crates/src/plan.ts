import { parse as parseToml } from 'smol-toml';
import type { BuildInput, BuildPlan, InputsDecision, PlanInput } from '@quorum/core';
import { downloadUrl, sriOfHexSha256 } from './crate-name.js';
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
 * the mount is read-only), offline. A package with binaries packs its Cargo.lock, which cargo checks
 * against the dependencies: they are the lockfile's `.crate`s, checked by the fetch phase, vendored
 * as a directory source with the checksum the lockfile pins.
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
    printf '{"files":{},"package":"%s"}' "$(sha256sum "$c" | cut -d' ' -f1)" > "$d/.cargo-checksum.json"
  done
  printf '[source.crates-io]\\nreplace-with = "quorum-vendored"\\n[source.quorum-vendored]\\ndirectory = "/tmp/vendor"\\n' > "$CARGO_HOME/config.toml"
  echo "[quorum] $(ls ${INPUTS_MOUNT}/${CRATES_DIR} | wc -l) locked crates vendored"
fi
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a package's manifest (and its source files) give it a binary target: cargo then packs its Cargo.lock. */
function hasBinaries(manifest: Record<string, unknown>, mainRs: string | undefined): boolean {
  const pkg = isObject(manifest.package) ? manifest.package : {};
  if (Array.isArray(manifest.bin) && manifest.bin.length > 0) return true;
  return mainRs !== undefined && pkg.autobins !== false;
}

/**
 * Decides what a crate's build needs: nothing for a library (cargo packs it without resolving
 * anything), and for a package with binaries every registry crate its Cargo.lock pins (package
 * directory's, else the workspace's), downloaded by the checksum the lockfile pins. The source's
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
  if (!hasBinaries(manifest, files['src/main.rs'])) return none;
  const lock = files['Cargo.lock'] ?? files['root/Cargo.lock'];
  if (lock === undefined) return refuse('unpinned-dependency', 'the crate has binaries, whose .crate holds a Cargo.lock, and the source commits none');
  const parsed = parseCargoLock(lock);
  if (!parsed.ok) return refuse('unpinned-dependency', parsed.message);
  const template = release.facts?.downloadTemplate;
  if (!template) return refuse('unpinned-dependency', "the index's download template is not known");
  const dependencies: BuildInput[] = [];
  for (const p of parsed.packages) {
    if (p.source === undefined) continue;
    if (p.source.startsWith('git+')) return refuse('unpinned-dependency', `${p.at} comes from git (${p.source.slice(0, 200)}): a build offline cannot fetch it`);
    if (!isKnownRegistry(p.source, [registry])) return refuse('unpinned-dependency', `${p.at} comes from another registry (${p.source.slice(0, 200)})`);
    const integrity = sriOfHexSha256(p.checksum);
    if (!integrity) return refuse('unpinned-dependency', `${p.at} has no sha256 checksum`);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(p.name) || !/^[0-9A-Za-z.+-]{1,100}$/.test(p.version)) return refuse('unpinned-dependency', `${p.at} is not a crate name and version`);
    dependencies.push({ url: downloadUrl(template, p.name, p.version, p.checksum!), integrity, path: `crates/${p.name}-${p.version}.crate` });
  }
  return { ...none, dependencies, install: dependencies.length > 0, notes: dependencies.length > 0 ? [`${dependencies.length} crates of the Cargo.lock vendored for cargo's check of it`] : [] };
}
