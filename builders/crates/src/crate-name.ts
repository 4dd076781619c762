/** The longest crate name crates.io accepts. */
export const MAX_CRATE_NAME = 64;

// a semver version as cargo accepts one: numbers without leading zeros, optional pre-release and build
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Why a purl cannot name a crate (crates have no namespace; names are ASCII letters, digits, `-` and `_`), if it cannot. */
export function cratePurlProblem(purl: { namespace: string | undefined; name: string; version: string | undefined }): string | undefined {
  if (purl.namespace !== undefined && purl.namespace !== '') return 'a crate has no namespace: write pkg:cargo/<name>@<version>';
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(purl.name) || purl.name.length > MAX_CRATE_NAME) {
    return `${JSON.stringify(purl.name.slice(0, 100))} is not a crate name (a letter, then letters, digits, - or _; at most ${MAX_CRATE_NAME})`;
  }
  if (purl.version !== undefined && (purl.version.length > 256 || !SEMVER.test(purl.version))) return `${JSON.stringify(purl.version.slice(0, 100))} is not a crate version (semver)`;
  return undefined;
}

/** The directories a cargo index files a name under (`1`, `2`, `3/a`, `ab/cd`), in the name's own case. */
function prefixOf(n: string): string {
  if (n.length <= 2) return String(n.length);
  if (n.length === 3) return `3/${n[0]}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}`;
}

/** A crate's file in a cargo index (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`, lower case). */
export function indexPath(name: string): string {
  const n = name.toLowerCase();
  return `${prefixOf(n)}/${n}`;
}

/** The URL of a file of a sparse index (`registry` is the index's base URL). */
export function indexUrl(registry: string, file: string): string {
  return `${registry.replace(/\/+$/, '')}/${file}`;
}

const DL_MARKERS = ['{crate}', '{version}', '{prefix}', '{lowerprefix}', '{sha256-checksum}'];

/**
 * Where a crate version is downloaded from, by the index's `config.json` `dl` template (a template
 * without markers is a base URL that `/{crate}/{version}/download` is added to).
 */
export function downloadUrl(template: string, name: string, version: string, cksum: string): string {
  const t = DL_MARKERS.some((m) => template.includes(m)) ? template : `${template.replace(/\/+$/, '')}/{crate}/{version}/download`;
  return t
    .replaceAll('{crate}', encodeURIComponent(name))
    .replaceAll('{version}', encodeURIComponent(version))
    .replaceAll('{prefix}', prefixOf(name))
    .replaceAll('{lowerprefix}', prefixOf(name.toLowerCase()))
    .replaceAll('{sha256-checksum}', cksum);
}

/**
 * What is wrong with an index's `dl` template, if anything: it must be an http(s) URL whose scheme,
 * host and port hold no marker (a name filled in there would send each crate's download elsewhere).
 */
export function downloadTemplateProblem(template: string): string | undefined {
  const scheme = /^https?:\/\//i.exec(template);
  if (!scheme) return `the index's download template ${JSON.stringify(template.slice(0, 200))} is not an http(s) URL`;
  const pathAt = template.indexOf('/', scheme[0].length);
  const authority = template.slice(0, pathAt === -1 ? template.length : pathAt);
  if (authority.includes('{') || authority.includes('}')) return `the index's download template ${JSON.stringify(template.slice(0, 200))} fills a crate's name into its host`;
  try {
    new URL(authority);
  } catch {
    return `the index's download template ${JSON.stringify(template.slice(0, 200))} has no valid host`;
  }
  return undefined;
}

/** The Subresource-Integrity form of a hex sha256 (a cargo index's `cksum`, a Cargo.lock's `checksum`); undefined if it is not one. */
export function sriOfHexSha256(hex: unknown): string | undefined {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) return undefined;
  return `sha256-${Buffer.from(hex, 'hex').toString('base64')}`;
}

/** The origin (`scheme://host:port`) of a URL, or undefined for what is not one. */
export function originOf(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).origin : undefined;
}
