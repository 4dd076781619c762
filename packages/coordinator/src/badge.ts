import { createHash } from 'node:crypto';
import type { PurlAnswer } from '@quorum/core';
import { makeBadge } from 'badge-maker';

/** What a badge says and its colour (shields' named colours). */
export interface BadgeFace {
  message: string;
  color: 'brightgreen' | 'green' | 'yellow' | 'orange' | 'red' | 'blue' | 'lightgrey';
}

/**
 * The face of a purl's badge, from what answers for it. An alarm is never hidden: while one stands
 * the badge says `mismatch`, whatever else was decided. A moved tag of the package's own source, or
 * a source that changed between releases, qualifies a passing verdict. A purl nothing was submitted
 * for is `unknown`.
 */
export function badgeFace(answer: PurlAnswer | undefined): BadgeFace {
  if (!answer) return { message: 'unknown', color: 'lightgrey' };
  if (answer.alarms.length > 0 || answer.verdict === 'mismatch') return { message: 'mismatch', color: 'red' };
  switch (answer.verdict) {
    case 'reproducible':
    case 'equivalent':
      if (answer.movedTags.length > 0) return { message: `${answer.verdict}, tag moved`, color: 'yellow' };
      if (answer.sourceChanged) return { message: `${answer.verdict}, source changed`, color: 'yellow' };
      return { message: answer.verdict, color: answer.verdict === 'reproducible' ? 'brightgreen' : 'green' };
    case 'unreproducible':
      return { message: 'unreproducible', color: 'orange' };
    case 'failed':
      return { message: 'failed', color: 'lightgrey' };
    default:
      return answer.pending ? { message: 'pending', color: 'blue' } : { message: 'unknown', color: 'lightgrey' };
  }
}

/** The SVG of a badge, labelled with the farm's name, and its ETag. */
export function renderBadge(face: BadgeFace, label = 'quorum'): { svg: string; etag: string } {
  const svg = makeBadge({ label, message: face.message, color: face.color });
  return { svg, etag: `"${createHash('sha256').update(svg).digest('base64url').slice(0, 27)}"` };
}
