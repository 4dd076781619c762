import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isAttestError, keyIdOf } from '@quorum/attest';
import { isQuorumError, parseAnyPurl, parseReleasePurl, WORKER_ID_PATTERN, type PurlAnswer, type ReleaseView, type SubmitReleaseRequest, type Verdict } from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import { renderDiff } from '@quorum/compare';
import { auditExitCode, auditLockfile, auditSarif, findLockfile, readLockfile, renderAudit, submitMissing, AUDIT_LOCKFILE_NAMES } from './audit.js';
import { ApiClient, CliError, DEFAULT_SERVER, isCliError, type EnrolWorkerAnswer, type EnrolWorkerRequest } from './api-client.js';
import { EXIT, EXIT_CODES_HELP, VERIFY_EXIT_CODES_HELP, exitCodeForVerdict } from './exit-codes.js';
import { createProgress, type OutStream } from './progress.js';
import { formatTable, renderAnswer, renderEnrolment, renderRejections, renderReleaseReport, renderWorkers } from './render.js';
import { parseTrust, trustSummary } from './trust.js';
import { ADMIN_TOKEN_FILE, runUp, UP_DEFAULTS, type UpOptions } from './up.js';
import { runVerify, type VerifyOptions } from './verify.js';
import { renderVerifyReport, verifyExitCode, verifyJson } from './verify-report.js';
import { safeJson, safeText, SafeTextDecoder } from './terminal-text.js';

/** Interval between two `GET /v1/releases/:id` while waiting. @defaultValue 500 ms */
export const POLL_INTERVAL_MS = 500;

/** Default of `submit --timeout`. @defaultValue 1800 s */
export const DEFAULT_WAIT_TIMEOUT_S = 1800;

/** How long `submit --wait` keeps retrying while the coordinator is unreachable or answers 5xx. @defaultValue 30 s */
export const UNAVAILABLE_GRACE_MS = 30_000;

/** Where the CLI reads and writes; `runCli` takes it so tests can run commands in-process. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  /** environment (QUORUM_SERVER, ...) @defaultValue process.env */
  env: NodeJS.ProcessEnv;
  /** @defaultValue Date.now */
  clock: () => number;
  /** @defaultValue POLL_INTERVAL_MS */
  pollIntervalMs: number;
  /** `up`: aborted = stop the farm; when absent, SIGINT/SIGTERM of this process do it */
  stop?: AbortSignal;
  /** `up`: aborted = kill the farm at once; when absent, a second SIGINT/SIGTERM does it */
  kill?: AbortSignal;
}

function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return Number(value);
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new InvalidArgumentError('expected a port number from 1 to 65535.');
  return Number(value);
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds greater than 0.');
  return n;
}

const serverOption = () =>
  new Option('--server <url>', `coordinator base URL (default: $QUORUM_SERVER, else ${DEFAULT_SERVER})`);

function client(server: string | undefined, io: CliIo): ApiClient {
  return new ApiClient({ server: server ?? (io.env.QUORUM_SERVER || DEFAULT_SERVER) });
}

function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${safeJson(value)}\n`);
}

/** Core purl errors become usage errors with the same message. */
function parsePurl<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isQuorumError(e)) throw new CliError('usage', e.message, { cause: e });
    throw e;
  }
}

/** Errors worth retrying while waiting: the coordinator restarting or briefly overloaded. */
function isTransient(e: unknown): boolean {
  return isCliError(e, 'unreachable', 'timeout') || (isCliError(e, 'http') && (e.status ?? 0) >= 500);
}

interface SubmitOptions {
  repo?: string;
  ref?: string;
  token?: string;
  wait?: boolean;
  timeout: number;
  json?: boolean;
  server?: string;
}

/** JSON form of one release for scripts: the verdict string on top, the per-builder results, the whole view. */
export function releaseJson(view: ReleaseView): { purl: string; canonical: boolean; verdict: Verdict | null; reason: string | null; stabilizers: string[]; rebuilds: ReleaseView['rebuilds']; release: ReleaseView } {
  return {
    purl: view.purl,
    canonical: view.canonical !== false,
    verdict: view.verdict?.verdict ?? null,
    reason: view.verdict?.reason ?? null,
    stabilizers: view.verdict?.stabilizers ?? [],
    rebuilds: view.rebuilds,
    release: view,
  };
}

async function submit(purl: string, opts: SubmitOptions, io: CliIo): Promise<number> {
  parsePurl(() => parseReleasePurl(purl));
  const api = client(opts.server, io);
  const body: SubmitReleaseRequest = { purl };
  if (opts.repo !== undefined) body.repo = opts.repo;
  if (opts.ref !== undefined) body.ref = opts.ref;
  const started = io.clock();
  const token = opts.token ?? (io.env.QUORUM_SUBMIT_TOKEN?.trim() || undefined);
  if ((opts.repo !== undefined || opts.ref !== undefined) && token === undefined) {
    throw new CliError('usage', '--repo and --ref override the source the registry declares, which needs a submit token from an operator: pass --token or set QUORUM_SUBMIT_TOKEN (`quorum admin submitters add <name>` issues one)');
  }
  let view = await api.submitRelease(body, token);
  if (!opts.wait) {
    if (opts.json) printJson(io, releaseJson(view));
    else io.stdout.write(`${safeText(view.id)}\n`);
    if (!opts.json && io.stderr.isTTY) io.stderr.write(`${safeText(`submitted ${view.purl} (${view.state}); follow it with: quorum status ${view.purl}`)}\n`);
    return EXIT.ok;
  }

  const progress = createProgress(io.stderr, { json: opts.json === true, clock: io.clock });
  const deadline = started + opts.timeout * 1000;
  let unavailableSince: number | undefined;
  let finishedCleanly = false;
  try {
    progress.update(view);
    while (view.state !== 'decided') {
      const left = deadline - io.clock();
      if (left <= 0) {
        throw new CliError(
          'timeout',
          `no verdict within ${opts.timeout} s: release ${view.id} is still ${view.state}; follow it with \`quorum status ${view.purl}\``,
        );
      }
      await sleep(Math.min(io.pollIntervalMs, left));
      try {
        view = await api.getRelease(view.id);
        unavailableSince = undefined;
        progress.update(view);
      } catch (e) {
        if (!isTransient(e)) throw e;
        unavailableSince ??= io.clock();
        if (io.clock() - unavailableSince > UNAVAILABLE_GRACE_MS) throw e;
        progress.note(`${(e as Error).message}; retrying`);
      }
    }
    finishedCleanly = true;
  } finally {
    // on a terminal the final report replaces the live table; keep it when stdout goes elsewhere
    progress.finish(!finishedCleanly || opts.json === true || !io.stdout.isTTY);
  }
  if (!view.verdict) throw new CliError('bad-answer', `the coordinator marked release ${view.id} decided without a verdict`);
  if (opts.json) printJson(io, releaseJson(view));
  else io.stdout.write(`${renderReleaseReport(view, { server: api.server, now: io.clock() })}\n`);
  // a pass about an override source must not pass a CI gate meant for the package's own source
  if (view.canonical === false && (view.verdict.verdict === 'reproducible' || view.verdict.verdict === 'equivalent')) return EXIT.override;
  return exitCodeForVerdict(view.verdict.verdict);
}

