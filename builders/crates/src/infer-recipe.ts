import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import { isObject, type MetadataFetch, type RecipeInference, type ReleasePurl, type SourceMapping, type SourceOverrides } from '@quorum/core';
import { downloadTemplateProblem, downloadUrl, indexPath, indexUrl, originOf, sriOfHexSha256 } from './crate-name.js';
import { readCrateFiles } from './read-crate.js';

/** The setting naming the origin crates are downloaded from (what the index's `config.json` `dl` must point at). */
export const CARGO_DOWNLOADS_SETTING = 'QUORUM_CARGO_DOWNLOADS';
/** @defaultValue crates.io's download host */
export const CARGO_DOWNLOADS_DEFAULT = 'https://static.crates.io';

/** Most lines of an index file read (a crate's versions; the largest on crates.io have a few thousand). @defaultValue 100,000 */
export const MAX_INDEX_LINES = 100_000;

const HEX40 = /^[0-9a-f]{40}$/;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** What the crates builder reads of a crate version: its index entry, where it is downloaded, and what its `.crate` says of its source. */
export interface CratesMetadata {
  /** the index line of the version (absent: the index has no such version) */
  entry?: Record<string, unknown>;
  /** the `dl` template of the index's `config.json` */
  dl?: string;
  /** the `.crate`'s URL */
  crate?: string;
  /** why the `.crate` was not read (a download elsewhere than the configured host, a file that is not the one the index pins) */
  crateProblem?: string;
  /** the crate's `.cargo_vcs_info.json`, parsed */
  vcs?: unknown;
  /** what the crate's own (normalized) `Cargo.toml` declares */
  manifest?: { name?: string; version?: string; repository?: string };
}

