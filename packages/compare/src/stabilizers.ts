import { createHash } from 'node:crypto';

/** A named, versioned normalization; its name is what verdicts list. */
export interface StabilizerInfo {
  readonly name: string;
  /** bumped whenever the facet this stabilizer digests changes meaning */
  readonly version: number;
  readonly description: string;
}

/** Names of the stabilizers for `.tgz` artifacts. */
export type TgzStabilizerName = 'tar-entry-order' | 'tar-times' | 'tar-modes' | 'tar-owners' | 'tar-pax' | 'tar-devices' | 'tar-format' | 'gzip-level' | 'gzip-name' | 'gzip-time' | 'gzip-header';

/** The stabilizers for `.tgz` artifacts (npm tarballs), each owning one facet of the archive. */
export const TGZ_STABILIZERS: readonly (StabilizerInfo & { readonly name: TgzStabilizerName })[] = Object.freeze([
  { name: 'tar-entry-order', version: 1, description: 'order of the entries in the tar stream' },
  { name: 'tar-times', version: 1, description: 'entry times: header mtime, GNU atime/ctime, pax mtime/atime/ctime/LIBARCHIVE.creationtime' },
  { name: 'tar-modes', version: 1, description: 'stored permission bits, reduced to 0644/0755 for files, 0755 for directories, 0777 for symlinks' },
  { name: 'tar-owners', version: 1, description: 'uid, gid, uname, gname (header fields and pax records)' },
  { name: 'tar-pax', version: 1, description: 'pax extended and global header records not owned by another stabilizer (xattrs, comments, ...) and pax headers that carry only such records' },
  { name: 'tar-devices', version: 1, description: 'devmajor/devminor header fields and SCHILY.devmajor/devminor pax records' },
  {
    name: 'tar-format',
    version: 1,
    description:
      'tar encoding: field encodings, magic, name split, GNU long-name headers, pax path/linkpath/size headers, padding, zero blocks, identical copies of a repeated path, end-of-archive trailer',
  },
  { name: 'gzip-level', version: 1, description: 'the deflate stream (compressor and level) and the XFL byte' },
  { name: 'gzip-name', version: 1, description: 'gzip FNAME (original file name)' },
  { name: 'gzip-time', version: 1, description: 'gzip MTIME' },
  { name: 'gzip-header', version: 1, description: 'gzip FLG bits FTEXT/FHCRC/FEXTRA/FCOMMENT, OS byte, FEXTRA and FCOMMENT payloads' },
] as const);

/** Names of the stabilizers for `.zip` artifacts. */
export type ZipStabilizerName = 'zip-entry-order' | 'zip-times' | 'zip-modes' | 'zip-compression' | 'zip-extra' | 'zip-format';

/** The stabilizers for `.zip` artifacts (e.g. Go module zips), each owning one facet of the archive. */
export const ZIP_STABILIZERS: readonly (StabilizerInfo & { readonly name: ZipStabilizerName })[] = Object.freeze([
  { name: 'zip-entry-order', version: 1, description: 'order of the entries in the central directory (directory entries included)' },
  { name: 'zip-times', version: 1, description: 'DOS modification date and time of each entry' },
  { name: 'zip-modes', version: 1, description: 'external file attributes (permission bits) and the "version made by" host of each entry' },
  { name: 'zip-compression', version: 1, description: 'compression method, deflate options and compressed bytes of each entry' },
  { name: 'zip-extra', version: 1, description: 'extra fields (central and local), entry comments and the archive comment' },
  {
    name: 'zip-format',
    version: 1,
    description: 'zip encoding: versions needed, flags, internal attributes, data descriptors, offsets and sizes of the records, bytes outside them',
  },
] as const);

/** Names of the stabilizers a crate (`.crate`) adds to its tgz's. */
export type CrateStabilizerName = 'cargo-manifest' | 'cargo-vcs-dirty';

/** The stabilizers for crates: the tgz's, and two for the files cargo writes when it packs. */
export const CRATE_STABILIZERS: readonly (StabilizerInfo & { readonly name: TgzStabilizerName | CrateStabilizerName })[] = Object.freeze([
  ...TGZ_STABILIZERS,
  {
    name: 'cargo-manifest',
    version: 1,
    description: "the text of the crate's normalized Cargo.toml: compared as the TOML data cargo reads (comments, formatting, key order and quoting aside)",
  },
  { name: 'cargo-vcs-dirty', version: 1, description: "the dirty flag of the crate's .cargo_vcs_info.json and that file's JSON formatting (the commit and path it records are compared)" },
] as const);

/** Any stabilizer's name. */
export type StabilizerName = TgzStabilizerName | ZipStabilizerName | CrateStabilizerName;

const VERSIONS = new Map<string, number>([...CRATE_STABILIZERS, ...ZIP_STABILIZERS].map((s) => [s.name, s.version]));

/**
 * Digest of one facet: sha256 over `quorum-facet <name> v<version>\n` followed by one line per
 * item, each the `JSON.stringify` text of the item plus `\n`. Raw bytes inside items are given as
 * latin1 strings so that every byte value stays distinct.
 * @param jsonLines items already serialized with JSON.stringify
 */
export function facetDigest(name: StabilizerName, jsonLines: Iterable<string>): string {
  const h = createHash('sha256');
  h.update(`quorum-facet ${name} v${VERSIONS.get(name) ?? 0}\n`);
  for (const line of jsonLines) h.update(`${line}\n`);
  return h.digest('hex');
}

/** facetDigest over items not yet serialized. */
export function facetDigestOf(name: StabilizerName, items: Iterable<unknown>): string {
  return facetDigest(
    name,
    (function* () {
      for (const item of items) yield JSON.stringify(item);
    })(),
  );
}