interface StatusOptions {
  all?: boolean;
  json?: boolean;
  server?: string;
}

function newestFirst(releases: readonly ReleaseView[]): ReleaseView[] {
  return [...releases].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

async function status(purl: string, opts: StatusOptions, io: CliIo): Promise<number> {
  const parsed = parsePurl(() => parseAnyPurl(purl));
  const api = client(opts.server, io);
  let releases: ReleaseView[];
  let answers: PurlAnswer[] = [];
  try {
    const pkg = await api.getPackage(parsed.canonical);
    releases = newestFirst(pkg.releases ?? []);
    answers = Array.isArray(pkg.answers) ? pkg.answers : [];
  } catch (e) {
    if (!(isCliError(e, 'http') && e.status === 404)) throw e;
    releases = [];
  }
  // the headline is what answers for the purl: canonical sources only, an unexplained mismatch first
  const answer = answers[0];
  let answering = answer?.releaseId ? releases.find((r) => r.id === answer.releaseId) : undefined;
  // the list holds the newest releases only: the one that answers may be older than all of them
  if (answer?.releaseId && !answering) answering = await api.getRelease(answer.releaseId);
  const verdict = answer ? answer.verdict : null;
  if (opts.json) printJson(io, { purl: parsed.canonical, verdict, answer: answer ?? null, answers, release: answering ?? releases[0] ?? null, releases });
  if (releases.length === 0) {
    const example = parsed.version ? parsed.canonical : `${parsed.canonical}@<version>`;
    throw new CliError('http', `no release of ${parsed.canonical} is known to the coordinator at ${api.server}; submit one with \`quorum submit ${example}\``);
  }
  if (!opts.json) {
    const now = io.clock();
    const headline = answers.map((a) => renderAnswer(a)).join('\n\n');
    // one version: the release that answers (or the newest, when none does yet), the rest with --all
    const first = answering ?? releases[0]!;
    const shown = parsed.version && !opts.all ? [first] : releases;
    const blocks = shown.map((r, i) => {
      const report = renderReleaseReport(r, { server: api.server, now });
      return shown.length > 1 ? `${safeText(`=== ${r.purl} (release ${i + 1} of ${shown.length}, newest first) ===`)}\n${report}` : report;
    });
    io.stdout.write(`${headline ? `${headline}\n\n` : ''}${blocks.join('\n\n')}\n`);
    const hidden = releases.length - shown.length;
    if (hidden > 0) io.stdout.write(`\n(${hidden} other release${hidden === 1 ? '' : 's'} of ${safeText(parsed.canonical)}; --all shows them)\n`);
  }
  if (answer?.verdict) return exitCodeForVerdict(answer.verdict);
  // nothing from the package's own source is decided: undecided (5) when one is on its way, else no verdict
  return answer?.pending || releases.some((r) => r.state !== 'decided' && r.canonical !== false) ? exitCodeForVerdict(undefined) : EXIT.error;
}

/** Streams a build log to stdout: escaped for the terminal chunk by chunk, or the bytes unchanged with `raw`. */
interface AuditCliOptions {
  strict?: boolean;
  all?: boolean;
  json?: boolean;
  sarif?: boolean;
  submitMissing?: boolean;
  token?: string;
  server?: string;
}

async function audit(file: string | undefined, opts: AuditCliOptions, io: CliIo): Promise<number> {
  if (opts.json && opts.sarif) throw new CliError('usage', '--json and --sarif both choose the output: give one');
  const token = opts.token ?? (io.env.QUORUM_SUBMIT_TOKEN?.trim() || undefined);
  if (opts.submitMissing && token === undefined) throw new CliError('usage', '--submit-missing queues rebuilds, which needs a submit token from an operator: pass --token or set QUORUM_SUBMIT_TOKEN');
  const found = findLockfile(file, process.cwd());
  const lock = readLockfile(found);
  const api = client(opts.server, io);
  const report = await auditLockfile(api, lock, token);
  if (opts.submitMissing) report.submitted = await submitMissing(api, report, token!, (line) => io.stderr.write(`${safeText(line)}\n`));
  if (opts.json) printJson(io, report);
  else if (opts.sarif) printJson(io, auditSarif(report, lock.text, relative(process.cwd(), lock.file) || found.name, cliVersion()));
  else io.stdout.write(`${renderAudit(report, { all: opts.all === true, strict: opts.strict === true })}\n`);
  return auditExitCode(report, opts.strict === true);
}

async function logs(rebuildId: string, opts: { raw?: boolean; server?: string }, io: CliIo): Promise<number> {
  const res = await client(opts.server, io).rebuildLog(rebuildId);
  const write = async (chunk: Uint8Array | string): Promise<void> => {
    if (chunk.length > 0 && !io.stdout.write(chunk)) await new Promise<void>((r) => io.stdout.once('drain', () => r()));
  };
  const decoder = opts.raw ? undefined : new SafeTextDecoder();
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await write(decoder ? decoder.write(chunk) : chunk);
  }
  if (decoder) await write(decoder.end());
  return EXIT.ok;
}