/** The index line of one version in an index file (newline-delimited JSON), if there is one. */
export function indexEntry(text: string, version: string): Record<string, unknown> | undefined {
  let n = 0;
  for (const line of text.split('\n')) {
    if (++n > MAX_INDEX_LINES) break;
    // a cheap test first: most lines are other versions
    if (line.trim() === '' || !line.includes(`"${version}"`)) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (isObject(v) && v.vers === version) return v;
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * Reads a crate version's metadata from a sparse index (`registry`): its line of the index, and,
 * from its `.crate` (downloaded from the configured host and checked against the index's `cksum`),
 * the `.cargo_vcs_info.json` and `Cargo.toml` that say where its source is.
 */
export async function readCratesMetadata(purl: ReleasePurl, registry: string, fetch: MetadataFetch, settings: Readonly<Record<string, string>> = {}): Promise<CratesMetadata> {
  const config = await fetch(indexUrl(registry, 'config.json'), 'json');
  const dl = isObject(config) ? str(config.dl) : undefined;
  const text = await fetch(indexUrl(registry, indexPath(purl.name)), 'text');
  const entry = typeof text === 'string' ? indexEntry(text, purl.version) : undefined;
  if (!entry || !dl || typeof entry.name !== 'string' || typeof entry.cksum !== 'string') return { ...(entry ? { entry } : {}), ...(dl ? { dl } : {}) };
  const templateProblem = downloadTemplateProblem(dl);
  if (templateProblem) return { entry, dl, crate: dl, crateProblem: templateProblem };
  const crate = downloadUrl(dl, entry.name, purl.version, entry.cksum);
  const allowed = settings[CARGO_DOWNLOADS_SETTING] ?? CARGO_DOWNLOADS_DEFAULT;
  if (originOf(crate) === undefined || originOf(crate) !== originOf(allowed)) {
    return { entry, dl, crate, crateProblem: `the index sends downloads to ${originOf(crate) ?? JSON.stringify(crate.slice(0, 200))}, not to ${CARGO_DOWNLOADS_SETTING} (${allowed})` };
  }
  const bytes = await fetch(crate, 'bytes');
  if (!(bytes instanceof Uint8Array)) return { entry, dl, crate, crateProblem: 'the .crate could not be read' };
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== entry.cksum) return { entry, dl, crate, crateProblem: `the download is not the .crate the index pins (its sha256 is ${sha}, the index says ${entry.cksum.slice(0, 64)})` };
  const root = `${entry.name}-${purl.version}`;
  let files: Record<string, Buffer>;
  try {
    files = await readCrateFiles(bytes, [`${root}/.cargo_vcs_info.json`, `${root}/Cargo.toml`]);
  } catch (e) {
    return { entry, dl, crate, crateProblem: `the .crate is not a gzipped tar (${(e as Error).message})` };
  }
  const out: CratesMetadata = { entry, dl, crate };
  const vcs = files[`${root}/.cargo_vcs_info.json`];
  if (vcs) {
    try {
      out.vcs = JSON.parse(vcs.toString('utf8')) as unknown;
    } catch {
      // an unreadable record is no record: the version's tags are tried instead
    }
  }
  const toml = files[`${root}/Cargo.toml`];
  if (toml) {
    try {
      const pkg = (parseToml(toml.toString('utf8')) as Record<string, unknown>).package;
      if (isObject(pkg)) {
        out.manifest = {
          ...(str(pkg.name) ? { name: str(pkg.name)! } : {}),
          ...(str(pkg.version) ? { version: str(pkg.version)! } : {}),
          ...(str(pkg.repository) ? { repository: str(pkg.repository)! } : {}),
        };
      }
    } catch {
      // a manifest that is not TOML names no repository
    }
  }
  return out;
}

/** Hosts whose repository URLs are `https://host/owner/repo`, with deeper paths pointing into the tree. */
const OWNER_REPO_HOSTS = new Set(['github.com', 'gitlab.com', 'codeberg.org', 'bitbucket.org']);

/** The clonable repository a Cargo.toml `repository` names (http or https), if it names one. */
export function repositoryOfManifest(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username || url.password) return undefined;
  url.hash = '';
  url.search = '';
  const parts = url.pathname.split('/').filter((p) => p !== '');
  if (OWNER_REPO_HOSTS.has(url.hostname.toLowerCase()) && parts.length >= 2) url.pathname = `/${parts[0]}/${parts[1]!.replace(/\.git$/, '')}`;
  return url.toString().replace(/\/+$/, '');
}

/** A `path_in_vcs` that is a plain relative directory (no `..`, no absolute path), else undefined. */
function safeDirectory(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (v === '') return '';
  if (v.length > 500 || v.startsWith('/') || v.includes('\\') || v.split('/').some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return v;
}

/**
 * Infers the published `.crate` and the source recipe of a crate version. Pure. The repository is
 * the override's, else the crate's own `Cargo.toml` `repository`, else the operator's mapping. The
 * commit is the one cargo recorded when packing (`.cargo_vcs_info.json` `git.sha1`, with the
 * package's directory `path_in_vcs`), else the version's usual tags.
 */
export function inferCratesRecipe(purl: ReleasePurl, metadata: unknown, overrides: SourceOverrides, mapping?: SourceMapping): RecipeInference {
  const doc = (isObject(metadata) ? metadata : {}) as CratesMetadata;
  const version = purl.version;
  const entry = isObject(doc.entry) ? doc.entry : undefined;
  if (!entry) return { ok: false, code: 'version-not-found', message: `the index has no version ${version} of the crate ${purl.name}` };
  if (entry.name !== purl.name) return { ok: false, code: 'version-not-found', message: `the index names this crate ${JSON.stringify(String(entry.name).slice(0, 100))}, not ${purl.name}` };
  const integrity = sriOfHexSha256(entry.cksum);
  if (!integrity || !doc.crate) return { ok: false, code: 'no-artifact', message: `the index gives no sha256 checksum or download for ${purl.name}@${version}` };
  const upstream = { url: doc.crate, integrity, filename: `${purl.name}-${version}.crate` };
  if (doc.crateProblem) return { ok: false, code: 'no-artifact', message: doc.crateProblem, upstream };

  const steps: string[] = [];
  const notes: string[] = [];
  if (entry.yanked === true) notes.push(`${purl.name}@${version} is yanked from the index`);
  const vcs = isObject(doc.vcs) ? doc.vcs : {};
  const git = isObject(vcs.git) ? vcs.git : {};
  const sha1 = typeof git.sha1 === 'string' && HEX40.test(git.sha1) ? git.sha1 : undefined;
  if (git.dirty === true) notes.push("the publisher packed the crate from a working tree with uncommitted changes (its .cargo_vcs_info.json says dirty): files may differ from the commit's");
  const pathInVcs = safeDirectory(vcs.path_in_vcs);
  if (vcs.path_in_vcs !== undefined && pathInVcs === undefined)
    steps.push(`WARNING: the crate's path_in_vcs ${JSON.stringify(String(vcs.path_in_vcs).slice(0, 200))} is not a relative directory: ignored`);

  let repo: string | undefined;
  let origin: 'registry' | 'mapping' | 'override' = 'registry';
  let directory = pathInVcs ?? '';
  const declared = doc.manifest?.repository !== undefined ? repositoryOfManifest(doc.manifest.repository) : undefined;
  if (overrides.repo) {
    repo = overrides.repo;
    origin = 'override';
    steps.push(`repository from the submission: ${repo}`);
  } else if (declared) {
    repo = declared;
    steps.push(`repository from the crate's Cargo.toml: ${repo}`);
  } else if (mapping) {
    repo = mapping.repo;
    origin = 'mapping';
    directory = pathInVcs ?? mapping.directory ?? '';
    steps.push(`repository from the operator's source mapping: ${repo}`);
  }
  if (!repo) {
    const why = doc.manifest?.repository ? `its repository ${JSON.stringify(doc.manifest.repository.slice(0, 200))} is not an http(s) URL` : 'it declares no repository';
    return { ok: false, code: 'source-not-found', message: `the crate ${purl.name}@${version} names no source: ${why}; an operator can map it`, upstream };
  }
  if (directory) steps.push(`package directory from the crate's path_in_vcs: ${directory}`);

  const base = { origin, repo, ...(directory ? { directory } : {}) };
  // dependencies are downloaded by the same template, from the release's own (checked) download origin only
  const facts = { crateName: purl.name, downloadTemplate: doc.dl ?? '', downloadOrigin: originOf(doc.crate) ?? '', packageDirectory: directory };
  const publishedAt = str(entry.pubtime) && !Number.isNaN(Date.parse(str(entry.pubtime)!)) ? new Date(Date.parse(str(entry.pubtime)!)).toISOString() : undefined;
  const result = (source: { commit?: string; refs: string[] }, extra: string[]): RecipeInference => ({
    ok: true,
    upstream,
    source: { ...base, ...source, steps: [...steps, ...extra] },
    toolchain: {},
    facts,
    notes,
    ...(publishedAt ? { publishedAt } : {}),
  });
  if (overrides.ref) {
    base.origin = 'override';
    if (/^[0-9a-f]{40}$/i.test(overrides.ref)) return result({ commit: overrides.ref.toLowerCase(), refs: [] }, [`commit from the submission: ${overrides.ref}`]);
    return result({ refs: [overrides.ref] }, [`ref from the submission: ${overrides.ref}`]);
  }
  if (sha1) return result({ commit: sha1, refs: [] }, [`commit from the crate's .cargo_vcs_info.json: ${sha1}`]);
  const refs = [`v${version}`, version, `${purl.name}-v${version}`, `${purl.name}-${version}`];
  return result({ refs }, [`the crate records no commit (no .cargo_vcs_info.json): trying the tags ${refs.join(', ')}`]);
}
