import type { BuildPlan, InputsDecision, PlanInput } from '@quorum/core';
import { goModulePath } from './module-path.js';

/** Mount points inside the build container. */
export const SOURCE_MOUNT = '/src';
export const OUTPUT_MOUNT = '/out';
/** File in the output mount where the build records the exact toolchain it ran. */
export const TOOLCHAIN_FILE = 'toolchain.json';

/**
 * The build: the module zip made from the source tree by the image's quorum-gomodzip (golang.org/x/mod
 * zip rules), with nothing to install and no network. The tool checks the module path and version
 * and prints the zip's h1: dirhash into the log.
 */
const BUILD_SCRIPT = `set -eu
umask 022
printf '{"go":"%s","xmod":"%s"}' "$(go env GOVERSION)" "$(dpkg-query -W -f='\${Version}' golang-golang-x-mod-dev)" > ${OUTPUT_MOUNT}/${TOOLCHAIN_FILE}
echo "[quorum] toolchain $(cat ${OUTPUT_MOUNT}/${TOOLCHAIN_FILE}); module $QUORUM_MODULE $QUORUM_VERSION from ./$QUORUM_PACKAGE_DIR"
quorum-gomodzip "$QUORUM_MODULE" "$QUORUM_VERSION" "${SOURCE_MOUNT}/$QUORUM_PACKAGE_DIR" ${SOURCE_MOUNT} ${OUTPUT_MOUNT}/module.zip
`;

/** Builds the hermetic build plan of one module version. Pure. */
export function planGoBuild(input: PlanInput): BuildPlan {
  return {
    image: input.image,
    argv: ['/bin/sh', '-c', BUILD_SCRIPT],
    env: {
      HOME: '/tmp/home',
      GOCACHE: '/tmp/go-cache',
      GOTOOLCHAIN: 'local',
      GOPROXY: 'off',
      SOURCE_DATE_EPOCH: String(input.source.commitTime),
      TZ: 'UTC',
      LANG: 'C.UTF-8',
      QUORUM_MODULE: goModulePath(input.purl),
      QUORUM_VERSION: input.purl.version,
      QUORUM_PACKAGE_DIR: input.source.directory ?? '.',
    },
    sourceMount: SOURCE_MOUNT,
    outputMount: OUTPUT_MOUNT,
    artifactGlob: '*.zip',
    toolchainFile: TOOLCHAIN_FILE,
    workdir: '/tmp',
    user: '1000:1000',
    limits: { ...input.limits },
  };
}

/** The module line of a go.mod (`module example.com/m`, quoted or not), if it has one. */
export function goModModule(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const m = /^module\s+("(?:[^"\\]|\\.)*"|`[^`]*`|\S+)\s*$/.exec(line);
    if (m) {
      const v = m[1]!;
      return v.startsWith('"') ? (JSON.parse(v) as string) : v.startsWith('`') ? v.slice(1, -1) : v;
    }
  }
  return undefined;
}

/**
 * Nothing to fetch for a module zip: it is made from the source tree alone. The source's go.mod must
 * name this module: another module path means the tree is not this module's source. Pure.
 */
export function decideGoInputs(
  files: Record<string, string | undefined>,
  _toolchain: Record<string, string>,
  _registry: string,
  release: { version?: string; facts?: Record<string, string> },
): InputsDecision {
  const none: InputsDecision = { tools: [], dependencies: [], install: false, notes: [] };
  const gomod = files['go.mod'];
  const path = release.facts?.modulePath;
  if (gomod === undefined || path === undefined) return none;
  const declared = goModModule(gomod);
  if (declared !== undefined && declared !== path) {
    return { ...none, problem: { code: 'source-mismatch', message: `the source's go.mod declares module ${JSON.stringify(declared.slice(0, 300))}, not ${path}` } };
  }
  return none;
}
