import { readFileSync } from 'node:fs';
import { keyIdOf } from '@quorum/attest';
import { parseAnyPurl, WORKER_ID_PATTERN } from '@quorum/core';
import { CliError, type EnrolWorkerAnswer, type EnrolWorkerRequest } from '../api-client.js';
import { client, parsePurl, printJson, type CliIo } from '../cli-io.js';
import { EXIT } from '../exit-codes.js';
import { formatTable, renderEnrolment, renderRejections } from '../render.js';
import { safeText } from '../terminal-text.js';
import { ADMIN_TOKEN_FILE } from '../up-defaults.js';

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

export interface EnrolCliOptions {
  operator: string;
  publicKey?: string;
  adminToken?: string;
  json?: boolean;
  server?: string;
}

export async function adminEnrol(workerId: string, opts: EnrolCliOptions, io: CliIo): Promise<number> {
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

export async function adminRejections(opts: { adminToken?: string; json?: boolean; server?: string; unauthenticated?: boolean }, io: CliIo): Promise<number> {
  const token = adminToken(opts, io);
  const list = await client(opts.server, io).listRejections(token, { unauthenticated: opts.unauthenticated === true });
  if (!Array.isArray(list)) throw new CliError('bad-answer', 'the coordinator sent a rejections answer that is not a list');
  if (opts.json) printJson(io, list);
  else io.stdout.write(`${renderRejections(list)}\n`);
  return EXIT.ok;
}

export interface AdminCliOptions {
  adminToken?: string;
  json?: boolean;
  server?: string;
}

export async function submittersAdd(name: string, opts: AdminCliOptions, io: CliIo): Promise<number> {
  const answer = await client(opts.server, io).addSubmitter(name, adminToken(opts, io));
  if (opts.json) printJson(io, answer);
  else {
    io.stdout.write(`submit token for ${safeText(answer.name)} (shown once; only its digest is kept):\n\n  ${safeText(answer.token)}\n\n`);
    io.stdout.write("Its holder may override a release's source (quorum submit --repo/--ref --token, or QUORUM_SUBMIT_TOKEN);\n");
    io.stdout.write('such verdicts are labelled override verdicts and never answer for the purl.\n');
  }
  return EXIT.ok;
}

export async function submittersList(opts: AdminCliOptions, io: CliIo): Promise<number> {
  const list = await client(opts.server, io).listSubmitters(adminToken(opts, io));
  if (opts.json) printJson(io, list);
  else if (list.length === 0) io.stdout.write('no submit tokens issued\n');
  else
    io.stdout.write(
      `${formatTable(
        ['SUBMITTER', 'ISSUED', 'REVOKED'],
        list.map((x) => [x.name, x.createdAt, x.revokedAt ?? '-']),
      )}\n`,
    );
  return EXIT.ok;
}

export async function submittersRevoke(name: string, opts: AdminCliOptions, io: CliIo): Promise<number> {
  const answer = await client(opts.server, io).revokeSubmitter(name, adminToken(opts, io));
  if (opts.json) printJson(io, answer);
  else io.stdout.write(`revoked the submit token of ${safeText(answer.name)}\n`);
  return EXIT.ok;
}

export async function sourcesMap(purl: string, repo: string, opts: AdminCliOptions & { directory?: string; by?: string; note?: string }, io: CliIo): Promise<number> {
  parsePurl(() => parseAnyPurl(purl));
  const by = opts.by ?? (io.env.USER || io.env.LOGNAME || 'operator');
  const answer = await client(opts.server, io).putSourceMapping(
    { purl, repo, by, ...(opts.directory !== undefined ? { directory: opts.directory } : {}), ...(opts.note !== undefined ? { note: opts.note } : {}) },
    adminToken(opts, io),
  );
  if (opts.json) printJson(io, answer);
  else {
    io.stdout.write(
      `${safeText(answer.packagePurl)} -> ${safeText(answer.repo)}${answer.directory ? ` [${safeText(answer.directory)}]` : ''} (by ${safeText(answer.by)}, ${safeText(answer.createdAt)})\n`,
    );
    io.stdout.write('Used only for versions whose registry entry declares no repository; their verdicts count as canonical.\n');
    io.stdout.write('Consumers who pinned an earlier trust file must export it again to accept this mapping in quorum verify.\n');
  }
  return EXIT.ok;
}

export async function sourcesList(opts: AdminCliOptions, io: CliIo): Promise<number> {
  const list = await client(opts.server, io).listSourceMappings();
  if (opts.json) printJson(io, list);
  else if (list.length === 0) io.stdout.write('no source mappings recorded\n');
  else
    io.stdout.write(
      `${formatTable(
        ['PACKAGE', 'REPOSITORY', 'DIRECTORY', 'BY', 'RECORDED'],
        list.map((m) => [m.packagePurl, m.repo, m.directory ?? '-', m.by, m.createdAt]),
      )}\n`,
    );
  return EXIT.ok;
}

export async function sourcesUnmap(purl: string, opts: AdminCliOptions, io: CliIo): Promise<number> {
  parsePurl(() => parseAnyPurl(purl));
  const answer = await client(opts.server, io).deleteSourceMapping(purl, adminToken(opts, io));
  if (opts.json) printJson(io, answer);
  else io.stdout.write(`removed the source mapping of ${safeText(answer.purl)}\n`);
  return EXIT.ok;
}
