import type { PlanInput } from '@quorum/core';
import { INPUTS_MOUNT as INPUTS, OUTPUT_MOUNT as OUTPUT, SOURCE_MOUNT as SOURCE, TOOLCHAIN_FILE as TOOLCHAIN, TOOLCHAIN_PRELUDE } from './build-container.js';
import { MIRROR_DEPS_DIR, REGISTRY_DEPS_DIR } from './manager-inputs.js';
import { MANAGER_TOOL_PATH, type ManagerKind, managerCommand } from './package-manager.js';
import { BUILD_CLOCK_SCRIPT, PUBLISH_STEPS_SCRIPT, SOURCE_REPOSITORY_SCRIPT } from './publish-steps.js';

/**
 * A registry on 127.0.0.1 for the managers that only install from a registry (yarn 2+, pnpm): it
 * serves the fetched tarballs, laid out as the registry serves them, and nothing else. Loopback
 * exists in a container without network; the build's network stays none. Every miss is logged, so
 * a manager that wants more than the lockfile's tarballs says so in the build log.
 */
const LOOPBACK_REGISTRY = `const http = require('http');
const fs = require('fs');
const path = require('path');
const root = fs.realpathSync(process.argv[2]);
const server = http.createServer((req, res) => {
  let rel = '';
  try {
    rel = decodeURIComponent((req.url || '/').split('?')[0]);
  } catch (e) {}
  const file = path.join(root, path.posix.normalize('/' + rel));
  let size = -1;
  try {
    const info = fs.lstatSync(file);
    if (info.isFile() && file.endsWith('.tgz')) size = info.size;
  } catch (e) {}
  if ((req.method !== 'GET' && req.method !== 'HEAD') || size < 0) {
    process.stderr.write('[quorum] offline registry: no ' + JSON.stringify(rel.slice(0, 200)) + '\\n');
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(process.argv[3], String(server.address().port)));
`;

/**
 * The build script of a yarn or pnpm project, run inside the network-less container. Like npm's, it
 * puts the pinned Node first on PATH and the pinned npm beside it; the pinned manager is unpacked
 * from its registry tarball and, when the project's packageManager carries a hash, checked against
 * it over what Corepack hashes. Wrappers put both on PATH, so build scripts that call `yarn`, `pnpm`
 * or `npm` get the pinned ones. The install runs where the lockfile is (the workspace root in a
 * monorepo), without install scripts; yarn 1 reads the tarballs from an offline mirror, yarn 2+ and
 * pnpm from a registry on loopback that is stopped before the build runs.
 */
