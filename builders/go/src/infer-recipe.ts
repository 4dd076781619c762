import { isObject, type MetadataFetch, type RecipeInference, type ReleasePurl, type SourceMapping, type SourceOverrides } from '@quorum/core';
import { lookUpSum, parseSumDb, type SumDbRecord } from './sumdb.js';
import { escapeModuleText, goModulePath, majorSuffix, proxyFileUrl, pseudoVersionCommit } from './module-path.js';

/** What a module proxy's `.info` says of a version (the `Origin` block is what newer proxies record of the VCS). */
interface VersionInfo {
  Version?: unknown;
  Time?: unknown;
  Origin?: { VCS?: unknown; URL?: unknown; Subdir?: unknown; Ref?: unknown; Hash?: unknown };
}

/** Hosts whose module paths name the repository in their first three elements. */
const THREE_ELEMENT_HOSTS = new Set(['github.com', 'gitlab.com', 'bitbucket.org', 'codeberg.org']);

const HEX40 = /^[0-9a-f]{40}$/;

/** What the Go builder reads of a module version: the proxy's `.info` document, where its zip is, and what the checksum database proved. */
export interface GoMetadata {
  info: unknown;
  zip: string;
  /** the checksum database's record of the version, when one is configured */
  sum?: SumDbRecord & { db: string };
}

/** The setting naming the checksum database (`off`, or a GOSUMDB-style verifier key and URL). */
export const GOSUMDB_SETTING = 'QUORUM_GOSUMDB';

/**
 * Reads a module version's metadata from the module proxy (`registry`) and, unless the checksum
 * database is off, the `h1:` the database proves for it: the zip must then have that dirhash.
 */
