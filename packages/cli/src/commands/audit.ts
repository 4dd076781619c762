import { relative } from 'node:path';
import { CliError } from '../api-client.js';
import { auditExitCode, auditLockfile, auditSarif, findLockfile, readLockfile, renderAudit, submitMissing } from '../audit.js';
import { cliVersion, client, printJson, type CliIo } from '../cli-io.js';
import { safeText } from '../terminal-text.js';

export interface AuditCliOptions {
  strict?: boolean;
  all?: boolean;
  json?: boolean;
  sarif?: boolean;
  submitMissing?: boolean;
  token?: string;
  registry?: string[];
  server?: string;
}

export async function audit(file: string | undefined, opts: AuditCliOptions, io: CliIo): Promise<number> {
  if (opts.json && opts.sarif) throw new CliError('usage', '--json and --sarif both choose the output: give one');
  const token = opts.token ?? (io.env.QUORUM_SUBMIT_TOKEN?.trim() || undefined);
  if (opts.submitMissing && token === undefined) throw new CliError('usage', '--submit-missing queues rebuilds, which needs a submit token from an operator: pass --token or set QUORUM_SUBMIT_TOKEN');
  const found = findLockfile(file, process.cwd());
  const lock = readLockfile(found, opts.registry ?? []);
  const api = client(opts.server, io);
  const report = await auditLockfile(api, lock, token);
  if (opts.submitMissing) report.submitted = await submitMissing(api, report, token!, (line) => io.stderr.write(`${safeText(line)}\n`));
  if (opts.json) printJson(io, report);
  else if (opts.sarif) printJson(io, auditSarif(report, lock.text, relative(process.cwd(), lock.file) || found.name, cliVersion()));
  else io.stdout.write(`${renderAudit(report, { all: opts.all === true, strict: opts.strict === true })}\n`);
  return auditExitCode(report, opts.strict === true);
}
