import type { ReleaseView } from '@quorum/core';
import { createLogUpdate } from 'log-update';
import { builderLabel, formatDuration, isFinished, rebuildDetail, rebuildElapsedMs, renderProgress, sortRebuilds } from './render.js';
import { safeText } from './terminal-text.js';

/** An output stream as the CLI uses it: process.stdout/stderr or a test capture. */
export type OutStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

/** Live progress of one release while `submit --wait` polls it. */
export interface ProgressReporter {
  /** Shows the newest view of the release. */
  update(view: ReleaseView): void;
  /** Shows a transient remark (e.g. the coordinator is unreachable, retrying); `undefined` clears it. */
  note(text: string | undefined): void;
  /** Ends the display; `keep` leaves a live table on screen instead of clearing it. */
  finish(keep: boolean): void;
}

/**
 * What changed between two views of a release, as lines: the release state and every
 * rebuild whose state is new or changed. Each line is terminal-safe (see safeText). Pure.
 */
export function progressEvents(prev: ReleaseView | undefined, next: ReleaseView, now: number): string[] {
  const lines: string[] = [];
  if (!prev || prev.state !== next.state || (!prev.verdict && next.verdict)) {
    const verdict = next.state === 'decided' && next.verdict ? `: ${next.verdict.verdict}` : '';
    const policy = prev ? '' : next.policy ? ` (quorum ${next.policy.quorum} of ${next.policy.builders})` : '';
    lines.push(safeText(`release ${next.id} ${next.state}${verdict}${policy}`));
  }
  const before = new Map((prev?.rebuilds ?? []).map((r) => [r.id, r.state]));
  for (const r of sortRebuilds(next.rebuilds)) {
    if (before.get(r.id) === r.state) continue;
    const detail = rebuildDetail(r);
    const took = isFinished(r) ? ` after ${formatDuration(rebuildElapsedMs(r, now))}` : '';
    lines.push(safeText(`${builderLabel(r)} (${r.operator}) ${r.state}${detail ? ` ${detail}` : ''}${took}`));
  }
  return lines;
}

/** Prints one line per change, prefixed with the time since the wait began: for logs and pipes. */
export class LineProgress implements ProgressReporter {
  private last: ReleaseView | undefined;
  private lastNote: string | undefined;

  constructor(
    private readonly out: OutStream,
    private readonly clock: () => number = Date.now,
    private readonly startedAt: number = clock(),
  ) {}

  update(view: ReleaseView): void {
    const now = this.clock();
    for (const line of progressEvents(this.last, view, now)) this.print(line, now);
    this.last = view;
    this.lastNote = undefined;
  }

  note(text: string | undefined): void {
    if (text !== undefined && text !== this.lastNote) this.print(text, this.clock());
    this.lastNote = text;
  }

  finish(): void {
    // lines are already final
  }

  private print(line: string, now: number): void {
    const t = formatDuration(Math.max(0, now - this.startedAt)).padStart(6);
    // notes carry error messages from the coordinator: escaped like the change lines
    this.out.write(`[${t}] ${safeText(line)}\n`);
  }
}

/** Redraws a compact table in place on a terminal (log-update). */
export class TtyProgress implements ProgressReporter {
  private readonly log: ReturnType<typeof createLogUpdate>;
  private last: ReleaseView | undefined;
  private remark: string | undefined;

  constructor(
    out: OutStream,
    private readonly clock: () => number = Date.now,
  ) {
    this.log = createLogUpdate(out, { showCursor: false });
  }

  update(view: ReleaseView): void {
    this.last = view;
    this.remark = undefined;
    this.draw();
  }

  note(text: string | undefined): void {
    this.remark = text;
    this.draw();
  }

  finish(keep: boolean): void {
    if (!keep) this.log.clear();
    this.log.done(); // shows the cursor again
  }

  private draw(): void {
    const frame = this.last ? renderProgress(this.last, this.clock()) : 'submitting...';
    this.log(this.remark ? `${frame}\n${safeText(this.remark)}` : frame);
  }
}

/** Shows nothing (`--json` without a terminal). */
export class SilentProgress implements ProgressReporter {
  update(): void {}
  note(): void {}
  finish(): void {}
}

/**
 * Picks the progress display for `submit --wait`: a live table on a terminal, change lines
 * otherwise; with `--json`, only the live table on a terminal and nothing else.
 */
export function createProgress(out: OutStream, opts: { json: boolean; clock?: () => number }): ProgressReporter {
  const clock = opts.clock ?? Date.now;
  // a terminal of unknown size (rows/columns 0, e.g. a bare pty) cannot redraw: print lines there
  if (out.isTTY && out.rows !== 0 && out.columns !== 0) return new TtyProgress(out, clock);
  if (opts.json) return new SilentProgress();
  return new LineProgress(out, clock);
}