/** Shows the file-level diff behind the newest verdict of a purl (or of a release id). */
async function diff(target: string, opts: { json?: boolean; server?: string }, io: CliIo): Promise<number> {
  const api = client(opts.server, io);
  let releaseId = target;
  if (target.startsWith('pkg:')) {
    const parsed = parsePurl(() => parseReleasePurl(target));
    const newest = newestFirst((await api.getPackage(parsed.canonical)).releases ?? []).find((r) => r.state === 'decided');
    if (!newest) throw new CliError('usage', `${parsed.canonical} has no decided release yet`);
    releaseId = newest.id;
  }
  const found = await api.getDiff(releaseId);
  if (opts.json) printJson(io, found);
  else io.stdout.write(safeText(renderDiff(found), { multiline: true }).replace(/\n?$/, '\n'));
  return EXIT.ok;
}

async function workers(opts: { json?: boolean; server?: string }, io: CliIo): Promise<number> {
  const list = await client(opts.server, io).listWorkers();
  if (opts.json) printJson(io, list);
  else io.stdout.write(`${renderWorkers(list, io.clock())}\n`);
  return EXIT.ok;
}

async function keysExport(opts: { out?: string; server?: string }, io: CliIo): Promise<number> {
  const api = client(opts.server, io);
  const answer = await api.getKeys();
  // refuse to pin something `verify --trust` would not accept
  const trust = parseTrust(answer, `the answer of GET ${api.url('/v1/keys')}`, 'bad-answer');
  const text = `${safeJson(answer)}\n`;
  if (opts.out === undefined) {
    io.stdout.write(text);
    return EXIT.ok;
  }
  try {
    writeFileSync(opts.out, text);
  } catch (e) {
    throw new CliError('usage', `cannot write ${opts.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  io.stderr.write(`wrote trust file ${opts.out}: ${safeText(trustSummary(trust))}\n`);
  io.stderr.write(`compare the key ids and the source mappings with the operators out of band, then: quorum verify <purl> --trust ${safeText(opts.out)}\n`);
  return EXIT.ok;
}

interface VerifyCliOptions extends VerifyOptions {
  json?: boolean;
  server?: string;
}

async function verify(purlArg: string, opts: VerifyCliOptions, io: CliIo): Promise<number> {
  const purl = parsePurl(() => parseReleasePurl(purlArg));
  const builder = parsePurl(() => builderFor(purl.type));
  const purlProblem = builder.purlProblem(purl);
  if (purlProblem) throw new CliError('usage', purlProblem);
  const api = client(opts.server, io);
  for (const repo of opts.allowSource ?? []) io.stderr.write(`warning: --allow-source ${safeText(repo)}: statements about that repository count although it is not the package's own source\n`);
  const outcome = await runVerify(purl, builder, opts, { api, env: io.env, warn: (line) => void io.stderr.write(`warning: ${safeText(line)}\n`) });
  if (opts.json) printJson(io, verifyJson(outcome));
  else io.stdout.write(`${renderVerifyReport(outcome)}\n`);
  return verifyExitCode(outcome);
}

/** The admin token: --admin-token, else QUORUM_ADMIN_TOKEN. */
function adminToken(opts: { adminToken?: string }, io: CliIo): string {
  const token = opts.adminToken ?? io.env.QUORUM_ADMIN_TOKEN;
  if (token === undefined || token.trim() === '') {
    throw new CliError(
      'usage',
      `admin commands need the coordinator's admin token: set QUORUM_ADMIN_TOKEN or pass --admin-token ` +
        `(a farm started by \`quorum up\` keeps it in .quorum/${ADMIN_TOKEN_FILE}: export QUORUM_ADMIN_TOKEN=$(cat .quorum/${ADMIN_TOKEN_FILE}))`,
    );
  }
  return token.trim();
}

/** Reads a worker's public key file; refuses anything but a public key (a private key must never be sent). */
function readPublicKey(path: string): { pem: string; keyId: string } {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError('usage', `cannot read public key ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  if (/PRIVATE KEY/.test(pem)) {
    throw new CliError('usage', `${path} holds a private key; give the worker's public key (signing-key.pub.pem in its keys directory), the private key stays with the worker`);
  }
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) throw new CliError('usage', `${path} is not a PEM public key (-----BEGIN PUBLIC KEY-----)`);
  try {
    return { pem, keyId: keyIdOf(pem) };
  } catch (e) {
    throw new CliError('usage', `${path} is not a usable public key: ${(e as Error).message}`, { cause: e });
  }
}

interface EnrolCliOptions {
  operator: string;
  publicKey?: string;
  adminToken?: string;
  json?: boolean;
  server?: string;
}

async function adminEnrol(workerId: string, opts: EnrolCliOptions, io: CliIo): Promise<number> {
  if (!WORKER_ID_PATTERN.test(workerId)) throw new CliError('usage', `worker id "${workerId}" must match ${WORKER_ID_PATTERN.source}`);
  if (opts.operator.trim() === '') throw new CliError('usage', '--operator must name the party that runs the worker');
  const token = adminToken(opts, io);
  const key = opts.publicKey !== undefined ? readPublicKey(opts.publicKey) : undefined;
  const api = client(opts.server, io);
  const body: EnrolWorkerRequest = { workerId, operator: opts.operator };
  if (key) body.publicKey = key.pem;
  const answer: EnrolWorkerAnswer = await api.enrolWorker(body, token);
  if (key && (!('keyId' in answer) || answer.keyId !== key.keyId)) {
    const got = 'keyId' in answer ? answer.keyId : 'no key id';
    throw new CliError('bad-answer', `the coordinator answered ${got} for the key of ${opts.publicKey}, whose id is ${key.keyId}`);
  }
  if (!key && !('token' in answer)) throw new CliError('bad-answer', `the coordinator answered no enrolment token for ${workerId}`);
  if (opts.json) printJson(io, answer);
  else io.stdout.write(`${renderEnrolment(answer, api.server)}\n`);
  return EXIT.ok;
}

async function adminRejections(opts: { adminToken?: string; json?: boolean; server?: string; unauthenticated?: boolean }, io: CliIo): Promise<number> {
  const token = adminToken(opts, io);
  const list = await client(opts.server, io).listRejections(token, { unauthenticated: opts.unauthenticated === true });
  if (!Array.isArray(list)) throw new CliError('bad-answer', 'the coordinator sent a rejections answer that is not a list');
  if (opts.json) printJson(io, list);
  else io.stdout.write(`${renderRejections(list)}\n`);
  return EXIT.ok;
}

interface AdminCliOptions {
  adminToken?: string;
  json?: boolean;
  server?: string;
}

async function submittersAdd(name: string, opts: AdminCliOptions, io: CliIo): Promise<number> {
  const answer = await client(opts.server, io).addSubmitter(name, adminToken(opts, io));
  if (opts.json) printJson(io, answer);
  else {
    io.stdout.write(`submit token for ${safeText(answer.name)} (shown once; only its digest is kept):\n\n  ${safeText(answer.token)}\n\n`);
    io.stdout.write('Its holder may override a release\'s source (quorum submit --repo/--ref --token, or QUORUM_SUBMIT_TOKEN);\n');
    io.stdout.write('such verdicts are labelled override verdicts and never answer for the purl.\n');
  }
  return EXIT.ok;
}

async function submittersList(opts: AdminCliOptions, io: CliIo): Promise<number> {
  const list = await client(opts.server, io).listSubmitters(adminToken(opts, io));
  if (opts.json) printJson(io, list);
  else if (list.length === 0) io.stdout.write('no submit tokens issued\n');
  else io.stdout.write(`${formatTable(['SUBMITTER', 'ISSUED', 'REVOKED'], list.map((x) => [x.name, x.createdAt, x.revokedAt ?? '-']))}\n`);
  return EXIT.ok;
}

async function submittersRevoke(name: string, opts: AdminCliOptions, io: CliIo): Promise<number> {
  const answer = await client(opts.server, io).revokeSubmitter(name, adminToken(opts, io));
  if (opts.json) printJson(io, answer);
  else io.stdout.write(`revoked the submit token of ${safeText(answer.name)}\n`);
  return EXIT.ok;
}

async function sourcesMap(purl: string, repo: string, opts: AdminCliOptions & { directory?: string; by?: string; note?: string }, io: CliIo): Promise<number> {
  parsePurl(() => parseAnyPurl(purl));
  const by = opts.by ?? (io.env.USER || io.env.LOGNAME || 'operator');
  const answer = await client(opts.server, io).putSourceMapping(
    { purl, repo, by, ...(opts.directory !== undefined ? { directory: opts.directory } : {}), ...(opts.note !== undefined ? { note: opts.note } : {}) },
    adminToken(opts, io),
  );
  if (opts.json) printJson(io, answer);
  else {
    io.stdout.write(`${safeText(answer.packagePurl)} -> ${safeText(answer.repo)}${answer.directory ? ` [${safeText(answer.directory)}]` : ''} (by ${safeText(answer.by)}, ${safeText(answer.createdAt)})\n`);
    io.stdout.write('Used only for versions whose registry entry declares no repository; their verdicts count as canonical.\n');
    io.stdout.write('Consumers who pinned an earlier trust file must export it again to accept this mapping in quorum verify.\n');
  }
  return EXIT.ok;
}

async function sourcesList(opts: AdminCliOptions, io: CliIo): Promise<number> {
  const list = await client(opts.server, io).listSourceMappings();
  if (opts.json) printJson(io, list);
  else if (list.length === 0) io.stdout.write('no source mappings recorded\n');
  else io.stdout.write(`${formatTable(['PACKAGE', 'REPOSITORY', 'DIRECTORY', 'BY', 'RECORDED'], list.map((m) => [m.packagePurl, m.repo, m.directory ?? '-', m.by, m.createdAt]))}\n`);
  return EXIT.ok;
}

async function sourcesUnmap(purl: string, opts: AdminCliOptions, io: CliIo): Promise<number> {
  parsePurl(() => parseAnyPurl(purl));
  const answer = await client(opts.server, io).deleteSourceMapping(purl, adminToken(opts, io));
  if (opts.json) printJson(io, answer);
  else io.stdout.write(`removed the source mapping of ${safeText(answer.purl)}\n`);
  return EXIT.ok;
}

/** `quorum up`'s options are exactly those of `runUp`. */
type UpCliOptions = UpOptions;

async function up(opts: UpCliOptions, io: CliIo): Promise<number> {
  let stop = io.stop;
  let kill = io.kill;
  const handlers: Array<() => void> = [];
  if (!stop) {
    const stopAc = new AbortController();
    const killAc = new AbortController();
    const onSignal = (name: string) => () => {
      if (!stopAc.signal.aborted) {
        io.stdout.write(`${name} received: stopping the farm (again to kill at once)\n`);
        stopAc.abort();
      } else killAc.abort();
    };
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const h = onSignal(sig);
      process.on(sig, h);
      handlers.push(() => process.removeListener(sig, h));
    }
    stop = stopAc.signal;
    kill = killAc.signal;
  }
  try {
    const upOpts = {
      workers: opts.workers,
      port: opts.port,
      data: opts.data,
      redisPort: opts.redisPort,
      provision: opts.provision,
      ...(opts.builders !== undefined ? { builders: opts.builders } : {}),
      ...(opts.quorum !== undefined ? { quorum: opts.quorum } : {}),
    };
    return await runUp(upOpts, { stdout: io.stdout, stderr: io.stderr, env: io.env, stop, ...(kill ? { kill } : {}) });
  } finally {
    for (const remove of handlers) remove();
  }
}

