import { setTimeout as sleep } from 'node:timers/promises';
import { parseReleasePurl, type ReleaseView, type SubmitReleaseRequest, type Verdict } from '@quorum/core';
import { CliError } from '../api-client.js';
import { client, isTransient, parsePurl, printJson, UNAVAILABLE_GRACE_MS, type CliIo } from '../cli-io.js';
import { EXIT, exitCodeForVerdict } from '../exit-codes.js';
import { createProgress } from '../progress.js';
import { renderReleaseReport } from '../render.js';
import { safeText } from '../terminal-text.js';

export interface SubmitOptions {
  repo?: string;
  ref?: string;
  callback?: string;
  token?: string;
  wait?: boolean;
  timeout: number;
  json?: boolean;
  server?: string;
}

/** JSON form of one release for scripts: the verdict string on top, the per-builder results, the whole view. */
export function releaseJson(view: ReleaseView): {
  purl: string;
  canonical: boolean;
  verdict: Verdict | null;
  reason: string | null;
  stabilizers: string[];
  rebuilds: ReleaseView['rebuilds'];
  release: ReleaseView;
} {
  return {
    purl: view.purl,
    canonical: view.canonical !== false,
    verdict: view.verdict?.verdict ?? null,
    reason: view.verdict?.reason ?? null,
    stabilizers: view.verdict?.stabilizers ?? [],
    rebuilds: view.rebuilds,
    release: view,
  };
}

export async function submit(purl: string, opts: SubmitOptions, io: CliIo): Promise<number> {
  parsePurl(() => parseReleasePurl(purl));
  const api = client(opts.server, io);
  const body: SubmitReleaseRequest = { purl };
  if (opts.repo !== undefined) body.repo = opts.repo;
  if (opts.ref !== undefined) body.ref = opts.ref;
  if (opts.callback !== undefined) body.callback = opts.callback;
  const started = io.clock();
  const token = opts.token ?? (io.env.QUORUM_SUBMIT_TOKEN?.trim() || undefined);
  if ((opts.repo !== undefined || opts.ref !== undefined || opts.callback !== undefined) && token === undefined) {
    throw new CliError(
      'usage',
      '--repo and --ref override the source the registry declares, which needs a submit token, and so does --callback (a URL the coordinator calls) from an operator: pass --token or set QUORUM_SUBMIT_TOKEN (`quorum admin submitters add <name>` issues one)',
    );
  }
  let view = await api.submitRelease(body, token);
  if (!opts.wait) {
    if (opts.json) printJson(io, releaseJson(view));
    else io.stdout.write(`${safeText(view.id)}\n`);
    if (!opts.json && io.stderr.isTTY) io.stderr.write(`${safeText(`submitted ${view.purl} (${view.state}); follow it with: quorum status ${view.purl}`)}\n`);
    return EXIT.ok;
  }

  const progress = createProgress(io.stderr, { json: opts.json === true, clock: io.clock });
  const deadline = started + opts.timeout * 1000;
  let unavailableSince: number | undefined;
  let finishedCleanly = false;
  try {
    progress.update(view);
    while (view.state !== 'decided') {
      const left = deadline - io.clock();
      if (left <= 0) {
        throw new CliError('timeout', `no verdict within ${opts.timeout} s: release ${view.id} is still ${view.state}; follow it with \`quorum status ${view.purl}\``);
      }
      await sleep(Math.min(io.pollIntervalMs, left));
      try {
        view = await api.getRelease(view.id);
        unavailableSince = undefined;
        progress.update(view);
      } catch (e) {
        if (!isTransient(e)) throw e;
        unavailableSince ??= io.clock();
        if (io.clock() - unavailableSince > UNAVAILABLE_GRACE_MS) throw e;
        progress.note(`${(e as Error).message}; retrying`);
      }
    }
    finishedCleanly = true;
  } finally {
    // on a terminal the final report replaces the live table; keep it when stdout goes elsewhere
    progress.finish(!finishedCleanly || opts.json === true || !io.stdout.isTTY);
  }
  if (!view.verdict) throw new CliError('bad-answer', `the coordinator marked release ${view.id} decided without a verdict`);
  if (opts.json) printJson(io, releaseJson(view));
  else io.stdout.write(`${renderReleaseReport(view, { server: api.server, now: io.clock() })}\n`);
  // a pass about an override source must not pass a CI gate meant for the package's own source
  if (view.canonical === false && (view.verdict.verdict === 'reproducible' || view.verdict.verdict === 'equivalent')) return EXIT.override;
  return exitCodeForVerdict(view.verdict.verdict);
}
