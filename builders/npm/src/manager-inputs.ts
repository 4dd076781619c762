import type { BuildInput, InputsDecision, RegistryInput } from '@quorum/core';
import { type LockedPackage, type LockedPackages, isMap, registryBase, registryTarballUrl, shown } from './locked-packages.js';
import { type DeclaredManager, type ManagerKind, inferPnpm, inferYarn, parsePackageManager, pinManager, yarnKind } from './package-manager.js';
import { PUBLISHED_PACKAGE_MANAGER } from './infer-recipe.js';
import { pnpmLockedDependencies } from './pnpm-lock.js';
import { yarnLockedDependencies } from './yarn-lock.js';

/** Files the yarn/pnpm path reads besides npm's own: the package's and, in a monorepo, the workspace root's. */
export const MANAGER_PLAN_FILES = ['yarn.lock', 'pnpm-lock.yaml', '.yarnrc.yml', 'root/package.json', 'root/yarn.lock', 'root/pnpm-lock.yaml', 'root/.yarnrc.yml'] as const;

/** Where the offline install finds its tarballs under the inputs mount. */
export const REGISTRY_DEPS_DIR = 'deps/registry';
export const MIRROR_DEPS_DIR = 'deps/mirror';

/** The lockfile of each manager. */
const LOCKFILE: Record<'yarn' | 'pnpm', string> = { yarn: 'yarn.lock', pnpm: 'pnpm-lock.yaml' };

/** Dependency fields whose `workspace:`/`catalog:` specifiers only yarn's and pnpm's pack rewrite. */
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;

/** `publishConfig` keys that only tell the publishing client where and how to publish, which npm reads too. */
const PUBLISH_ONLY_KEYS = new Set(['registry', 'access', 'tag', 'provenance']);

/** What the build was decided to do, handed to `plan()` as plan options. */
export interface ManagerPlan {
  manager: ManagerKind;
  /** the manager's version, for the record */
  managerVersion: string;
  /** where the install runs: the package directory, or the repository root (a workspace) */
  installAt: 'package' | 'root';
  /** who packs: the project's manager when only its pack makes the published manifest, else npm */
  pack: 'npm' | 'yarn' | 'pnpm';
  /** `<algorithm>:<hex>` of the project's packageManager hash, and what it covers */
  managerHash?: string;
  managerHashOf?: string;
}

type Files = Record<string, string | undefined>;

/** The `packageManager` that applies: the package's own, else the workspace root's (as Corepack looks upward). */
function declaredManager(manifest: Record<string, unknown>, files: Files): { declared?: DeclaredManager; where?: string; problem?: string } {
  const own = parsePackageManager(manifest.packageManager);
  if (typeof own === 'string') return { problem: own };
  if (own) return { declared: own, where: 'package.json' };
  const rootText = files['root/package.json'];
  if (rootText === undefined) return {};
  let root: unknown;
  try {
    root = JSON.parse(rootText);
  } catch {
    return {};
  }
  const atRoot = parsePackageManager(isMap(root) ? root.packageManager : undefined);
  if (typeof atRoot === 'string') return { problem: `the repository root's ${atRoot}` };
  return atRoot ? { declared: atRoot, where: "the repository root's package.json" } : {};
}

/** The lockfile of a manager: the package directory's, else the workspace root's. */
function lockfileOf(manager: 'yarn' | 'pnpm', files: Files): { text: string; at: 'package' | 'root' } | undefined {
  const name = LOCKFILE[manager];
  if (files[name] !== undefined) return { text: files[name]!, at: 'package' };
  if (files[`root/${name}`] !== undefined) return { text: files[`root/${name}`]!, at: 'root' };
  return undefined;
}

