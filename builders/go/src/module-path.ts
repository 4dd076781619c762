import type { ReleasePurl } from '@quorum/core';

/** The module path a `pkg:golang/…` purl names (its namespace and name joined). */
export function goModulePath(purl: Pick<ReleasePurl, 'namespace' | 'name'>): string {
  return purl.namespace ? `${purl.namespace}/${purl.name}` : purl.name;
}

/** A canonical semantic version as Go writes it (`v1.2.3`, `v1.2.3-pre.1`, `v2.0.0+incompatible`). */
const GO_VERSION = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+incompatible)?$/;
/** One element of a module path: what golang.org/x/mod/module.CheckPath accepts, in short. */
const PATH_ELEMENT = /^[A-Za-z0-9._~-]+$/;

/** Why a purl cannot name a Go module or one of its versions (golang.org/x/mod/module's rules, in short), if it cannot. Pure. */
export function goPurlProblem(purl: { namespace: string | undefined; name: string; version: string | undefined }): string | undefined {
  const path = goModulePath(purl);
  if (path.length > 300) return 'the module path is longer than 300 characters';
  const elements = path.split('/');
  const host = elements[0]!;
  if (elements.length < 2 && !host.includes('.')) return `"${path}" is not a module path: its first element must be a host name with a dot (e.g. github.com/owner/repo)`;
  if (!/^[a-z0-9.-]+$/.test(host) || !host.includes('.') || host.startsWith('-') || host.startsWith('.')) return `"${host}" is not a host name a module path can start with`;
  for (const e of elements) {
    if (e === '' || e === '.' || e === '..' || !PATH_ELEMENT.test(e) || e.startsWith('.') || e.endsWith('.')) return `"${path}" is not a module path (element "${e}")`;
  }
  // no version: the purl names the module itself (a package page, a badge of every version)
  if (purl.version !== undefined && !GO_VERSION.test(purl.version)) return `"${purl.version}" is not a canonical Go module version (v<major>.<minor>.<patch>[-pre][+incompatible])`;
  return undefined;
}

/**
 * A module path or version as the module proxy protocol writes it in a URL: every upper-case
 * letter becomes `!` and its lower-case form (case-insensitive file systems cannot tell them apart).
 */
export function escapeModuleText(text: string): string {
  return text.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** The proxy URL of one file of a module version (`info`, `mod` or `zip`). */
export function proxyFileUrl(proxy: string, path: string, version: string, ext: 'info' | 'mod' | 'zip'): string {
  return `${proxy.replace(/\/+$/, '')}/${escapeModuleText(path)}/@v/${escapeModuleText(version)}.${ext}`;
}

/** The 12-hex commit prefix of a pseudo-version (`v0.0.0-20191109021931-daa7c04131f5`), if it is one (golang.org/x/mod/module's rule). */
export function pseudoVersionCommit(version: string): string | undefined {
  return /^v[0-9]+\.(?:0\.0-|\d+\.\d+-(?:[^+]*\.)?0\.)\d{14}-([0-9a-f]{12})(?:\+incompatible)?$/.exec(version)?.[1];
}

/** The major-version suffix of a module path (`/v2` … ), if it has one. */
export function majorSuffix(path: string): string | undefined {
  const m = /\/(v[2-9]|v[1-9]\d+)$/.exec(path);
  return m?.[1];
}
