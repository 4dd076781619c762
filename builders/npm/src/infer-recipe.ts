import type { RecipeInference, ReleasePurl, SourceOverrides, UpstreamArtifact } from '@quorum/core';
import { normalizeRepositoryUrl } from './repository.js';

/** The fields of a packument version document that recipe inference reads. */
interface PackumentVersion {
  name?: string;
  version?: string;
  repository?: string | { type?: string; url?: string; directory?: string };
  gitHead?: string;
  _npmVersion?: string;
  _nodeVersion?: string;
  dist?: { tarball?: string; integrity?: string; shasum?: string };
}

const COMMIT = /^[0-9a-f]{40}$/i;

/** Full npm package name of a purl (`@scope/name` or `name`). */
export function npmName(purl: Pick<ReleasePurl, 'namespace' | 'name'>): string {
  return purl.namespace ? `${purl.namespace}/${purl.name}` : purl.name;
}

/** The published tarball of one version in a packument. */
export function npmArtifactIn(packument: unknown, version: string): UpstreamArtifact | undefined {
  const v = (packument as { versions?: Record<string, PackumentVersion> } | null)?.versions?.[version];
  return v ? upstreamOf(v) : undefined;
}

function upstreamOf(v: PackumentVersion): UpstreamArtifact | undefined {
  const tarball = v.dist?.tarball;
  if (!tarball) return undefined;
  let integrity = v.dist?.integrity;
  if (!integrity && v.dist?.shasum && /^[0-9a-f]{40}$/i.test(v.dist.shasum)) {
    integrity = `sha1-${Buffer.from(v.dist.shasum, 'hex').toString('base64')}`;
  }
  if (!integrity) return undefined;
  const filename = decodeURIComponent(new URL(tarball).pathname.split('/').pop() ?? 'artifact.tgz');
  return { url: tarball, integrity, filename };
}

/**
 * Infers the published artifact and the source recipe of one npm release from its packument.
 * Order: override repo, else `repository` (+ `directory`); commit from override, else `gitHead`,
 * else tags `v<version>`, `<version>`, `<name>@<version>`, `<name>-v<version>`.
 */
export function inferNpmRecipe(purl: ReleasePurl, packument: unknown, overrides: SourceOverrides): RecipeInference {
  const name = npmName(purl);
  const versions = (packument as { versions?: Record<string, PackumentVersion> } | null)?.versions;
  const v = versions?.[purl.version];
  if (!v) return { ok: false, code: 'version-not-found', message: `${name}@${purl.version} is not in the registry` };
  const upstream = upstreamOf(v);
  if (!upstream) return { ok: false, code: 'no-artifact', message: `${name}@${purl.version} has no tarball with an integrity hash` };

  const steps: string[] = [];
  const declared = typeof v.repository === 'string' ? { url: v.repository } : (v.repository ?? {});
  let repo: string | undefined;
  if (overrides.repo) {
    repo = normalizeRepositoryUrl(overrides.repo);
    steps.push(`repo from submission override: ${overrides.repo}`);
  } else if (declared.url) {
    repo = normalizeRepositoryUrl(declared.url);
    steps.push(`repo from package.json repository: ${declared.url}`);
  }
  if (!repo) {
    return {
      ok: false,
      code: 'source-not-found',
      message: `${name}@${purl.version} declares no usable repository; submit with --repo`,
      upstream,
    };
  }
  const directory = declared.directory && !overrides.repo ? declared.directory.replace(/^\.?\/+|\/+$/g, '') : undefined;
  if (directory) steps.push(`directory from repository.directory: ${directory}`);

  let commit: string | undefined;
  let refs: string[] = [];
  if (overrides.ref) {
    if (COMMIT.test(overrides.ref)) commit = overrides.ref.toLowerCase();
    else refs = [overrides.ref];
    steps.push(`ref from submission override: ${overrides.ref}`);
  } else if (v.gitHead && COMMIT.test(v.gitHead)) {
    commit = v.gitHead.toLowerCase();
    steps.push(`commit from gitHead: ${commit}`);
  } else {
    const bare = purl.name;
    refs = [...new Set([`v${purl.version}`, purl.version, `${name}@${purl.version}`, `${bare}-v${purl.version}`])];
    steps.push(`no gitHead: trying tags ${refs.join(', ')}`);
  }
  const toolchain: Record<string, string> = {};
  if (v._npmVersion) toolchain.npm = v._npmVersion;
  if (v._nodeVersion) toolchain.node = v._nodeVersion;
  return {
    ok: true,
    upstream,
    source: { repo, ...(commit ? { commit } : {}), refs, ...(directory ? { directory } : {}), steps },
    toolchain,
  };
}
