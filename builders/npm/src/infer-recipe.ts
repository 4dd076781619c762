import { normalizeRepoDirectory, repoDirectoryProblem, type RecipeInference, type ReleasePurl, type SourceMapping, type SourceOrigin, type SourceOverrides, type UpstreamArtifact } from '@quorum/core';
import { chooseNode } from './choose-node.js';
import { NPM_RELEASES } from './npm-releases.js';
import { normalizeRepositoryUrl } from './repository.js';

/** The fields of a packument version document that recipe inference reads. */
interface PackumentVersion {
  name?: string;
  version?: string;
  repository?: string | { type?: string; url?: string; directory?: string };
  gitHead?: string;
  _npmVersion?: string;
  _nodeVersion?: string;
  packageManager?: unknown;
  engines?: { node?: unknown };
  dist?: { tarball?: string; integrity?: string; shasum?: string };
}

const COMMIT = /^[0-9a-f]{40}$/i;
/** A version the recipe may pin a tool at; anything else in a packument is ignored. */
const VERSION = /^[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]{1,64})?$/;

/** A name part npm's registry can hold (legacy names may have capitals); never `.`/`..`-like or path-like. */
const NAME_PART = /^[A-Za-z0-9~-][A-Za-z0-9._~-]{0,213}$/;
/** A semver version, with pre-release and build parts. */
const PURL_VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,255}$/;

/** Why a purl cannot name an npm package version, if it cannot. */
export function npmPurlProblem(purl: { namespace: string | undefined; name: string; version: string | undefined }): string | undefined {
  const scope = purl.namespace;
  if (scope !== undefined && !(scope.startsWith('@') && NAME_PART.test(scope.slice(1)))) return `"${scope.slice(0, 100)}" is not an npm scope`;
  if (!NAME_PART.test(purl.name) || (scope ? scope.length + 1 + purl.name.length : purl.name.length) > 214) return `"${purl.name.slice(0, 100)}" is not an npm package name`;
  if (purl.version !== undefined && !PURL_VERSION.test(purl.version)) return `"${purl.version.slice(0, 100)}" is not an npm version`;
  return undefined;
}

/** Full npm package name of a purl (`@scope/name` or `name`). */
export function npmName(purl: Pick<ReleasePurl, 'namespace' | 'name'>): string {
  return purl.namespace ? `${purl.namespace}/${purl.name}` : purl.name;
}

/** The published tarball of one version in a packument. */
export function npmArtifactIn(packument: unknown, version: string): UpstreamArtifact | undefined {
  const v = (packument as { versions?: Record<string, PackumentVersion> } | null)?.versions?.[version];
  return v && typeof v === 'object' ? upstreamOf(v) : undefined;
}

/** A file name safe to store and show: the URL's last segment, or a fixed name. */
function artifactFilename(url: URL): string {
  let last = url.pathname.split('/').pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    // keep it encoded
  }
  return /^[A-Za-z0-9@._+-]{1,200}$/.test(last) && last !== '.' && last !== '..' ? last : 'artifact.tgz';
}

