import semver from 'semver';

/** The manifest fields npm reads to resolve a dependency tree; everything else stays out of the resolution. */
const KEPT_FIELDS = ['name', 'version', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta', 'overrides'] as const;
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;
const PACKAGE_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;
const DIST_TAG = /^[a-z][\w.-]{0,63}$/i;

/** A manifest reduced to what a registry-only resolution reads, or why the dependencies cannot come from the registry. */
export type ResolutionManifest = { ok: true; text: string } | { ok: false; message: string };

/**
 * Reduces package.json to its name, version and dependency declarations, so that a resolution reads
 * no script, no workspace, no config of the source, and refuses any dependency the registry alone
 * cannot give (git, file, link, URL, GitHub shorthand, workspace): the build could not be the
 * publisher's without it.
 */
export function resolutionManifest(manifest: Record<string, unknown>): ResolutionManifest {
  if (manifest.workspaces !== undefined) return { ok: false, message: 'the package declares workspaces but the repository commits no lockfile' };
  const reduced: Record<string, unknown> = {};
  for (const field of KEPT_FIELDS) if (manifest[field] !== undefined) reduced[field] = manifest[field];
  for (const field of DEPENDENCY_FIELDS) {
    const deps = manifest[field];
    if (deps === undefined) continue;
    if (!deps || typeof deps !== 'object' || Array.isArray(deps)) return { ok: false, message: `${field} is not an object` };
    for (const [name, spec] of Object.entries(deps)) {
      const problem = registrySpecProblem(name, spec);
      if (problem) return { ok: false, message: `${field}.${name}: ${problem}` };
    }
  }
  if (reduced.overrides !== undefined && (typeof reduced.overrides !== 'object' || reduced.overrides === null)) return { ok: false, message: 'overrides is not an object' };
  if (reduced.overrides !== undefined) {
    const problem = overridesProblem(reduced.overrides as Record<string, unknown>, 0);
    if (problem) return { ok: false, message: `overrides: ${problem}` };
  }
  return { ok: true, text: `${JSON.stringify(reduced, null, 2)}\n` };
}

/** Why a dependency spec names something other than a registry release, if it does. */
export function registrySpecProblem(name: string, spec: unknown): string | undefined {
  if (!PACKAGE_NAME.test(name) || name.length > 214) return `${JSON.stringify(name.slice(0, 100))} is not a package name`;
  if (typeof spec !== 'string') return 'the version spec is not a string';
  const s = spec.trim();
  const alias = /^npm:((?:@[^/@\s]+\/)?[^/@\s]+)(?:@(.*))?$/.exec(s);
  if (alias) {
    if (!PACKAGE_NAME.test(alias[1]!)) return `${JSON.stringify(s.slice(0, 100))} aliases no package name`;
    return alias[2] === undefined || alias[2] === '' || isRange(alias[2]) ? undefined : `${JSON.stringify(s.slice(0, 100))} is not a registry version`;
  }
  if (s === '' || s === '*' || isRange(s)) return undefined;
  if (/^[a-z+]+:/i.test(s) || s.includes('/') || s.startsWith('.') || s.startsWith('~/')) {
    return `${JSON.stringify(s.slice(0, 100))} is not in the registry (git, file, link, URL or workspace dependencies cannot be resolved as the registry stood)`;
  }
  return undefined;
}

function isRange(s: string): boolean {
  return semver.validRange(s, { loose: true }) !== null || DIST_TAG.test(s);
}

function overridesProblem(overrides: Record<string, unknown>, depth: number): string | undefined {
  if (depth > 8) return 'nested too deep';
  for (const [key, value] of Object.entries(overrides)) {
    if (typeof value === 'string') {
      // "$dep" refers to the root's own declaration of dep
      if (value.startsWith('$')) continue;
      const name = key === '.' ? 'root' : key.replace(/^(.+?)@[^@]*$/, '$1');
      const problem = registrySpecProblem(name, value);
      if (problem) return `${key}: ${problem}`;
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      const problem = overridesProblem(value as Record<string, unknown>, depth + 1);
      if (problem) return problem;
    } else {
      return `${key} is neither a version nor an object`;
    }
  }
  return undefined;
}
