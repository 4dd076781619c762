import { maxRiskLevel, riskPathList, RISK_MAX_FLAGS, type DifferingEntry, type FileDifference, type RiskFlag, type RiskLevel, type RiskSummary } from '@quorum/core';

/** What a file in a module zip is to whoever builds with the module. */
interface Kind {
  code: string;
  level: RiskLevel;
  /** singular and plural */
  noun: readonly [string, string];
}

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
} as const satisfies Record<string, Kind>;

// only what is documentation by name: any other file (a .txt, a .json) may be compiled in with //go:embed
const DOCS = /(^|\/)(README|LICENSE|LICENCE|COPYING|NOTICE|AUTHORS|CONTRIBUTORS|CHANGELOG|CHANGES|PATENTS|SECURITY|CODE_OF_CONDUCT)(\.md|\.markdown|\.txt|\.rst)?$|\.(md|markdown)$/i;

function kindOf(path: string): Kind {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base === 'go.mod') return KINDS.module;
  if (/\.go$/.test(base)) return KINDS.code;
  if (/\.(s|S|c|cc|cpp|cxx|h|hh|hpp|m|f|F|for|f90|syso|swig|swigcxx)$/.test(base)) return KINDS.native;
  if (DOCS.test(path)) return KINDS.docs;
  return KINDS.embedded;
}

const WORDS = { onlyPublished: 'only in the published zip', onlyRebuilt: 'missing from the published zip', changed: 'changed' } as const;

/**
 * How dangerous the difference between the rebuilt and the published module zip is: Go source,
 * cgo and assembly are compiled into every program that imports the module (high), go.mod decides what
 * else is built (high), other files may be embedded (medium), documentation is low. Reads nothing
 * but the lists of paths.
 */
export async function assessGoRisk(diff: FileDifference): Promise<RiskSummary> {
  const flags: RiskFlag[] = [];
  const notes: string[] = [];
  for (const change of ['onlyPublished', 'onlyRebuilt', 'changed'] as const) {
    const byKind = new Map<Kind, string[]>();
    for (const e of diff[change] as readonly DifferingEntry[]) {
      if (e.type === 'directory') continue;
      const k = kindOf(e.path);
      byKind.set(k, [...(byKind.get(k) ?? []), e.path]);
    }
    for (const k of Object.values(KINDS)) {
      const paths = byKind.get(k);
      if (!paths) continue;
      const shown = paths.slice(0, 3).join(', ') + (paths.length > 3 ? `, … (${paths.length} in all)` : '');
      const message = `${paths.length} ${k.noun[paths.length === 1 ? 0 : 1]} ${WORDS[change]}: ${shown}`;
      if (k.level === 'low') notes.push(message);
      else flags.push({ code: k.code, level: k.level, message: message.slice(0, 600) });
    }
  }
  flags.sort((a, b) => (a.level === b.level ? 0 : maxRiskLevel(a.level, b.level) === a.level ? -1 : 1));
  const kept =
    flags.length > RISK_MAX_FLAGS
      ? [...flags.slice(0, RISK_MAX_FLAGS - 1), { code: 'more', level: flags[RISK_MAX_FLAGS - 1]!.level, message: `${flags.length - RISK_MAX_FLAGS + 1} more reasons` }]
      : flags;
  const nothing = diff.onlyPublished.length + diff.onlyRebuilt.length + diff.changed.length === 0;
  const level: RiskLevel = nothing ? 'medium' : kept.map((f) => f.level).reduce(maxRiskLevel, 'low');
  const text = nothing
    ? 'medium risk: the file-level diff lists no difference to assess'
    : kept.length === 0
      ? `low risk: only documentation differs (${notes.join('; ')})`.slice(0, 600)
      : `${level} risk: ${kept.map((f) => f.message).join('; ')}`.slice(0, 600);
  return {
    level,
    text,
    onlyPublished: riskPathList(diff.onlyPublished.map((e) => e.path)),
    onlyRebuilt: riskPathList(diff.onlyRebuilt.map((e) => e.path)),
    changed: riskPathList(diff.changed.map((e) => e.path)),
    modeChanged: riskPathList(diff.modeChanged.map((e) => e.path)),
    flags: nothing ? [{ code: 'no-difference', level: 'medium', message: 'the file-level diff lists no difference to assess' }] : kept,
  };
}
