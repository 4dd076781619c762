import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { AUDIT_STATUSES, emptyAuditCounts, MAX_AUDIT_PACKAGES, type AuditEntry, type AuditStatus, type Builder, type LockedRelease, type UnverifiableEntry } from '@quorum/core';
import { ALL_BUILDERS } from '@quorum/ecosystems';
import { CliError, isCliError, type ApiClient } from './api-client.js';
import { EXIT } from './exit-codes.js';
import { formatTable } from './render.js';
import { safeText } from './terminal-text.js';

/** The largest lockfile read: lockfiles of very large monorepos stay well under it. @defaultValue 64 MiB */
const MAX_LOCKFILE_BYTES = 64 * 2 ** 20;

/** Submissions at once with `--submit-missing`: the coordinator fetches metadata for each. */
const SUBMIT_CONCURRENCY = 4;

/** A lockfile found for the audit and the builder that reads it. */
export interface FoundLockfile {
  path: string;
  name: string;
  builder: Builder;
}

function readersOf(name: string): Builder | undefined {
  return ALL_BUILDERS.find((b) => b.readLockfile && b.lockfileNames?.includes(name));
}

/** Every lockfile name the registered builders read, for messages. */
function knownNames(): string[] {
  return ALL_BUILDERS.flatMap((b) => (b.readLockfile ? [...(b.lockfileNames ?? [])] : []));
}

/** The lockfile names `quorum audit` reads, for its help. */
export const AUDIT_LOCKFILE_NAMES = knownNames().join(', ');

/**
 * The lockfile to audit: the file given, or in the directory given (the current one by default) the
 * first lockfile the ecosystems' own tools would read.
 */
export function findLockfile(arg: string | undefined, cwd: string): FoundLockfile {
  const target = resolve(cwd, arg ?? '.');
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch {
    throw new CliError('usage', `${arg ?? target}: no such file or directory`);
  }
  if (!isDir) {
    const name = basename(target);
    const builder = readersOf(name);
    if (!builder) throw new CliError('usage', `${name} is not a lockfile quorum reads; it reads ${knownNames().join(', ')}`);
    return { path: target, name, builder };
  }
  for (const name of knownNames()) {
    if (existsSync(join(target, name))) return { path: join(target, name), name, builder: readersOf(name)! };
  }
  throw new CliError('usage', `no lockfile in ${arg ?? 'the current directory'}: looked for ${knownNames().join(', ')}`);
}

/** What a lockfile installs, as the audit reads it. */
export interface ReadLockfile {
  file: string;
  format: string;
  releases: LockedRelease[];
  unverifiable: UnverifiableEntry[];
  text: string;
}

export function readLockfile(found: FoundLockfile, registries: readonly string[] = []): ReadLockfile {
  const stat = statSync(found.path);
  // a FIFO or a device named like a lockfile would hang the read or never end
  if (!stat.isFile()) throw new CliError('usage', `${found.name} is not a regular file`);
  for (const r of registries) {
    if (!/^https?:\/\/[^/\s]+/i.test(r)) throw new CliError('usage', `--registry ${r.slice(0, 100)}: expected an http(s) URL`);
  }
  const size = stat.size;
  if (size > MAX_LOCKFILE_BYTES) throw new CliError('usage', `${found.name} is ${Math.round(size / 2 ** 20)} MiB, larger than the ${MAX_LOCKFILE_BYTES / 2 ** 20} MiB quorum reads of a lockfile`);
  const text = readFileSync(found.path, 'utf8');
  const reading = found.builder.readLockfile!(found.name, text, { registries });
  if (!reading.ok) throw new CliError('usage', `cannot audit ${found.path}: ${reading.message}`);
  return { file: found.path, format: reading.format, releases: reading.releases, unverifiable: reading.unverifiable, text };
}

/** An audit's full result, as `--json` prints it. */
export interface AuditReport {
  lockfile: string;
  format: string;
  server: string;
  counts: Record<AuditStatus, number>;
  /** entries whose lockfile integrity could not be compared with the verified artifact */
  integrityUnchecked: number;
  entries: (AuditEntry & { at: string })[];
  unverifiable: UnverifiableEntry[];
  /** purls queued with `--submit-missing` */
  submitted?: string[];
}