export const MANAGER_BUILD_SCRIPT = `set -eu
umask 022
mkdir -p "$HOME" /tmp/work /tmp/tools/bin /tmp/tools/pm /tmp/packed
${TOOLCHAIN_PRELUDE}node_bin=$(command -v node)
tar -xzf "${INPUTS}/$QUORUM_PM_TOOL" -C /tmp/tools/pm --strip-components=1 --no-same-owner
pm_cli=$(node -e 'const p = require("/tmp/tools/pm/package.json"); const b = typeof p.bin === "string" ? p.bin : (p.bin || {})[process.argv[1]]; if (typeof b !== "string") process.exit(1); process.stdout.write(require("path").resolve("/tmp/tools/pm", b))' "$QUORUM_PM_COMMAND")
if [ -n "$QUORUM_PM_HASH" ]; then
  if [ "$QUORUM_PM_HASH_OF" = tarball ]; then hashed="${INPUTS}/$QUORUM_PM_TOOL"; else hashed="/tmp/tools/pm/$QUORUM_PM_HASH_OF"; fi
  node -e 'const [spec, file, what] = process.argv.slice(1); const [alg, hex] = spec.split(":"); const got = require("crypto").createHash(alg).update(require("fs").readFileSync(file)).digest("hex"); if (got !== hex) { console.error("[quorum] the package manager does not match the packageManager " + alg + " hash of its " + what + " (" + got + ")"); process.exit(1); } console.log("[quorum] packageManager " + alg + " hash checked over " + what)' "$QUORUM_PM_HASH" "$hashed" "$QUORUM_PM_HASH_OF"
fi
printf '#!/bin/sh\\nexec "%s" "%s" "$@"\\n' "$node_bin" "$npm_cli" > /tmp/tools/bin/npm
printf '#!/bin/sh\\nexec "%s" "%s" "$@"\\n' "$node_bin" "$pm_cli" > "/tmp/tools/bin/$QUORUM_PM_COMMAND"
chmod 755 /tmp/tools/bin/*
PATH="/tmp/tools/bin:$PATH"
export PATH
node -p 'JSON.stringify({ node: process.version, npm: require(require("path").resolve(process.argv[1], "../../package.json")).version, [process.argv[2]]: require("/tmp/tools/pm/package.json").version })' "$npm_cli" "$QUORUM_PM_COMMAND" > ${OUTPUT}/${TOOLCHAIN}
echo "[quorum] toolchain $(cat ${OUTPUT}/${TOOLCHAIN}) ($([ -n "$QUORUM_NODE_BIN" ] && echo pinned Node || echo image Node), $([ -n "$QUORUM_NPM_TOOL" ] && echo pinned npm || echo image npm), pinned $QUORUM_PM_COMMAND), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
cp -R ${SOURCE}/. /tmp/work/
${SOURCE_REPOSITORY_SCRIPT}if [ "$QUORUM_INSTALL_AT" = root ]; then install_dir=/tmp/work; else install_dir="/tmp/work/$QUORUM_PACKAGE_DIR"; fi
cd "$install_dir"
registry_pid=
start_registry() {
  served="${INPUTS}/${REGISTRY_DEPS_DIR}"
  [ -d "$served" ] || { served=/tmp/no-packages; mkdir -p "$served"; }
  cat > /tmp/tools/registry.cjs <<'QUORUM_REGISTRY'
${LOOPBACK_REGISTRY}QUORUM_REGISTRY
  node /tmp/tools/registry.cjs "$served" /tmp/tools/registry.port &
  registry_pid=$!
  i=0
  while [ ! -s /tmp/tools/registry.port ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || { echo "[quorum] the offline registry did not start"; exit 1; }
    sleep 0.05
  done
  registry="http://127.0.0.1:$(cat /tmp/tools/registry.port)"
}
stop_registry() {
  kill "$registry_pid" 2>/dev/null || true
  wait "$registry_pid" 2>/dev/null || true
}
case "$QUORUM_PM" in
  yarn-classic)
    echo "[quorum] yarn install --frozen-lockfile --offline --ignore-scripts ($QUORUM_DEPENDENCIES locked dependencies, from an offline mirror)"
    printf 'yarn-offline-mirror "%s"\\nyarn-offline-mirror-pruning false\\n' "${INPUTS}/${MIRROR_DEPS_DIR}" > "$HOME/.yarnrc"
    yarn install --frozen-lockfile --offline --ignore-scripts --non-interactive --no-progress --cache-folder /tmp/yarn-cache
    ;;
  yarn-berry)
    start_registry
    echo "[quorum] yarn install --immutable, scripts off ($QUORUM_DEPENDENCIES locked dependencies, from a registry on loopback)"
    YARN_NPM_REGISTRY_SERVER="$registry"
    export YARN_NPM_REGISTRY_SERVER
    case "$QUORUM_PM_VERSION" in
      2.*) yarn install --immutable ;;
      *) yarn install --immutable --mode=skip-build ;;
    esac
    stop_registry
    ;;
  pnpm)
    start_registry
    echo "[quorum] pnpm install --frozen-lockfile --ignore-scripts ($QUORUM_DEPENDENCIES locked dependencies, from a registry on loopback)"
    env -u npm_config_offline pnpm install --frozen-lockfile --ignore-scripts --registry="$registry/" --store-dir=/tmp/pnpm-store --reporter=append-only --config.manage-package-manager-versions=false
    stop_registry
    ;;
  *)
    echo "[quorum] unknown package manager $QUORUM_PM"
    exit 1
    ;;
esac
cd "/tmp/work/$QUORUM_PACKAGE_DIR"
run="$QUORUM_PM_COMMAND run"
run_label="$QUORUM_PM_COMMAND run"
${BUILD_CLOCK_SCRIPT}${PUBLISH_STEPS_SCRIPT}# clean-publish (and dual-publish through it) publishes what it wrote with npm unless told otherwise
if [ -n "$QUORUM_PUBLISH_TOOL" ]; then QUORUM_PACK=npm; fi
echo "[quorum] $QUORUM_PACK pack"
case "$QUORUM_PACK" in
  pnpm)
    pnpm pack --pack-destination /tmp/packed
    ;;
  yarn)
    yarn pack --out "/tmp/packed/$(node -p 'const p = require("./package.json"); String(p.name).replace(/^@/, "").replace("/", "-") + "-" + p.version + ".tgz"')"
    ;;
  *)
    # npm prints the tarball's name last; older npm has no --pack-destination
    tarball=$(node "$npm_cli" pack | tail -n 1)
    mv -- "$tarball" /tmp/packed/
    ;;
esac
for tarball in /tmp/packed/*.tgz; do
  mv -- "$tarball" ${OUTPUT}/
  echo "[quorum] done: $(basename "$tarball")"
done
`;