/** Builds the `quorum` program; each action stores its exit code through `setExit`. */
export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('quorum');
  program
    .description('Reproducible-build verification farm: submit releases, follow independent rebuilds, read M-of-N verdicts.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(`quorum: ${s.replace(/^error: /, '')}`),
      getOutHelpWidth: () => io.stdout.columns ?? 80,
      getErrHelpWidth: () => io.stderr.columns ?? 80,
    })
    .addHelpText(
      'after',
      `
Environment:
  QUORUM_SERVER       coordinator base URL when --server is not given (default ${DEFAULT_SERVER})
  QUORUM_ADMIN_TOKEN  admin token for \`quorum admin\` (a farm from \`quorum up\` keeps it in .quorum/admin-token)

${EXIT_CODES_HELP}

Examples:
  $ quorum up
  $ quorum submit pkg:npm/left-pad@1.3.0 --wait
  $ quorum status pkg:npm/left-pad@1.3.0
  $ quorum logs <rebuild-id>
  $ quorum workers
  $ quorum keys export --out quorum-trust.json
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json`,
    );

  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setExit(await fn(...args));

  program
    .command('submit')
    .description('submit a published release for independent rebuilds; with --wait, follow it to a verdict')
    .argument('<purl>', 'package URL of one release, e.g. pkg:npm/left-pad@1.3.0 or pkg:npm/%40scope/name@1.0.0')
    .option('--repo <url>', 'source repository URL (default: inferred from registry metadata)')
    .option('--ref <tag|sha>', 'tag or commit SHA of the source (default: inferred from registry metadata and tags)')
    .option('--token <token>', 'submit token from an operator (default: $QUORUM_SUBMIT_TOKEN); needed for --repo/--ref, whose verdicts are override verdicts')
    .option('--wait', 'poll until the verdict is decided, show live progress per builder on stderr, then print the verdict')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds (exit 1)', positiveSeconds, DEFAULT_WAIT_TIMEOUT_S)
    .option('--json', 'print { purl, verdict, reason, stabilizers, rebuilds, release } as JSON (the final state with --wait; verdict is null until decided)')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Without --wait, prints the new release id and exits 0. With --wait, progress goes to stderr
