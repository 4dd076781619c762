import { parseAnyPurl, type PurlAnswer, type ReleaseView } from '@quorum/core';
import { CliError, isCliError } from '../api-client.js';
import { client, newestFirst, parsePurl, printJson, type CliIo } from '../cli-io.js';
import { EXIT, exitCodeForVerdict } from '../exit-codes.js';
import { renderAnswer, renderReleaseReport } from '../render.js';
import { safeText } from '../terminal-text.js';

export interface StatusOptions {
  all?: boolean;
  json?: boolean;
  server?: string;
}

export async function status(purl: string, opts: StatusOptions, io: CliIo): Promise<number> {
  const parsed = parsePurl(() => parseAnyPurl(purl));
  const api = client(opts.server, io);
  let releases: ReleaseView[];
  let answers: PurlAnswer[] = [];
  try {
    const pkg = await api.getPackage(parsed.canonical);
    releases = newestFirst(pkg.releases ?? []);
    answers = Array.isArray(pkg.answers) ? pkg.answers : [];
  } catch (e) {
    if (!(isCliError(e, 'http') && e.status === 404)) throw e;
    releases = [];
  }
  // the headline is what answers for the purl: canonical sources only, an unexplained mismatch first
  const answer = answers[0];
  let answering = answer?.releaseId ? releases.find((r) => r.id === answer.releaseId) : undefined;
  // the list holds the newest releases only: the one that answers may be older than all of them
  if (answer?.releaseId && !answering) answering = await api.getRelease(answer.releaseId);
  const verdict = answer ? answer.verdict : null;
  if (opts.json) printJson(io, { purl: parsed.canonical, verdict, answer: answer ?? null, answers, release: answering ?? releases[0] ?? null, releases });
  if (releases.length === 0) {
    const example = parsed.version ? parsed.canonical : `${parsed.canonical}@<version>`;
    throw new CliError('http', `no release of ${parsed.canonical} is known to the coordinator at ${api.server}; submit one with \`quorum submit ${example}\``);
  }
  if (!opts.json) {
    const now = io.clock();
    const headline = answers.map((a) => renderAnswer(a)).join('\n\n');
    // one version: the release that answers (or the newest, when none does yet), the rest with --all
    const first = answering ?? releases[0]!;
    const shown = parsed.version && !opts.all ? [first] : releases;
    const blocks = shown.map((r, i) => {
      const report = renderReleaseReport(r, { server: api.server, now });
      return shown.length > 1 ? `${safeText(`=== ${r.purl} (release ${i + 1} of ${shown.length}, newest first) ===`)}\n${report}` : report;
    });
    io.stdout.write(`${headline ? `${headline}\n\n` : ''}${blocks.join('\n\n')}\n`);
    const hidden = releases.length - shown.length;
    if (hidden > 0) io.stdout.write(`\n(${hidden} other release${hidden === 1 ? '' : 's'} of ${safeText(parsed.canonical)}; --all shows them)\n`);
  }
  if (answer?.verdict) return exitCodeForVerdict(answer.verdict);
  // nothing from the package's own source is decided: undecided (5) when one is on its way, else no verdict
  return answer?.pending || releases.some((r) => r.state !== 'decided' && r.canonical !== false) ? exitCodeForVerdict(undefined) : EXIT.error;
}