function upstreamOf(v: PackumentVersion): UpstreamArtifact | undefined {
  const tarball = v.dist?.tarball;
  if (typeof tarball !== 'string' || tarball.length > 4096) return undefined;
  let url: URL;
  try {
    url = new URL(tarball);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  let integrity = typeof v.dist?.integrity === 'string' ? v.dist.integrity : undefined;
  if (!integrity && typeof v.dist?.shasum === 'string' && /^[0-9a-f]{40}$/i.test(v.dist.shasum)) {
    integrity = `sha1-${Buffer.from(v.dist.shasum, 'hex').toString('base64')}`;
  }
  if (!integrity || !/^(sha1|sha256|sha384|sha512)-[A-Za-z0-9+/=]+/.test(integrity.trim())) return undefined;
  return { url: tarball, integrity: integrity.trim(), filename: artifactFilename(url) };
}

/**
 * Infers the published artifact and the source recipe of one npm release from its packument.
 * Order: override repo, else `repository` (+ `directory`), else the operator's mapping (+ its
 * directory); commit from override, else `gitHead`, else tags `v<version>`, `<version>`,
 * `<name>@<version>`, `<name>-v<version>`. A declared directory that leaves the repository is refused.
 */
export function inferNpmRecipe(purl: ReleasePurl, packument: unknown, overrides: SourceOverrides, mapping?: SourceMapping): RecipeInference {
  const name = npmName(purl);
  const versions = (packument as { versions?: Record<string, PackumentVersion> } | null)?.versions;
  const v = versions && typeof versions === 'object' && Object.hasOwn(versions, purl.version) ? versions[purl.version] : undefined;
  if (!v || typeof v !== 'object') return { ok: false, code: 'version-not-found', message: `${name}@${purl.version} is not in the registry` };
  const upstream = upstreamOf(v);
  if (!upstream) return { ok: false, code: 'no-artifact', message: `${name}@${purl.version} has no tarball with an integrity hash` };

  const steps: string[] = [];
  const declared = typeof v.repository === 'string' ? { url: v.repository } : v.repository && typeof v.repository === 'object' ? v.repository : {};
  const declaredRepo = typeof declared.url === 'string' ? normalizeRepositoryUrl(declared.url) : undefined;
  let repo: string | undefined;
  let origin: SourceOrigin = 'registry';
  let rawDirectory: unknown;
  if (overrides.repo) {
    repo = normalizeRepositoryUrl(overrides.repo);
    origin = 'override';
    steps.push(`repo from submission override: ${overrides.repo}`);
  } else if (declaredRepo) {
    repo = declaredRepo;
    rawDirectory = declared.directory;
    steps.push(`repo from package.json repository: ${declared.url}`);
  } else if (mapping) {
    repo = normalizeRepositoryUrl(mapping.repo);
    origin = 'mapping';
    rawDirectory = mapping.directory;
    steps.push(`repo from the operator's source mapping: ${mapping.repo}`);
  }
  if (!repo) {
    return {
      ok: false,
      code: 'source-not-found',
      message: `${name}@${purl.version} declares no usable repository; an operator can map its source, or a maintainer submit with --repo`,
      upstream,
    };
  }
  let directory: string | undefined;
  if (rawDirectory !== undefined && rawDirectory !== null) {
    const problem = typeof rawDirectory === 'string' ? repoDirectoryProblem(rawDirectory) : 'repository directory is not a string';
    if (problem) return { ok: false, code: 'source-refused', message: `${name}@${purl.version}: ${problem}`, upstream };
    directory = normalizeRepoDirectory(rawDirectory as string) || undefined;
  }
  if (directory) steps.push(`directory from ${origin === 'mapping' ? 'the mapping' : 'repository.directory'}: ${directory}`);

  let commit: string | undefined;
  let refs: string[] = [];
  if (overrides.ref) {
    if (COMMIT.test(overrides.ref)) commit = overrides.ref.toLowerCase();
    else refs = [overrides.ref];
    origin = 'override';
    steps.push(`ref from submission override: ${overrides.ref}`);
  } else if (typeof v.gitHead === 'string' && COMMIT.test(v.gitHead)) {
    commit = v.gitHead.toLowerCase();
    steps.push(`commit from gitHead: ${commit}`);
  } else {
    const bare = purl.name;
    refs = [...new Set([`v${purl.version}`, purl.version, `${name}@${purl.version}`, `${bare}-v${purl.version}`])];
    steps.push(`no gitHead: trying tags ${refs.join(', ')}`);
  }
  const publishedAt = publishTime(packument, purl.version);
  const toolchain = toolchainOf(v, publishedAt);
  if (!toolchain.ok) return { ok: false, code: 'toolchain-unavailable', message: `${name}@${purl.version}: ${toolchain.message}`, upstream };
  return {
    ok: true,
    upstream,
    source: { origin, repo, ...(commit ? { commit } : {}), refs, ...(directory ? { directory } : {}), steps },
    toolchain: toolchain.versions,
    ...(publishedAt ? { publishedAt } : {}),
    ...(toolchain.notes.length ? { notes: toolchain.notes } : {}),
    // pnpm's pack drops packageManager from the manifest it publishes, npm's keeps it
    facts: { [PUBLISHED_PACKAGE_MANAGER]: typeof v.packageManager === 'string' ? 'present' : 'absent' },
  };
}

/** The fact naming whether the published manifest (the packument's version document) has a `packageManager`. */
export const PUBLISHED_PACKAGE_MANAGER = 'publishedPackageManager';

/** The registry's publish time of a version (`time[version]`), when it is a date. */
function publishTime(packument: unknown, version: string): string | undefined {
  const time = (packument as { time?: unknown } | null)?.time;
  const value = time && typeof time === 'object' && Object.hasOwn(time, version) ? (time as Record<string, unknown>)[version] : undefined;
  if (typeof value !== 'string' || value.length > 64 || Number.isNaN(Date.parse(value))) return undefined;
  return new Date(value).toISOString();
}

/**
 * The publisher's Node and npm: as the registry recorded them (`_nodeVersion`, `_npmVersion`), or
 * chosen by rule when it did not (the newest LTS Node satisfying `engines.node` on the publish day, and
 * the npm bundled with it), with a note saying so.
 */
function toolchainOf(v: PackumentVersion, publishedAt: string | undefined): { ok: true; versions: Record<string, string>; notes: string[] } | { ok: false; message: string } {
  const recordedNode = typeof v._nodeVersion === 'string' ? v._nodeVersion.replace(/^v/, '') : undefined;
  const engines = typeof v.engines?.node === 'string' ? v.engines.node : undefined;
  const node = chooseNode(recordedNode && VERSION.test(recordedNode) ? recordedNode : undefined, engines, publishedAt);
  if (!node.ok) return node;
  const versions: Record<string, string> = { node: node.version };
  const notes: string[] = [];
  if (node.inferred) notes.push(`Node inferred: ${node.why}`);
  if (typeof v._npmVersion === 'string' && VERSION.test(v._npmVersion)) versions.npm = v._npmVersion;
  else if (node.npm && Object.hasOwn(NPM_RELEASES, node.npm)) {
    versions.npm = node.npm;
    notes.push(`npm inferred: the registry did not record the publisher's npm; chose ${node.npm}, the npm bundled with Node ${node.version}`);
  }
  return { ok: true, versions, notes };
}
