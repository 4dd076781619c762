import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex digest and byte count of everything a stream yields (constant memory). */
export async function hashStream(input: NodeJS.ReadableStream | AsyncIterable<Uint8Array>, algorithm = 'sha256'): Promise<{ hex: string; size: number }> {
  const h = createHash(algorithm);
  let size = 0;
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    h.update(bytes);
    size += bytes.length;
  }
  return { hex: h.digest('hex'), size };
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  return (await hashStream(createReadStream(path))).hex;
}
