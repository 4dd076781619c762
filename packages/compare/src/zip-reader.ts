import { QuorumError, stabilizersBetween } from '@quorum/core';
import yauzl from 'yauzl';
import { entryName, inspectZip, readZipEntry, zipEntries, zipFacets, type ZipInspection, type ZipStabilizedForm } from './analyze-zip.js';
import type { ArchiveReader } from './archive-reader.js';
import { EntryProbe, type ContentProbe } from './entry-contents.js';
import { describeName } from './manifest.js';

/** How a file-level diff reads `.zip` artifacts whose stabilized digest is taken in `form`. */
export function zipReader(form: ZipStabilizedForm): ArchiveReader<ZipInspection> {
  return {
    inspect: (file, limits, sha512) => inspectZip(file, limits, form, sha512),
    archiveStabilizers(A, B, common, equalContent) {
      if (equalContent) return stabilizersBetween(A.analysis, B.analysis);
      // the archive-wide values (comment, gaps, layout) are compared only when the contents are equal:
      // different contents move every offset
      const fa = zipFacets(
        A.raw.filter((e) => common.has(e.path)),
        null,
      );
      const fb = zipFacets(
        B.raw.filter((e) => common.has(e.path)),
        null,
      );
      return stabilizersBetween({ facets: fa }, { facets: fb }).filter((n) => n !== 'zip-format');
    },
    async probeEntries(file, wants, limits) {
      const out = new Map<number, ContentProbe>();
      if (wants.length === 0) return out;
      const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }).catch((e: unknown) => {
        throw new QuorumError('invalid-input', `the artifact changed between the two passes of the diff (${(e as Error).message})`);
      });
      try {
        const entries = await zipEntries(zip, limits.maxEntries);
        for (const want of wants) {
          const entry = entries[want.index];
          if (!entry || entryName(entry) !== want.rawName) {
            throw new QuorumError('invalid-input', `the artifact changed between the two passes of the diff (entry ${want.index} is now ${entry ? describeName(entryName(entry)) : 'gone'})`);
          }
          const probe = new EntryProbe(want);
          await readZipEntry(zip, entry, (chunk) => probe.add(chunk));
          out.set(want.index, probe.finish());
        }
      } finally {
        zip.close();
      }
      return out;
    },
  };
}