/** Asks the coordinator about every release of the lockfile, in batches of at most MAX_AUDIT_PACKAGES. */
export async function auditLockfile(api: ApiClient, lock: ReadLockfile, token?: string): Promise<AuditReport> {
  const entries: AuditReport['entries'] = [];
  const counts = emptyAuditCounts();
  for (let i = 0; i < lock.releases.length; i += MAX_AUDIT_PACKAGES) {
    const batch = lock.releases.slice(i, i + MAX_AUDIT_PACKAGES);
    const answer = await api.audit(
      { packages: batch.map((r) => ({ purl: r.purl, ...(r.integrity ? { integrity: r.integrity } : {}), ...(r.stabilizedSha256 ? { stabilizedSha256: r.stabilizedSha256 } : {}) })) },
      token,
    );
    if (!Array.isArray(answer?.entries) || answer.entries.length !== batch.length) {
      throw new CliError('bad-answer', `the coordinator answered the audit of ${batch.length} releases with ${Array.isArray(answer?.entries) ? answer.entries.length : 'no'} entries`);
    }
    answer.entries.forEach((entry, j) => {
      const asked = batch[j]!;
      // an answer about another purl than asked is a coordinator fault, never trusted
      if (entry.purl !== asked.purl || !AUDIT_STATUSES.includes(entry.status)) throw new CliError('bad-answer', `the coordinator's audit answer ${j + i} is not about ${asked.purl}`);
      counts[entry.status]++;
      entries.push({ ...entry, at: asked.at });
    });
  }
  return {
    lockfile: lock.file,
    format: lock.format,
    server: api.server,
    counts,
    integrityUnchecked: entries.filter((e) => e.integrity === 'unchecked' && e.status !== 'unknown').length,
    entries,
    unverifiable: lock.unverifiable,
  };
}