export async function readGoMetadata(purl: ReleasePurl, proxy: string, fetch: MetadataFetch, settings: Readonly<Record<string, string>> = {}): Promise<GoMetadata> {
  const path = goModulePath(purl);
  const info = await fetch(proxyFileUrl(proxy, path, purl.version, 'info'), 'json');
  const db = parseSumDb(settings[GOSUMDB_SETTING] ?? 'off');
  const sum = db ? { ...(await lookUpSum(db, path, purl.version, fetch)), db: db.name } : undefined;
  return { info, zip: proxyFileUrl(proxy, path, purl.version, 'zip'), ...(sum ? { sum } : {}) };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The repository a module path names by its host's layout, and the module's directory inside it. */
export function repositoryOfPath(path: string): { repo: string; directory: string } | undefined {
  const e = path.split('/');
  if (THREE_ELEMENT_HOSTS.has(e[0]!) && e.length >= 3) return { repo: `https://${e.slice(0, 3).join('/')}`, directory: e.slice(3).join('/') };
  if (e[0] === 'golang.org' && e[1] === 'x' && e.length >= 3) return { repo: `https://go.googlesource.com/${e[2]}`, directory: e.slice(3).join('/') };
  return undefined;
}

/** Whether two repository URLs name the same repository (scheme, host case, a `.git` suffix and trailing slashes aside). */
export function sameRepository(a: string, b: string): boolean {
  const norm = (u: string): string | undefined => {
    try {
      const url = new URL(u);
      return `${url.host.toLowerCase()}${url.pathname.replace(/\/+$/, '').replace(/\.git$/, '')}`;
    } catch {
      return undefined;
    }
  };
  const [x, y] = [norm(a), norm(b)];
  return x !== undefined && x === y;
}

/**
 * The module's directory without a trailing major-version element: a module `…/v2` lives either in
 * the repository's `v2/` directory or at its root; the tag prefix is the same for both, and without
 * an Origin saying otherwise the root (the common layout) is what is built.
 */
function withoutMajor(directory: string, path: string): string {
  const major = majorSuffix(path);
  if (!major) return directory;
  if (directory === major) return '';
  return directory.endsWith(`/${major}`) ? directory.slice(0, -major.length - 1) : directory;
}

/** Where a module version's own tag is: `<directory>/<version>` for a module in a subdirectory, else the version. */
function tagOf(directory: string, path: string, version: string): string {
  const prefix = withoutMajor(directory, path);
  // a v2+ release of a module without a go.mod is tagged without the suffix the go command adds
  const tag = version.replace(/\+incompatible$/, '');
  return prefix === '' ? tag : `${prefix}/${tag}`;
}

/**
 * Infers the published zip and the source recipe of a Go module version from the proxy's `.info`
 * document. Pure. The repository is the override's, else the one the proxy recorded (`Origin.URL`),
 * else the one the module path names on a known host, else the operator's mapping. The commit is
 * found from the version's tag (`<subdir>/<version>`) and pinned at first sight; the commit the
 * proxy recorded for that tag is kept as what the registry recorded, so a tag moved since is said
 * loudly. A pseudo-version names its commit itself.
 */
export function inferGoRecipe(purl: ReleasePurl, metadata: unknown, overrides: SourceOverrides, mapping?: SourceMapping): RecipeInference {
  const path = goModulePath(purl);
  const version = purl.version;
  const doc = (isObject(metadata) ? metadata : {}) as Partial<GoMetadata>;
  const info = (isObject(doc.info) ? doc.info : {}) as VersionInfo;
  if (str(info.Version) !== version) return { ok: false, code: 'version-not-found', message: `the module proxy has no version ${version} of ${path}` };
  if (typeof doc.zip !== 'string' || !/^https?:\/\//.test(doc.zip)) return { ok: false, code: 'no-artifact', message: `no zip URL for ${path}@${version}` };
  const sum = isObject(doc.sum) && typeof doc.sum.h1 === 'string' ? (doc.sum as GoMetadata['sum'])! : undefined;
  const upstream = { url: doc.zip, integrity: sum?.h1 ?? '', filename: `${escapeModuleText(path).split('/').pop()}@${version}.zip` };
  const steps: string[] = [];
  const origin = info.Origin && typeof info.Origin === 'object' ? info.Origin : {};
  const originGit = str(origin.VCS) === 'git';
  let repo: string | undefined;
  let directory = '';
  let sourceOrigin: 'registry' | 'mapping' | 'override' = 'registry';
  const byPath = repositoryOfPath(path);
  const originUrl = originGit ? str(origin.URL) : undefined;
  // the proxy's Origin is the proxy's word, not the module owner's: it counts where it agrees with
  // the module path (or names the only repository known), never to move the source elsewhere
  let originAgrees = false;
  if (overrides.repo) {
    repo = overrides.repo;
    sourceOrigin = 'override';
    steps.push(`repository from the submission: ${repo}`);
    directory = byPath?.directory ?? '';
  } else if (byPath) {
    ({ repo, directory } = byPath);
    originAgrees = originUrl !== undefined && sameRepository(originUrl, byPath.repo);
    if (originAgrees && str(origin.Subdir) !== undefined) directory = str(origin.Subdir)!;
    steps.push(`repository from the module path: ${repo}${directory ? ` (directory ${directory})` : ''}`);
    if (originUrl !== undefined && !originAgrees) steps.push(`WARNING: the module proxy's Origin names another repository (${originUrl.slice(0, 300)}); the module path's is the source`);
  } else if (mapping) {
    repo = mapping.repo;
    directory = mapping.directory ?? '';
    sourceOrigin = 'mapping';
    steps.push(`repository from the operator's source mapping: ${repo}`);
    originAgrees = originUrl !== undefined && sameRepository(originUrl, mapping.repo);
  } else if (originUrl !== undefined) {
    // nothing but the proxy names this repository (go-import discovery is not done): built and
    // shown, but a verdict about it never answers for the module
    repo = originUrl;
    directory = str(origin.Subdir) ?? '';
    sourceOrigin = 'override';
    originAgrees = true;
    steps.push(
      `repository from the module proxy's Origin record only: ${repo}${directory ? ` (directory ${directory})` : ''}; not the module's own word, so the verdict does not answer for the module (an operator mapping makes it so)`,
    );
  }
  if (!repo) {
    return {
      ok: false,
      code: 'source-not-found',
      message: `the module proxy records no repository for ${path} and its host's layout is not known (go-import discovery is not done): an operator can map it`,
      upstream,
    };
  }
  // the module lives in its major-version directory when the proxy says so; else at the code directory
  directory = withoutMajor(directory, path) === directory || (originAgrees && str(origin.Subdir) !== undefined) ? directory : withoutMajor(directory, path);
  const publishedAt = str(info.Time) && !Number.isNaN(Date.parse(str(info.Time)!)) ? new Date(Date.parse(str(info.Time)!)).toISOString() : undefined;
  const recordedHash = originAgrees && str(origin.Hash) && HEX40.test(str(origin.Hash)!) ? str(origin.Hash)! : undefined;
  const recordedRef = str(origin.Ref)?.startsWith('refs/tags/') ? str(origin.Ref)!.slice('refs/tags/'.length) : undefined;

  const base: { origin: 'registry' | 'mapping' | 'override'; repo: string; directory?: string } = { origin: sourceOrigin, repo, ...(directory ? { directory } : {}) };
  const result = (source: { commit?: string; refs: string[]; recorded?: { ref: string; commit: string } }, extraSteps: string[]): RecipeInference => ({
    ok: true,
    upstream,
    source: { ...base, ...source, steps: [...steps, ...extraSteps] },
    toolchain: {},
    facts: { modulePath: path },
    notes: [
      sum
        ? `the checksum database ${sum.db} records ${sum.h1} for ${path}@${version} (record ${sum.id}, proven in its signed tree of ${sum.treeSize})`
        : "no checksum database was asked: the zip is the module proxy's word",
    ],
    ...(publishedAt ? { publishedAt } : {}),
  });
  if (overrides.ref) {
    // a submitter's ref is their choice of source, not the module's: never the answer for the purl
    base.origin = 'override';
    if (/^[0-9a-f]{40}$/i.test(overrides.ref)) return result({ commit: overrides.ref.toLowerCase(), refs: [] }, [`commit from the submission: ${overrides.ref}`]);
    return result({ refs: [overrides.ref] }, [`ref from the submission: ${overrides.ref}`]);
  }
  const pseudo = pseudoVersionCommit(version);
  if (pseudo) {
    if (recordedHash?.startsWith(pseudo)) return result({ commit: recordedHash, refs: [] }, [`commit from the pseudo-version ${pseudo}, completed by the proxy's Origin record: ${recordedHash}`]);
    return { ok: false, code: 'source-not-found', message: `${version} is a pseudo-version naming commit ${pseudo}, and the module proxy records no full commit hash for it`, upstream };
  }
  const tag = tagOf(directory, path, version);
  const recorded = recordedHash && recordedRef === tag ? { ref: tag, commit: recordedHash } : undefined;
  return result({ refs: [tag], ...(recorded ? { recorded } : {}) }, [`commit from the tag ${tag}${recorded ? ` (the module proxy recorded it at ${recorded.commit})` : ''}`]);
}
