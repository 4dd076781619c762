import { PackageURL } from 'packageurl-js';
import { QuorumError } from './errors.js';

/**
 * The spelling of a name as given when the library's normalization only lowered its case. The purl
 * spec makes names case-sensitive for the ecosystems this farm rebuilds (npm since purl-spec#872:
 * `JSONStream` and `jsonstream` are two packages with different tarballs under the same versions),
 * while packageurl-js 2 still lowers npm names: folding them would let one package's verdict answer
 * for the other's. Any other normalization the library makes (a Go path's encoding, say) stands.
 */
function spelled(raw: unknown, normalized: string | undefined | null): string | undefined {
  if (normalized === undefined || normalized === null) return undefined;
  return typeof raw === 'string' && raw !== normalized && raw.toLowerCase() === normalized ? raw : normalized;
}

/** A purl with its parts as given (see `spelled`). */
function purlOf(type: string, namespace: string | undefined, name: string, version?: string, qualifiers?: Record<string, string>, subpath?: string): PackageURL {
  const p = new PackageURL(type, namespace, name, version, qualifiers, subpath);
  p.namespace = spelled(namespace, p.namespace);
  p.name = spelled(name, p.name)!;
  return p;
}

/** Parses a purl string, keeping the case of its namespace and name (see `spelled`). */
function parsePurl(input: string): PackageURL {
  const raw = PackageURL.parseString(input) as [string, string | undefined, string, string | undefined, unknown, string | undefined];
  const p = PackageURL.fromString(input);
  p.namespace = spelled(raw[1], p.namespace);
  p.name = spelled(raw[2], p.name)!;
  return p;
}

/** A parsed package URL that names exactly one released version. */
export interface ReleasePurl {
  /** purl type, e.g. the ecosystem id of a builder */
  type: string;
  namespace: string | undefined;
  name: string;
  version: string;
  qualifiers: Record<string, string>;
  /** purl subpath, when one was given */
  subpath: string | undefined;
  /**
   * canonical string form, what we store and key on: type, namespace, name and version only, so that
   * qualifier or subpath spellings never split one release's history (or its alarms) in two
   */
  canonical: string;
}

/** Parses a purl that must carry a version; throws QuorumError('invalid-purl' | 'missing-version'). */
export function parseReleasePurl(input: string): ReleasePurl {
  if (typeof input !== 'string' || input.trim() === '') {
    throw new QuorumError('invalid-purl', 'purl is required, e.g. pkg:npm/left-pad@1.3.0');
  }
  let p: PackageURL;
  try {
    p = parsePurl(input.trim());
  } catch (e) {
    throw new QuorumError('invalid-purl', `malformed purl "${input.slice(0, 200)}": ${(e as Error).message}`, { cause: e });
  }
  if (!p.version) {
    throw new QuorumError('missing-version', `purl "${input}" has no version; name one release, e.g. ${p.toString()}@1.0.0`);
  }
  const qualifiers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.qualifiers ?? {})) if (typeof v === 'string') qualifiers[k] = v;
  return {
    type: p.type,
    namespace: p.namespace ?? undefined,
    name: p.name,
    version: p.version,
    qualifiers,
    subpath: p.subpath ?? undefined,
    canonical: purlOf(p.type, p.namespace, p.name, p.version, undefined, undefined).toString(),
  };
}

/** The canonical purl of one release (no qualifiers, no subpath). */
export function releasePurl(type: string, namespace: string | undefined, name: string, version: string): string {
  return purlOf(type, namespace, name, version, undefined, undefined).toString();
}

/** The purl of the package without version (all releases of it). */
export function packagePurl(p: Pick<ReleasePurl, 'type' | 'namespace' | 'name'>): string {
  return purlOf(p.type, p.namespace, p.name, undefined, undefined, undefined).toString();
}

/** Parses a purl with or without version, for package-level queries; `canonical` drops qualifiers and subpath, as stored. */
export function parseAnyPurl(input: string): { type: string; namespace: string | undefined; name: string; version: string | undefined; canonical: string } {
  let p: PackageURL;
  try {
    p = parsePurl(input.trim());
  } catch (e) {
    throw new QuorumError('invalid-purl', `malformed purl "${input.slice(0, 200)}": ${(e as Error).message}`, { cause: e });
  }
  return {
    type: p.type,
    namespace: p.namespace ?? undefined,
    name: p.name,
    version: p.version ?? undefined,
    canonical: purlOf(p.type, p.namespace, p.name, p.version, undefined, undefined).toString(),
  };
}

/** A purl with qualifiers added (e.g. `vcs_url` naming the source an override verdict is about). */
export function purlWithQualifiers(purl: string, qualifiers: Record<string, string>): string {
  const p = parsePurl(purl);
  return purlOf(p.type, p.namespace, p.name, p.version, { ...(p.qualifiers ?? {}), ...qualifiers }, p.subpath).toString();
}

/**
 * True when `candidate` names exactly the release `canonical` names: the same package and version,
 * with no qualifier (an override verdict names its source in a `vcs_url` qualifier) and no subpath.
 */
export function isPlainPurlOf(candidate: string, canonical: string): boolean {
  try {
    const p = parsePurl(candidate.trim());
    const plain = purlOf(p.type, p.namespace, p.name, p.version, undefined, undefined).toString();
    return plain === canonical && Object.keys(p.qualifiers ?? {}).length === 0 && !p.subpath;
  } catch {
    return false;
  }
}
