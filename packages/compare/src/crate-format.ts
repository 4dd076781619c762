import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import { inspectTgz, limitsOf, type AnalyzeTgzOptions } from './analyze-tgz.js';
import type { ArchiveAnalysis } from './archive-reader.js';
import { probeEntries } from './entry-contents.js';
import { manifestSha256, type ManifestEntry } from './manifest.js';
import { facetDigestOf, type CrateStabilizerName } from './stabilizers.js';

/** The largest cargo metadata file compared by its data; a larger one is compared by its bytes. @defaultValue 1 MiB */
export const MAX_CARGO_FILE_BYTES = 1024 * 1024;

/**
 * Every TOML value as a tagged JSON value: tables as sorted key/value pairs, integers exact, floats,
 * dates and strings each with their kind, so that no two different documents give one text.
 */
function typed(v: unknown): unknown {
  if (typeof v === 'string') return ['s', v];
  if (typeof v === 'bigint') return ['i', v.toString()];
  if (typeof v === 'number') return ['f', Object.is(v, -0) ? '-0' : String(v)];
  if (typeof v === 'boolean') return ['b', v];
  // a TOML date keeps its own form (offset, local date or time) in toISOString
  if (v instanceof Date) return ['d', v.toISOString()];
  if (Array.isArray(v)) return ['a', v.map(typed)];
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return [
      't',
      Object.keys(o)
        .sort()
        .map((k) => [k, typed(o[k])]),
    ];
  }
  return ['?', String(v)];
}

/** The data of a Cargo.toml as cargo reads it; undefined when it is not TOML (then its bytes are compared). */
export function manifestData(text: string): string | undefined {
  try {
    return `quorum-cargo-manifest v1\n${JSON.stringify(typed(parseToml(text, { integersAsBigInt: true })))}`;
  } catch {
    return undefined;
  }
}

/** A `.cargo_vcs_info.json` without its dirty flag; undefined when it is not a JSON object. */
export function vcsInfoData(text: string): { data: string; dirty: unknown } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = { ...(v as Record<string, unknown>) };
  let dirty: unknown = null;
  if (typeof o.git === 'object' && o.git !== null && !Array.isArray(o.git)) {
    const git = { ...(o.git as Record<string, unknown>) };
    dirty = git.dirty ?? null;
    delete git.dirty;
    o.git = git;
  }
  return { data: `quorum-cargo-vcs-info v1\n${JSON.stringify(typed(o))}`, dirty };
}

/** Which of cargo's metadata files an entry is: only the crate's own, directly in its `<name>-<version>/` directory. */
function cargoFile(path: string): CrateStabilizerName | undefined {
  const parts = path.split('/');
  if (parts.length !== 2) return undefined;
  return parts[1] === 'Cargo.toml' ? 'cargo-manifest' : parts[1] === '.cargo_vcs_info.json' ? 'cargo-vcs-dirty' : undefined;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Analyzes a crate: a tgz whose stabilized form compares the normalized Cargo.toml by the TOML data
 * cargo reads and the `.cargo_vcs_info.json` without its dirty flag. Their bytes (and the flag) are
 * the `cargo-manifest` and `cargo-vcs-dirty` facets, so a builder that does not apply those
 * stabilizers still tells them apart. A file that does not parse is compared by its bytes.
 */
export async function analyzeCrate(file: string, opts?: AnalyzeTgzOptions): Promise<ArchiveAnalysis> {
  const limits = limitsOf(opts);
  const { analysis, raw } = await inspectTgz(file, limits);
  const targets = raw.filter((e) => e.type === 'file' && !e.duplicates && cargoFile(e.path) !== undefined && (e.contentBytes ?? 0) <= MAX_CARGO_FILE_BYTES);
  const probes = await probeEntries(
    file,
    targets.map((e) => ({ index: e.index, rawName: e.rawName, size: e.contentBytes!, sha256: e.sha256!, keep: true })),
    limits,
  );
  const replaced = new Map<string, { sha256: string; size: number }>();
  const facetItems: Record<CrateStabilizerName, unknown[]> = { 'cargo-manifest': [], 'cargo-vcs-dirty': [] };
  const applied = new Set<CrateStabilizerName>();
  for (const e of targets) {
    const probe = probes.get(e.index);
    if (!probe || probe.binary !== null || probe.text === undefined) continue;
    const kind = cargoFile(e.path)!;
    if (kind === 'cargo-manifest') {
      const data = manifestData(probe.text);
      if (data === undefined) continue;
      replaced.set(e.path, { sha256: sha256(data), size: Buffer.byteLength(data) });
      facetItems[kind].push([e.path, e.sha256]);
      applied.add(kind);
    } else {
      const info = vcsInfoData(probe.text);
      if (info === undefined) continue;
      replaced.set(e.path, { sha256: sha256(info.data), size: Buffer.byteLength(info.data) });
      facetItems[kind].push([e.path, e.sha256, info.dirty]);
      if (info.dirty !== null) applied.add(kind);
    }
  }
  // a file read as data is named apart (a NUL cannot be in a tar name): no file's bytes can stand for its data
  const stabilized: ManifestEntry[] = analysis.entries.map((e) => {
    const r = replaced.get(e.path);
    return r && e.type === 'file' ? { ...e, ...r, path: `${e.path}\u0000data` } : e;
  });
  return {
    ...analysis,
    stabilizedSha256: manifestSha256(stabilized),
    facets: { ...analysis.facets, 'cargo-manifest': facetDigestOf('cargo-manifest', facetItems['cargo-manifest']), 'cargo-vcs-dirty': facetDigestOf('cargo-vcs-dirty', facetItems['cargo-vcs-dirty']) },
    stabilizersApplied: [...new Set([...analysis.stabilizersApplied, ...applied])].sort(),
  };
}
