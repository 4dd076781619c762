import { writeFileSync } from 'node:fs';
import { CliError } from '../api-client.js';
import { client, type CliIo } from '../cli-io.js';
import { EXIT } from '../exit-codes.js';
import { parseTrust, trustSummary } from '../trust.js';
import { safeJson, safeText } from '../terminal-text.js';

export async function keysExport(opts: { out?: string; server?: string }, io: CliIo): Promise<number> {
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
