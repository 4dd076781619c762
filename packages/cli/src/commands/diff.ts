import { parseReleasePurl } from '@quorum/core';
import { renderDiff } from '@quorum/compare';
import { CliError } from '../api-client.js';
import { client, newestFirst, parsePurl, printJson, type CliIo } from '../cli-io.js';
import { EXIT } from '../exit-codes.js';
import { safeText } from '../terminal-text.js';

/** Shows the file-level diff behind the newest verdict of a purl (or of a release id). */
export async function diff(target: string, opts: { json?: boolean; server?: string }, io: CliIo): Promise<number> {
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
