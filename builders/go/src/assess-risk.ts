import { assessByKind, type FileDifference, type RiskKind, type RiskSummary } from '@quorum/core';

const KINDS = {
  code: { code: 'code-changed', level: 'high', noun: ['Go source file', 'Go source files'] },
  native: { code: 'native-code-changed', level: 'high', noun: ['cgo, assembly or object file', 'cgo, assembly or object files'] },
  module: { code: 'module-changed', level: 'high', noun: ['go.mod (the module path, its requirements and replacements)', 'go.mod files (the module path, its requirements and replacements)'] },
  embedded: {
    code: 'data-changed',
    level: 'medium',
    noun: ['other file (it may be embedded with //go:embed or read by tests and tools)', 'other files (they may be embedded with //go:embed or read by tests and tools)'],
  },
  docs: { code: 'documentation', level: 'low', noun: ['documentation file', 'documentation files'] },
} as const satisfies Record<string, RiskKind>;

// only what is documentation by name: any other file (a .txt, a .json) may be compiled in with //go:embed
const DOCS = /(^|\/)(README|LICENSE|LICENCE|COPYING|NOTICE|AUTHORS|CONTRIBUTORS|CHANGELOG|CHANGES|PATENTS|SECURITY|CODE_OF_CONDUCT)(\.md|\.markdown|\.txt|\.rst)?$|\.(md|markdown)$/i;

function kindOf(path: string): RiskKind {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base === 'go.mod') return KINDS.module;
  if (/\.go$/.test(base)) return KINDS.code;
  if (/\.(s|S|c|cc|cpp|cxx|h|hh|hpp|m|f|F|for|f90|syso|swig|swigcxx)$/.test(base)) return KINDS.native;
  if (DOCS.test(path)) return KINDS.docs;
  return KINDS.embedded;
}

/**
 * How dangerous the difference between the rebuilt and the published module zip is: Go source,
 * cgo and assembly are compiled into every program that imports the module (high), go.mod decides what
 * else is built (high), other files may be embedded (medium), documentation is low. Reads nothing
 * but the lists of paths.
 */
export async function assessGoRisk(diff: FileDifference): Promise<RiskSummary> {
  return assessByKind(diff, Object.values(KINDS), kindOf, 'zip');
}
