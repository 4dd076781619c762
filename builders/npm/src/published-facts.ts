import { list } from 'tar';

/** Fact: the published package.json ends its lines in CRLF (`crlf`), as a publisher on Windows may write it. */
export const PUBLISHED_MANIFEST_EOL = 'publishedManifestEol';

/** A package.json larger than this is not read for facts (real ones are a few KiB). */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * What the published tarball itself shows about how it was made, for `decideInputs`: only how its
 * package.json ends its lines. Read after the worker checked the tarball's integrity and found it
 * safe; the top directory's `package.json` (npm names it `package/`, old tarballs otherwise).
 */
export async function npmPublishedFacts(file: string): Promise<Record<string, string>> {
  let manifest: Buffer | undefined;
  let reading = false;
  await list({
    file,
    onReadEntry: (entry) => {
      if (reading || manifest !== undefined || entry.type !== 'File' || !/^[^/]+\/package\.json$/.test(entry.path) || entry.size > MAX_MANIFEST_BYTES) {
        entry.resume();
        return;
      }
      reading = true;
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        manifest = Buffer.concat(chunks);
      });
    },
  });
  return manifest !== undefined && manifest.includes('\r\n') ? { [PUBLISHED_MANIFEST_EOL]: 'crlf' } : {};
}
