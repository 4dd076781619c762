import { assessByKind, type FileDifference, type RiskKind, type RiskSummary } from '@quorum/core';

const KINDS = {
  build: {
    code: 'build-script-changed',
    level: 'high',
    noun: ['build script (it runs on the machine of whoever builds with the crate)', 'build scripts (they run on the machine of whoever builds with the crate)'],
  },
  manifest: { code: 'manifest-changed', level: 'high', noun: ['Cargo.toml (dependencies, features, build script)', 'Cargo.toml files (dependencies, features, build scripts)'] },
  code: { code: 'code-changed', level: 'high', noun: ['Rust source file', 'Rust source files'] },
  native: { code: 'native-code-changed', level: 'high', noun: ['C, C++, assembly or object file', 'C, C++, assembly or object files'] },
  lock: { code: 'lockfile-changed', level: 'medium', noun: ['Cargo.lock (what `cargo install --locked` builds with)', 'Cargo.lock files'] },
  data: {
    code: 'data-changed',
    level: 'medium',
    noun: ['other file (it may be compiled in with include_bytes! or read by a build script)', 'other files (they may be compiled in with include_bytes! or read by build scripts)'],
  },
  docs: { code: 'documentation', level: 'low', noun: ['documentation file', 'documentation files'] },
} as const satisfies Record<string, RiskKind>;

// only what is documentation by name: any other file may be compiled in with include_str!/include_bytes!
const DOCS = /(^|\/)(README|LICENSE|LICENCE|COPYING|NOTICE|AUTHORS|CONTRIBUTORS|CHANGELOG|CHANGES|SECURITY|CODE_OF_CONDUCT)(-[A-Z0-9]+)?(\.md|\.markdown|\.txt|\.rst)?$/i;

function kindOf(path: string): RiskKind {
  // paths are inside the crate's `<name>-<version>/` directory
  const inner = path.slice(path.indexOf('/') + 1);
  const base = inner.slice(inner.lastIndexOf('/') + 1);
  if (inner === 'build.rs') return KINDS.build;
  if (base === 'Cargo.toml' || base === 'Cargo.toml.orig') return KINDS.manifest;
  if (base === 'Cargo.lock') return KINDS.lock;
  if (/\.rs$/.test(base)) return KINDS.code;
  if (/\.(s|S|asm|c|cc|cpp|cxx|h|hh|hpp|o|a|so|dylib|dll|lib|obj)$/.test(base)) return KINDS.native;
  if (DOCS.test(inner) || /\.(md|markdown)$/i.test(base)) return KINDS.docs;
  return KINDS.data;
}

/**
 * How dangerous the difference between the rebuilt and the published `.crate` is: the build script
 * runs when the crate is built (high), the manifest decides dependencies and the build script (high),
 * Rust and native sources are compiled in (high), the Cargo.lock pins binaries' dependencies and other
 * files may be included (medium), documentation is low. Reads nothing but the lists of paths.
 */
export async function assessCratesRisk(diff: FileDifference): Promise<RiskSummary> {
  return assessByKind(diff, Object.values(KINDS), kindOf, 'crate');
}
