import { client, printJson, type CliIo } from '../cli-io.js';
import { EXIT } from '../exit-codes.js';
import { renderWorkers } from '../render.js';

export async function workers(opts: { json?: boolean; server?: string }, io: CliIo): Promise<number> {
  const list = await client(opts.server, io).listWorkers();
  if (opts.json) printJson(io, list);
  else io.stdout.write(`${renderWorkers(list, io.clock())}\n`);
  return EXIT.ok;
}