/** Whether only the project's manager can pack the manifest that was published (npm would publish `workspace:` ranges as they are). */
export function needsManagerPack(manifest: Record<string, unknown>, facts: Record<string, string> = {}): string | undefined {
  for (const field of DEPENDENCY_FIELDS) {
    const deps = manifest[field];
    if (!isMap(deps)) continue;
    for (const [name, spec] of Object.entries(deps)) {
      if (typeof spec === 'string' && /^(workspace|catalog):/.test(spec)) return `${field} ${shown(name)} uses ${spec.split(':')[0]}:, which only its pack rewrites`;
    }
  }
  const publishConfig = manifest.publishConfig;
  if (isMap(publishConfig)) {
    const key = Object.keys(publishConfig).find((k) => !PUBLISH_ONLY_KEYS.has(k));
    if (key !== undefined) return `publishConfig.${shown(key)} overrides a manifest field, which only its pack applies`;
  }
  // the package's own package.json names pnpm, and the published one has no packageManager: pnpm's
  // pack drops the field, npm's keeps it
  if (typeof manifest.packageManager === 'string' && manifest.packageManager.startsWith('pnpm@') && facts[PUBLISHED_PACKAGE_MANAGER] === 'absent') {
    return 'the published package.json has no packageManager, which pnpm pack drops and npm pack keeps';
  }
  return undefined;
}