(a live table on a terminal, one line per builder state change otherwise; with --json only on
a terminal), then the verdict, reason, agreeing builders, stabilizers, per-builder artifact
digests and log URLs go to stdout, and the exit code says the verdict.

Anyone may submit a plain purl: the source is what the registry declares (rate-limited per
address). --repo/--ref need a submit token; their verdicts are labelled override verdicts and
never answer for the purl (status headline, attestations, verify).

${EXIT_CODES_HELP.replace(/\n.*\((status|verify|audit --strict) only\).*$/gm, '')}

Examples:
  $ quorum submit pkg:npm/left-pad@1.3.0
  $ quorum submit pkg:npm/left-pad@1.3.0 --wait
  $ QUORUM_SUBMIT_TOKEN=qs_... quorum submit pkg:npm/%40scope/pkg@2.0.1 --repo https://github.com/scope/pkg --ref v2.0.1 --wait --timeout 600
  $ quorum submit pkg:npm/left-pad@1.3.0 --wait --json > release.json`,
    )
    .action(action((purl: string, opts: SubmitOptions) => submit(purl, opts, io)));

  program
    .command('status')
    .description('show the verdict and per-builder results of a package or release')
    .argument('<purl>', 'package URL with version (one release) or without (every version)')
    .option('--all', 'for a versioned purl, show every release of that version, not just the newest')
    .option('--json', 'print { purl, verdict, release, releases } as JSON; verdict is the newest release\'s or null')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Releases are listed newest first. The exit code is that of the newest release's verdict;
5 means it is not decided yet. A purl the coordinator has no release of exits 1.

${EXIT_CODES_HELP.replace(/\n.*\((verify|submit|audit --strict) only\).*$/gm, '')}

Examples:
  $ quorum status pkg:npm/left-pad@1.3.0
  $ quorum status pkg:npm/left-pad --json
  $ quorum status pkg:npm/left-pad@1.3.0 --all`,
    )
    .action(action((purl: string, opts: StatusOptions) => status(purl, opts, io)));

  program
    .command('audit')
    .description("check every package a lockfile installs against the farm's verdicts, the integrity it pins each by included")
    .argument('[file]', `lockfile, or a directory to look in (default: the current directory); reads ${AUDIT_LOCKFILE_NAMES}`)
    .option('--strict', 'also fail (exit 8) on anything not verified: no passing verdict, an integrity that cannot be compared, a package from git or a URL')
    .option('--all', 'list every release, not only those that need a look')
    .option('--json', 'print the whole audit as JSON: counts, one entry per release, the entries from elsewhere')
    .option('--sarif', 'print a SARIF 2.1.0 log for code-scanning UIs instead of the table')
    .option('--submit-missing', 'queue a rebuild of every release the farm never saw (needs --token or $QUORUM_SUBMIT_TOKEN)')
    .option('--token <token>', 'submit token from an operator (default: $QUORUM_SUBMIT_TOKEN): with --submit-missing, and to audit more often than anonymous clients may')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Each release is matched by name, version and integrity: a passing verdict counts only for the very
