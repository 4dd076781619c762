import { parseReleasePurl } from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import { CliError } from '../api-client.js';
import { client, parsePurl, printJson, type CliIo } from '../cli-io.js';
import { runVerify, type VerifyOptions } from '../verify.js';
import { renderVerifyReport, verifyExitCode, verifyJson } from '../verify-report.js';
import { safeText } from '../terminal-text.js';

export interface VerifyCliOptions extends VerifyOptions {
  json?: boolean;
  server?: string;
}

export async function verify(purlArg: string, opts: VerifyCliOptions, io: CliIo): Promise<number> {
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