/** The kind of manager a plan's options name, if the build is a yarn or pnpm one. */
export function managerOf(input: PlanInput): ManagerKind | undefined {
  const kind = input.inputs.planOptions?.manager;
  return kind === 'yarn-classic' || kind === 'yarn-berry' || kind === 'pnpm' ? kind : undefined;
}

/** The environment the manager build script reads, on top of npm's. */
export function managerEnv(input: PlanInput, kind: ManagerKind): Record<string, string> {
  const o = input.inputs.planOptions ?? {};
  const tool = Object.values(input.inputs.tools).includes(MANAGER_TOOL_PATH) ? MANAGER_TOOL_PATH : '';
  const env: Record<string, string> = {
    QUORUM_PM: kind,
    QUORUM_PM_COMMAND: managerCommand(kind),
    QUORUM_PM_TOOL: tool,
    QUORUM_PM_VERSION: typeof o.managerVersion === 'string' ? o.managerVersion : '',
    QUORUM_PM_HASH: typeof o.managerHash === 'string' && /^(sha1|sha224|sha256|sha512):[0-9a-f]+$/.test(o.managerHash) ? o.managerHash : '',
    QUORUM_PM_HASH_OF: o.managerHashOf === 'bin/yarn.js' ? 'bin/yarn.js' : 'tarball',
    QUORUM_INSTALL_AT: o.installAt === 'root' ? 'root' : 'package',
    QUORUM_PACK: o.pack === 'pnpm' || o.pack === 'yarn' ? o.pack : 'npm',
  };
  if (kind === 'yarn-berry') {
    Object.assign(env, {
      // environment settings outrank the repository's .yarnrc.yml: the lockfile's checksums are enforced, nothing runs at install
      YARN_UNSAFE_HTTP_WHITELIST: '127.0.0.1',
      YARN_CHECKSUM_BEHAVIOR: 'throw',
      YARN_ENABLE_IMMUTABLE_INSTALLS: '1',
      YARN_ENABLE_SCRIPTS: '0',
      YARN_ENABLE_TELEMETRY: '0',
      YARN_ENABLE_PROGRESS_BARS: '0',
      YARN_ENABLE_COLORS: '0',
      YARN_ENABLE_HYPERLINKS: '0',
      YARN_ENABLE_GLOBAL_CACHE: '0',
      YARN_CACHE_FOLDER: '/tmp/yarn-cache',
    });
  }
  return env;
}