artifact the farm verified, so a lockfile that pins another artifact under the same name and version
is a mismatch. Statuses: reproducible, equivalent, mismatch, unreproducible, failed, unknown (no verdict).

Exit codes:
  0  no mismatch (with --strict: everything verified)
  1  usage error, unreadable lockfile, coordinator unreachable, HTTP error
  2  a mismatch: a published artifact differs from its rebuilds, or the lockfile pins another artifact
  8  (--strict) something installed is not verified

Examples:
  $ quorum audit
  $ quorum audit path/to/pnpm-lock.yaml --strict
  $ quorum audit --sarif > quorum.sarif
  $ quorum audit --submit-missing --token "$QUORUM_SUBMIT_TOKEN"`,
    )
    .action(action((file: string | undefined, opts: AuditCliOptions) => audit(file, opts, io)));

  program
    .command('logs')
    .description("write a rebuild's full build log to stdout, control characters escaped (--raw: the bytes unchanged)")
    .argument('<rebuild-id>', 'rebuild id, as listed by `quorum status` and `quorum submit --wait`')
    .option('--raw', 'write the log bytes unchanged, for files and tools; do not send them to a terminal')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
A build log is written by the build, so it may hold terminal control sequences. By default they are
shown, not obeyed: control characters (except newline and tab), DEL, C1 controls and bidi formatting
characters are written as escapes such as \\u001b, \\u202e or \\r, and invalid UTF-8 as U+FFFD.
--raw writes the bytes exactly as the coordinator sent them.

Examples:
  $ quorum logs <rebuild-id>
  $ quorum logs <rebuild-id> | grep -i error
  $ quorum logs <rebuild-id> --raw > build.log`,
    )
    .action(action((id: string, opts: { raw?: boolean; server?: string }) => logs(id, opts, io)));

  program
    .command('diff')
    .description('show what differs, file by file, behind the newest verdict: published vs rebuilt (mismatch, equivalent) or builder vs builder (unreproducible)')
    .argument('<purl|release-id>', 'a versioned purl (its newest decided release) or a release id')
    .option('--json', 'print the diff as JSON (added, removed, changed with unified text diffs, metadata-only, archive-level)')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum diff pkg:npm/left-pad@1.3.0\n  $ quorum diff pkg:npm/left-pad@1.3.0 --json | jq .changed')
    .action(action((target: string, opts: { json?: boolean; server?: string }) => diff(target, opts, io)));

  program
    .command('workers')
    .description('list the workers known to the coordinator')
    .option('--json', 'print the WorkerView list as JSON')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum workers\n  $ quorum workers --json --server http://farm.example:8080')
    .action(action((opts: { json?: boolean; server?: string }) => workers(opts, io)));

  const keys = program.command('keys').description('trust material: the coordinator key, the enrolled builder keys and the quorum policy');
  keys
    .command('export')
    .description('write the coordinator\'s key list (GET /v1/keys) as a trust file for `quorum verify --trust`')
    .option('--out <file>', 'write the trust file here (default: stdout)')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
The trust file holds the coordinator's public key (it signs verdicts), every enrolled builder's
worker id, operator and public key, and the quorum policy. Export it once, check the key ids
with the operators out of band, and keep it: \`quorum verify --trust FILE\` then accepts
signatures from these keys only, so a compromised coordinator cannot add builders of its own.

Examples:
  $ quorum keys export --out quorum-trust.json
  $ quorum keys export --server https://farm.example | jq '.builders[].keyId'`,
    )
    .action(action((opts: { out?: string; server?: string }) => keysExport(opts, io)));

  program
    .command('verify')
    .description('check an attestation yourself: recount the independent builders with pinned keys, check the signed verdict')
    .argument('<purl>', 'package URL of one release, e.g. pkg:npm/left-pad@1.3.0')
    .option('--artifact <file>', 'the artifact you hold, e.g. a .tgz (default: download the published one from the registry)')
    .option('--trust <file>', 'trust file from `quorum keys export` (recommended; default: the coordinator\'s own key list, which defeats the purpose)')
    .option('--threshold <m>', 'independent agreeing builders required (default: the trust file\'s policy.quorum, else 2)', positiveInt)
    .option('--registry <url>', 'registry to read the package\'s metadata and published artifact from (default: $QUORUM_<ECO>_REGISTRY, else the public registry)')
    .option('--allow-source <repo>', 'also count statements about this repository although it is not the package\'s own source (repeatable; loudly reported)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--json', 'print { purl, verified, counted, quorum, artifact, vsa, builders, ... } as JSON')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