/** Queues every release nothing was ever submitted for; returns the purls queued. */
export async function submitMissing(api: ApiClient, report: AuditReport, token: string, note: (line: string) => void): Promise<string[]> {
  const missing = report.entries.filter((e) => e.status === 'unknown' && e.releaseId === null && !e.pending && e.note === 'never verified by this farm').map((e) => e.purl);
  const queued: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      const purl = missing[next++]!;
      try {
        await api.submitRelease({ purl }, token);
        queued.push(purl);
        note(`queued ${purl} (${queued.length} of ${missing.length})`);
      } catch (e) {
        // one release the registry does not have must not stop the others
        // a refused token or an unreachable coordinator stops them all
        if (!isCliError(e, 'http') || e.status === 401 || e.status === 403) throw e;
        note(`could not queue ${purl}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUBMIT_CONCURRENCY, missing.length) }, worker));
  return queued.sort();
}

const SEVERITY: Record<AuditStatus, number> = { mismatch: 0, unreproducible: 1, failed: 2, unknown: 3, equivalent: 4, reproducible: 5 };

/** Whether an entry counts as verified under `--strict`: a passing verdict about the very artifact the lockfile pins. */
export function isVerified(e: AuditEntry): boolean {
  return (e.status === 'reproducible' || e.status === 'equivalent') && e.integrity === 'match';
}

/** Exit code of an audit: any mismatch first; with `strict`, anything not verified too. */
export function auditExitCode(report: AuditReport, strict: boolean): number {
  if (report.counts.mismatch > 0) return EXIT.mismatch;
  if (strict && (report.entries.some((e) => !isVerified(e)) || report.unverifiable.length > 0)) return EXIT.unverified;
  return EXIT.ok;
}

function what(e: AuditEntry): string {
  const parts: string[] = [];
  if (e.risk) parts.push(e.risk.text);
  if (e.pending && e.status !== 'unknown') parts.push('a newer release is being rebuilt');
  if (e.note) parts.push(e.note);
  return parts.join('; ');
}

/** The audit for a person: a summary, then the releases that need a look (every one with `all`), worst first. */
export function renderAudit(report: AuditReport, opts: { all: boolean; strict: boolean }): string {
  const lines: string[] = [];
  const total = report.entries.length;
  if (total === 0 && report.unverifiable.length === 0) return `${report.lockfile} (${report.format}): nothing to audit, the lockfile locks no package (the coordinator was not asked)`;
  lines.push(`${report.lockfile} (${report.format}): ${total} release${total === 1 ? '' : 's'} from the registry, ${report.unverifiable.length} from elsewhere; verdicts of ${report.server}`);
  lines.push(AUDIT_STATUSES.map((s) => `${s} ${report.counts[s]}`).join(' · ') + (report.integrityUnchecked > 0 ? ` · integrity unchecked ${report.integrityUnchecked}` : ''));
  const passing = (e: AuditEntry) => (e.status === 'reproducible' || e.status === 'equivalent') && (!opts.strict || e.integrity === 'match');
  const shown = report.entries.filter((e) => opts.all || !passing(e)).sort((a, b) => SEVERITY[a.status] - SEVERITY[b.status] || a.purl.localeCompare(b.purl));
  if (shown.length > 0) {
    lines.push('');
    lines.push(
      formatTable(
        ['status', 'purl', 'integrity', 'what'],
        shown.map((e) => [e.status, e.purl, e.integrity, what(e)].map((c) => safeText(c))),
      ),
    );
  }
  if (report.unverifiable.length > 0 && (opts.all || opts.strict)) {
    lines.push('');
    lines.push('from elsewhere (no verdict can be about these):');
    lines.push(
      formatTable(
        ['name', 'where', 'why'],
        report.unverifiable.map((u) => [u.name, u.at, u.why].map((c) => safeText(c))),
      ),
    );
  }
  const hidden = total - shown.length;
  if (!opts.all && hidden > 0) lines.push('', `${hidden} verified release${hidden === 1 ? '' : 's'} not listed (--all lists them)`);
  if (report.submitted) lines.push('', `queued ${report.submitted.length} release${report.submitted.length === 1 ? '' : 's'} never verified before (--submit-missing)`);
  return lines.join('\n');
}

/** The line of the lockfile that lists an entry (its key or path), 1-based; 1 when it cannot be found. */
function lineOf(text: string, at: string): number {
  const i = text.indexOf(at.split(',')[0]!.trim());
  if (i < 0) return 1;
  let line = 1;
  for (let k = text.indexOf('\n'); k >= 0 && k < i; k = text.indexOf('\n', k + 1)) line++;
  return line;
}

/** The rules of the SARIF log, one per finding kind. */
const SARIF_RULES = [
  { id: 'quorum/mismatch', short: 'The published artifact differs from what independent builders rebuilt from its source', level: 'error' },
  { id: 'quorum/integrity-differs', short: 'The lockfile installs another artifact than the one the farm verified', level: 'error' },
  { id: 'quorum/not-reproduced', short: 'Independent builders could not reproduce the release (unreproducible or failed)', level: 'warning' },
  { id: 'quorum/unverified', short: 'No verdict of the farm is about this release', level: 'note' },
  { id: 'quorum/unverifiable', short: 'Installed from git, a directory or a tarball URL: no verdict can be about it', level: 'note' },
] as const;

type SarifRule = (typeof SARIF_RULES)[number]['id'];

function ruleOf(e: AuditEntry): SarifRule | undefined {
  if (e.status === 'mismatch') return e.integrity === 'differs' && e.verdict !== 'mismatch' ? 'quorum/integrity-differs' : 'quorum/mismatch';
  if (e.status === 'unreproducible' || e.status === 'failed') return 'quorum/not-reproduced';
  if (e.status === 'unknown') return 'quorum/unverified';
  return undefined;
}

/** The audit as a SARIF 2.1.0 log for code-scanning UIs: one result per finding, located in the lockfile. */
export function auditSarif(report: AuditReport, lockText: string, uri: string, version: string): unknown {
  const level = Object.fromEntries(SARIF_RULES.map((r) => [r.id, r.level])) as Record<SarifRule, string>;
  const location = (at: string) => ({ physicalLocation: { artifactLocation: { uri }, region: { startLine: lineOf(lockText, at) } } });
  const results = [
    ...report.entries.flatMap((e) => {
      const rule = ruleOf(e);
      if (!rule) return [];
      const text = `${e.purl}: ${e.status}${what(e) ? ` (${what(e)})` : ''}`;
      return [{ ruleId: rule, level: level[rule], message: { text }, locations: [location(e.at)], partialFingerprints: { purl: e.purl } }];
    }),
    ...report.unverifiable.map((u) => ({ ruleId: 'quorum/unverifiable', level: 'note', message: { text: `${u.name} ${u.why}` }, locations: [location(u.at)], partialFingerprints: { purl: u.name } })),
  ];
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'quorum audit',
            version,
            rules: SARIF_RULES.map((r) => ({ id: r.id, shortDescription: { text: r.short }, defaultConfiguration: { level: r.level } })),
          },
        },
        results,
      },
    ],
  };
}