/** A safe relative path below the registry layout for a tarball URL under the farm's registry, or undefined. */
function registryPath(url: string, base: string): string | undefined {
  if (!url.startsWith(base)) return undefined;
  let rel: string;
  try {
    rel = decodeURIComponent(url.slice(base.length).split(/[?#]/)[0]!);
  } catch {
    return undefined;
  }
  const segments = rel.split('/');
  if (segments.length < 3 || segments.length > 5 || !segments.every((s) => /^[A-Za-z0-9@._~+-]{1,214}$/.test(s) && s !== '.' && s !== '..')) return undefined;
  return rel;
}

/**
 * The name yarn 1 gives a tarball in its offline mirror (`@scope-name-1.0.0.tgz`, else the URL's last
 * segment), after yarn's own rule, so that `--offline` finds it there.
 */
export function yarnMirrorName(url: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const m = /\/(?:(@[^/]+)(?:\/|%2f))?[^/]+\/(?:-|_attachments)\/(?:@[^/]+\/)?([^/]+)$/.exec(pathname);
  const name = m ? (m[1] ? `${m[1]}-${m[2]}` : m[2]!) : (pathname.split('/').pop() ?? '');
  return /^[A-Za-z0-9@][A-Za-z0-9@._+-]{0,199}$/.test(name) ? name : undefined;
}

/** One input per mirror file name; two tarballs that yarn would file under one name cannot both be offline. */
function mirrorInputs(packages: LockedPackage[]): { inputs: BuildInput[] } | { message: string } {
  const byName = new Map<string, BuildInput>();
  for (const p of packages) {
    const name = yarnMirrorName(p.url);
    if (!name) return { message: `${shown(p.url)} has no file name yarn's offline mirror can hold` };
    const seen = byName.get(name);
    if (seen && seen.integrity !== p.integrity) return { message: `two locked tarballs would share the offline mirror name ${shown(name)}` };
    byName.set(name, { url: p.url, integrity: p.integrity!, path: `${MIRROR_DEPS_DIR}/${name}` });
  }
  return { inputs: [...byName.values()].sort((a, b) => a.path.localeCompare(b.path)) };
}

/**
 * Tarballs laid out as the registry serves them, for the loopback registry the build starts: the
 * manager asks it for `<name>/-/<file>.tgz`. A tarball the lockfile names by its own URL is fetched
 * by the manager from that URL, which a build without network cannot reach.
 */
function registryInputs(packages: LockedPackage[], base: string): { inputs: BuildInput[]; registry: RegistryInput[] } | { message: string } {
  const byPath = new Map<string, LockedPackage>();
  for (const p of packages) {
    const conventional = p.version ? registryTarballUrl(base, p.name, p.version) : undefined;
    if (p.namedUrl || conventional === undefined || p.url !== conventional) {
      return { message: `${shown(p.name || p.url)} is locked to its own tarball URL, which the package manager would fetch as written; only registry packages can be installed offline` };
    }
    const path = registryPath(conventional, base);
    if (!path) return { message: `${shown(p.name)} has a name or version that cannot be laid out as a registry path` };
    const seen = byPath.get(path);
    if (seen && seen.integrity !== p.integrity) return { message: `${shown(p.name)}@${shown(p.version)} is locked twice with different integrity` };
    byPath.set(path, p);
  }
  const inputs: BuildInput[] = [];
  const registry: RegistryInput[] = [];
  for (const [path, p] of [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const target = `${REGISTRY_DEPS_DIR}/${path}`;
    if (p.integrity) inputs.push({ url: p.url, integrity: p.integrity, path: target });
    else registry.push({ purl: purlOf(p.name, p.version), path: target });
  }
  return { inputs, registry };
}

/** The purl of a registry package (scoped names keep their scope as the namespace). */
function purlOf(name: string, version: string): string {
  const [scope, bare] = name.startsWith('@') ? (name.split('/') as [string, string]) : [undefined, name];
  return `pkg:npm/${scope ? `${encodeURIComponent(scope)}/` : ''}${encodeURIComponent(bare)}@${encodeURIComponent(version)}`;
}

/** The `yarnPath` a `.yarnrc.yml` names, for the record. */
function yarnPathIn(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  // line by line: a regular expression over the whole file backtracks for hours on a hostile one
  for (const line of text.split('\n')) {
    if (!line.startsWith('yarnPath:')) continue;
    const value = line
      .slice('yarnPath:'.length)
      .trim()
      .replace(/^["']|["']$/g, '');
    return value.length > 0 && value.length <= 200 && !/["'#]/.test(value) ? value : undefined;
  }
  return undefined;
}

/**
 * Decides a yarn or pnpm build, or returns undefined when npm's own path applies: the project declares
 * npm, or it has no yarn.lock / pnpm-lock.yaml (in the package directory, else at the workspace root)
 * for the manager it declares, or it declares none and has an npm lockfile of its own.
 */
export function decideManagerInputs(
  files: Files,
  manifest: Record<string, unknown>,
  registry: string,
  facts: Record<string, string> = {},
): (Omit<InputsDecision, 'tools'> & { tools: InputsDecision['tools']; plan?: ManagerPlan }) | undefined {
  const found = declaredManager(manifest, files);
  const notes: string[] = [];
  const fail = (code: string, message: string) => ({ tools: [], dependencies: [], install: false, notes, problem: { code, message } });
  if (found.problem) {
    // a packageManager value Corepack itself would refuse: the maintainer's checkout could not have run it
    return fail('toolchain-unavailable', found.problem);
  }
  const declared = found.declared;
  if (declared?.name === 'npm') return undefined;
  let manager: 'yarn' | 'pnpm';
  if (declared) {
    manager = declared.name as 'yarn' | 'pnpm';
  } else {
    if (files['npm-shrinkwrap.json'] !== undefined || files['package-lock.json'] !== undefined) return undefined;
    const own = files['yarn.lock'] !== undefined ? 'yarn' : files['pnpm-lock.yaml'] !== undefined ? 'pnpm' : undefined;
    const atRoot = files['root/yarn.lock'] !== undefined ? 'yarn' : files['root/pnpm-lock.yaml'] !== undefined ? 'pnpm' : undefined;
    if (!own && !atRoot) return undefined;
    manager = (own ?? atRoot)!;
  }
  const lock = lockfileOf(manager, files);
  if (!lock) return undefined;
  const lockName = `${lock.at === 'root' ? "the repository root's " : ''}${LOCKFILE[manager]}`;
  const base = registryBase(registry);

  let kind: ManagerKind;
  let version: string;
  if (declared) {
    kind = manager === 'pnpm' ? 'pnpm' : yarnKind(declared.version);
    version = declared.version;
  } else {
    const chosen = manager === 'pnpm' ? inferPnpm(lock.text) : inferYarn(lock.text);
    if (typeof chosen === 'string') return fail('toolchain-unavailable', chosen);
    ({ kind, version } = chosen);
    notes.push(`package manager inferred: package.json has no packageManager field; chose ${chosen.why}`);
  }
  const pin = pinManager(kind, version, declared?.hash);
  if (!pin.ok) return fail(pin.code, pin.message);
  notes.push(...pin.notes);

  const locked: LockedPackages = manager === 'pnpm' ? pnpmLockedDependencies(lock.text, registry) : yarnLockedDependencies(lock.text, registry);
  if (!locked.ok) return fail('unpinned-dependency', `${lockName}: ${locked.message}`);
  const berryLock = manager === 'yarn' && !/^(#.*\r?\n)*?#\s+yarn\s+lockfile\s+v1\r?\n/i.test(lock.text);
  if (manager === 'yarn' && berryLock !== (kind === 'yarn-berry')) {
    return fail('build-error', `${lockName} is a ${berryLock ? 'yarn 2+' : 'yarn 1'} lockfile, but the project's yarn is ${version}`);
  }
  let dependencies: BuildInput[];
  let registryDependencies: RegistryInput[] = [];
  if (kind === 'yarn-classic') {
    const got = mirrorInputs(locked.packages);
    if ('message' in got) return fail('unpinned-dependency', `${lockName}: ${got.message}`);
    dependencies = got.inputs;
  } else {
    const got = registryInputs(locked.packages, base);
    if ('message' in got) return fail('unpinned-dependency', `${lockName}: ${got.message}`);
    dependencies = got.inputs;
    registryDependencies = got.registry;
  }
  if (registryDependencies.length > 0) {
    notes.push(
      `${registryDependencies.length} of the packages in ${lockName} are pinned by yarn's own cache checksums only: their tarballs were checked against the registry's integrity, and yarn checked each against the lockfile`,
    );
  }
  const yarnPath = kind === 'yarn-berry' ? yarnPathIn(lock.at === 'root' ? files['root/.yarnrc.yml'] : files['.yarnrc.yml']) : undefined;
  if (yarnPath) notes.push(`yarn: the repository's own yarn release at ${shown(yarnPath)} (yarnPath in .yarnrc.yml) ran, as yarn ${version} hands over to it; it ran inside the build's sandbox only`);
  const packWith = needsManagerPack(manifest, facts);
  const managerName = manager === 'pnpm' ? 'pnpm' : 'yarn';
  // yarn 1 never rewrote workspace: ranges, and its pack is rarely what published
  const pack: ManagerPlan['pack'] = packWith && kind !== 'yarn-classic' ? managerName : 'npm';
  notes.push(pack === 'npm' ? `packed with npm pack: nothing in package.json needs ${managerName}'s pack, so how the publisher packed is not known` : `packed with ${managerName} pack: ${packWith}`);
  const plan: ManagerPlan = {
    manager: kind,
    managerVersion: version,
    installAt: lock.at,
    pack,
    ...(pin.hash ? { managerHash: pin.hash, managerHashOf: pin.hashOf } : {}),
  };
  return {
    tools: [pin.tool],
    dependencies,
    ...(registryDependencies.length > 0 ? { registryDependencies } : {}),
    install: true,
    notes,
    plan,
  };
}

/**
 * The npm builder's decision for a yarn or pnpm project, built on what npm's path already decided
 * (Node, npm, the `build` option), or undefined when npm's own path applies. A project that neither
 * builds nor needs its manager's pack installs nothing, whatever its manager.
 */
export function withPackageManager(
  files: Files,
  manifest: Record<string, unknown>,
  registry: string,
  base: { tools: InputsDecision['tools']; notes: string[]; planOptions: Record<string, string>; builds: boolean },
  facts: Record<string, string> = {},
): InputsDecision | undefined {
  if (!base.builds && needsManagerPack(manifest, facts) === undefined) return undefined;
  const got = decideManagerInputs(files, manifest, registry, facts);
  if (!got) return undefined;
  const { plan, ...decision } = got;
  return {
    ...decision,
    tools: [...base.tools, ...decision.tools],
    notes: [...base.notes, ...decision.notes],
    planOptions: { ...base.planOptions, ...(plan ? planOptionsOf(plan) : {}) },
  };
}

/** A manager plan as the string map `plan()` receives. */
function planOptionsOf(plan: ManagerPlan): Record<string, string> {
  return Object.fromEntries(Object.entries(plan).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