The coordinator is not trusted. verify fetches the builder bundles and the signed verdict (VSA)
from GET /v1/attestations/<purl>, verifies every builder bundle offline against the builder keys
of the trust file only, and counts the distinct builders (distinct operators, unless the trust
file's policy says otherwise) whose signed rebuild matches the artifact: bitwise, or after the
stabilizers. A bundle signed by a key missing from the trust file, about another package, of a
failed build or of a builder already counted does not count; the table says why.

Source binding: a statement counts only when it names the package's own source, as the registry
declares it (repository, directory, and gitHead or a release tag), read by verify itself from the
registry; for a package whose registry entry names no source, an operator's mapping counts when the
trust file pins it. Statements about a submitter's override source never count, unless you accept
that repository explicitly with --allow-source (reported loudly).

The artifact is --artifact, or the published one: downloaded from the registry and checked
against the registry's integrity hash. The VSA is checked with the coordinator key of the trust
file and its claim (PASSED/FAILED) compared with your recount; the exit code is your recount.

Use --trust: without it the keys come from the coordinator itself (a warning says so).

${VERIFY_EXIT_CODES_HELP}

Examples:
  $ quorum keys export --out quorum-trust.json        # once; check the key ids out of band
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json --artifact left-pad-1.3.0.tgz
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json --threshold 3 --json`,
    )
    .action(action((purl: string, opts: VerifyCliOptions) => verify(purl, opts, io)));

  const admin = program
    .command('admin')
    .description('operator commands behind the admin token (QUORUM_ADMIN_TOKEN): enrol workers, read rejections, submit tokens, source mappings');
  const adminTokenOption = () =>
    new Option('--admin-token <token>', 'the coordinator\'s admin token (default: $QUORUM_ADMIN_TOKEN; the variable keeps it out of the process list)');
  admin
    .command('enrol')
    .description('enrol a worker: get a one-time enrolment token for it, or enrol its public key directly')
    .argument('<worker-id>', 'the worker\'s id (QUORUM_WORKER_ID), e.g. worker-4')
    .requiredOption('--operator <name>', 'the party that runs the worker (quorums count distinct operators)')
    .option('--public-key <file>', 'the worker\'s public key PEM (its keys/signing-key.pub.pem): enrol it directly, also to replace a key')
    .addOption(adminTokenOption())
    .option('--json', 'print the coordinator\'s answer: { workerId, operator, token, expiresAt } or { workerId, operator, keyId }')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Without --public-key, prints a one-time token and the command that starts the worker with
QUORUM_ENROL_TOKEN=<token>; on its first start the worker enrols its own key with it (the private
key never leaves the worker). With --public-key, the key is enrolled at once and its id printed.

Examples:
  $ export QUORUM_ADMIN_TOKEN=$(cat .quorum/admin-token)
  $ quorum admin enrol worker-4 --operator acme
  $ quorum admin enrol worker-5 --operator example-org --public-key signing-key.pub.pem`,
    )
    .action(action((workerId: string, opts: EnrolCliOptions) => adminEnrol(workerId, opts, io)));
  admin
    .command('rejections')
    .description('list refused worker reports (bad signatures, replays, subject or source mismatches), newest first')
    .option('--unauthenticated', 'list the refused requests nobody authenticated instead (unknown keys, forged signatures, bad enrolment tokens): kept apart, attributable to no worker')
    .addOption(adminTokenOption())
    .option('--json', 'print the list as JSON: [{ seq, at, workerId?, rebuildId?, reason, detail, bundleSha256? }]')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ QUORUM_ADMIN_TOKEN=$(cat .quorum/admin-token) quorum admin rejections\n  $ quorum admin rejections --json')
    .action(action((opts: { adminToken?: string; json?: boolean; server?: string; unauthenticated?: boolean }) => adminRejections(opts, io)));

  const submitters = admin
    .command('submitters')
    .description('submit tokens: who may override a release\'s source (override verdicts never answer for a purl)');
  submitters
    .command('add')
    .description('issue a submit token for a maintainer (printed once)')
    .argument('<name>', 'who holds it, shown with every release it submits, e.g. left-pad-maintainers')
    .addOption(adminTokenOption())
    .option('--json', 'print { name, token }')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum admin submitters add left-pad-maintainers\n  $ QUORUM_SUBMIT_TOKEN=qs_... quorum submit pkg:npm/left-pad@1.3.0 --ref v1.3.0 --wait')
    .action(action((name: string, opts: AdminCliOptions) => submittersAdd(name, opts, io)));
  submitters
    .command('list')
    .description('list submitters and whether their tokens are revoked')
    .addOption(adminTokenOption())
    .option('--json', 'print [{ name, createdAt, revokedAt? }]')
    .addOption(serverOption())
    .action(action((opts: AdminCliOptions) => submittersList(opts, io)));
  submitters
    .command('revoke')
    .description('revoke a submitter\'s token (its releases stay, labelled with its name)')
    .argument('<name>', 'the submitter')
    .addOption(adminTokenOption())
    .option('--json', 'print { name, revoked }')
    .addOption(serverOption())
    .action(action((name: string, opts: AdminCliOptions) => submittersRevoke(name, opts, io)));

  const sources = admin
    .command('sources')
    .description('source mappings: where the source of a package lives when its registry entry declares none');
  sources
    .command('map')
    .description('record a package\'s source repository (used only for versions whose registry entry names none; counts as canonical)')
    .argument('<purl>', 'the package, e.g. pkg:npm/left-pad (a version is ignored)')
    .argument('<repo>', 'its source repository, e.g. https://github.com/left-pad/left-pad')
    .option('--directory <dir>', 'the package\'s directory inside the repository (monorepos)')
    .option('--by <name>', 'who records it, shown wherever it is used (default: $USER)')
    .option('--note <text>', 'why, for auditors (e.g. where the repository was confirmed)')
    .addOption(adminTokenOption())
    .option('--json', 'print the recorded mapping')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum admin sources map pkg:npm/left-pad https://github.com/left-pad/left-pad --by alice --note "confirmed with the maintainer"')
    .action(action((purl: string, repo: string, opts: AdminCliOptions & { directory?: string; by?: string; note?: string }) => sourcesMap(purl, repo, opts, io)));
  sources
    .command('list')
    .description('list the recorded source mappings (public: GET /v1/source-mappings)')
    .option('--json', 'print [{ packagePurl, repo, directory?, by, note?, createdAt }]')
    .addOption(serverOption())
    .action(action((opts: AdminCliOptions) => sourcesList(opts, io)));
  sources
    .command('unmap')
    .description('remove a package\'s source mapping (releases already pinned keep theirs)')
    .argument('<purl>', 'the package')
    .addOption(adminTokenOption())
    .option('--json', 'print { purl, deleted }')
    .addOption(serverOption())
    .action(action((purl: string, opts: AdminCliOptions) => sourcesUnmap(purl, opts, io)));

  program
    .command('up')
    .description('run a local farm in the foreground: Docker + builder image, Redis, a coordinator and N workers')
    .option('--workers <n>', 'worker processes to start (worker-1..worker-N, operators operator-1..N)', positiveInt, UP_DEFAULTS.workers)
    .option('--port <port>', 'coordinator HTTP port on 127.0.0.1', port, UP_DEFAULTS.port)
    .option('--data <dir>', 'data directory (coordinator store, worker dirs, Redis files)', UP_DEFAULTS.data)
    .option('--redis-port <port>', 'Redis port (started by infra/redis.sh if absent)', port, UP_DEFAULTS.redisPort)
    .option('--builders <n>', 'builders per release, N (QUORUM_BUILDERS; default: the coordinator\'s)', positiveInt)
    .option('--quorum <m>', 'agreeing builders required, M (QUORUM_QUORUM; default: the coordinator\'s)', positiveInt)
    .option('--no-provision', 'skip infra/provision.sh (Docker engine and builder image already set up)')
    .addHelpText(
      'after',
      `
Steps: bash infra/provision.sh (installs/starts Docker, builds the builder image), then
bash infra/redis.sh <redis-port> <data>/redis, then the coordinator; once GET /healthz answers,
each worker is enrolled (POST /v1/admin/workers, a one-time token in its QUORUM_ENROL_TOKEN) and
started. Log lines are prefixed with the process names. Then prints
"farm ready: http://127.0.0.1:<port> (<n> workers)".

The admin token is QUORUM_ADMIN_TOKEN when set, else the one kept in <data>/admin-token (mode
0600, created on the first run, reused later): QUORUM_ADMIN_TOKEN=$(cat .quorum/admin-token)
makes \`quorum admin\` work against the farm.

Ctrl-C (SIGINT) or SIGTERM stops the coordinator and workers (SIGTERM, SIGKILL after 10 s;
a second Ctrl-C kills at once) and exits 0. Redis and Docker are left running. If a
coordinator or worker dies on its own, the rest is stopped and the exit code is 1.

Every QUORUM_* variable of this process (e.g. QUORUM_NPM_REGISTRY, QUORUM_ALLOW_LOCAL_REPOS)
is passed on to the coordinator and the workers.

Examples:
  $ quorum up
  $ quorum up --workers 5 --builders 5 --quorum 3
  $ quorum up --no-provision --port 9090 --redis-port 6380 --data /srv/quorum`,
    )
    .action(action((opts: UpCliOptions) => up(opts, io)));

  return program;
}

/**
 * Runs the `quorum` command line in-process: `argv` without node and script, output to
 * `io`. Resolves to the exit code; never throws for expected errors.
 */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    clock: io.clock ?? Date.now,
    pollIntervalMs: io.pollIntervalMs ?? POLL_INTERVAL_MS,
    ...(io.stop ? { stop: io.stop } : {}),
    ...(io.kill ? { kill: io.kill } : {}),
  };
  let code: number = EXIT.ok;
  const program = buildProgram(full, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    // messages quote coordinator answers (error bodies, ids, URLs): escaped here, where every one passes
    if (isCliError(e)) {
      full.stderr.write(`quorum: ${safeText(e.message)}\n`);
      return e.exitCode;
    }
    if (isQuorumError(e) || isAttestError(e)) {
      full.stderr.write(`quorum: ${safeText(e.message)}\n`);
      return EXIT.error;
    }
    const err = e as Error;
    full.stderr.write(`quorum: unexpected error: ${safeText(err?.message ?? String(e))}\n`);
    if (full.env.QUORUM_DEBUG && err?.stack) full.stderr.write(`${safeText(err.stack, { multiline: true })}\n`);
    return EXIT.error;
  }
}
