import { stabilizersBetween } from '@quorum/core';
import { computeFacets, inspectTgz, type TgzInspection } from './analyze-tgz.js';
import type { ArchiveReader } from './archive-reader.js';
import { probeEntries } from './entry-contents.js';
import type { TgzStabilizerName } from './stabilizers.js';

/** How a file-level diff reads `.tgz` artifacts. */
export const TGZ_READER: ArchiveReader<TgzInspection> = {
  inspect: (file, limits, sha512) => inspectTgz(file, limits, sha512),
  probeEntries,
  /**
   * The deflate stream of two different tars is comparable only through the zlib level that
   * reproduces it, so gzip-level is named for different contents only when the XFL byte or a
   * recognized level differs.
   */
  archiveStabilizers(A, B, common, equalContent) {
    if (equalContent) return stabilizersBetween(A.analysis, B.analysis);
    const fa = computeFacets(
      A.raw.filter((e) => common.has(e.path)),
      A.facetInputs,
    );
    const fb = computeFacets(
      B.raw.filter((e) => common.has(e.path)),
      B.facetInputs,
    );
    const names = stabilizersBetween({ facets: fa }, { facets: fb }).filter((n) => n !== 'gzip-level');
    const [ia, ib] = [A.facetInputs, B.facetInputs];
    const levelDiffers = ia.header.xfl !== ib.header.xfl || ((ia.level !== null || ib.level !== null) && ia.level !== ib.level);
    if (levelDiffers) names.push('gzip-level' satisfies TgzStabilizerName);
    return names.sort();
  },
};
