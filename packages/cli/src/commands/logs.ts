import { client, type CliIo } from '../cli-io.js';
import { EXIT } from '../exit-codes.js';
import { SafeTextDecoder } from '../terminal-text.js';

/** Streams a build log to stdout: escaped for the terminal chunk by chunk, or the bytes unchanged with `raw`. */
export async function logs(rebuildId: string, opts: { raw?: boolean; server?: string }, io: CliIo): Promise<number> {
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
