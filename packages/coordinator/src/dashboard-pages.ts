/**
 * The dashboard's pages, rendered on the server from the same views the API serves. Every value
 * from a submitter, a registry, a build or a worker is text to preact, which escapes it; links are
 * built only from the coordinator's own paths with encoded components. The pages need no script.
 */
import { html as boundHtml } from 'htm/preact';
import type { VNode } from 'preact';
import { render } from 'preact-render-to-string';
import type { ArtifactDiff } from '@quorum/compare';
import { diffLines } from './diff-highlight.js';
import { terminalSafe, type PurlAnswer, type QuorumPolicy, type RebuildView, type ReleaseView, type VerdictRecord, type WorkerView } from '@quorum/core';

export const html = boundHtml as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;

/** What a verdict (or its absence) looks like: a word and a colour class, never the colour alone. */
function verdictTag(verdict: string | null | undefined, pending = false): VNode {
  const word = verdict ?? (pending ? 'pending' : 'no verdict');
  return html`<mark class=${`verdict verdict-${verdict ?? 'none'}`}>${word}</mark>`;
}

export const short = (hex: string | undefined, n = 12) => (hex ? hex.replace(/^sha256:/, '').slice(0, n) : '–');
const seconds = (ms: number | undefined) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`);
const purlPath = (purl: string) => `/ui/packages/${encodeURIComponent(purl)}`;
export const releasePath = (id: string) => `/ui/releases/${encodeURIComponent(id)}`;

/** The page frame: navigation, the title, the content. */
export function page(title: string, body: VNode): string {
  return `<!doctype html>${render(
    html`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Quorum</title>
        <link rel="stylesheet" href="/ui/assets/pico.css" />
        <link rel="stylesheet" href="/ui/assets/highlight.css" />
        <link rel="stylesheet" href="/ui/assets/quorum.css" />
      </head>
      <body>
        <header class="container-fluid">
          <nav>
            <ul>
              <li>
                <a href="/"><strong>Quorum</strong></a>
              </li>
            </ul>
            <ul>
              <li><a href="/">Releases</a></li>
              <li><a href="/ui/workers">Workers</a></li>
              <li><a href="/ui/operator">Operator</a></li>
              <li><a href="/docs">API</a></li>
            </ul>
          </nav>
        </header>
        <main class="container-fluid">${body}</main>
      </body>
    </html>`,
  )}`;
}

/** The search form, on the home page and the search results. */
function searchForm(q = ''): VNode {
  return html`<form method="get" action="/ui/search" role="search">
    <input type="search" name="q" value=${q} placeholder="pkg:npm/left-pad or left-pad" aria-label="Package" />
    <input type="submit" value="Search" />
  </form>`;
}

/** What the farm overview draws: verdicts per day, rebuild durations, the rebuilds waiting and running. */
export interface FarmOverview {
  verdictsByDay: { day: string; counts: Record<string, number> }[];
  durations: { state: string; totalMs: number }[];
  open: Record<string, number>;
  /** every live worker, with the rebuilds waiting on its queue and running */
  queues: QueueDepth[];
}

export interface QueueDepth {
  workerId: string;
  assigned: number;
  running: number;
}

const VERDICT_ORDER = ['reproducible', 'equivalent', 'mismatch', 'unreproducible', 'failed'] as const;
const VERDICT_FILL: Record<string, string> = { reproducible: '#1e7d32', equivalent: '#00695c', mismatch: '#b71c1c', unreproducible: '#e65100', failed: '#546e7a' };

/** Stacked bars of verdicts per day, drawn as SVG on the server; its label says the same in words. */
function verdictsChart(days: FarmOverview['verdictsByDay']): VNode {
  const width = 640;
  const height = 160;
  const max = Math.max(1, ...days.map((d) => Object.values(d.counts).reduce((a, b) => a + b, 0)));
  // a bar per day, at most as wide as a fortnight's would be
  const bar = Math.min(width / 14, days.length > 0 ? width / days.length : width);
  const label =
    days
      .map(
        (d) =>
          `${d.day}: ${VERDICT_ORDER.filter((v) => d.counts[v])
            .map((v) => `${v} ${d.counts[v]}`)
            .join(', ')}`,
      )
      .join('; ') || 'no verdict yet';
  return html`<svg class="chart" viewBox=${`0 0 ${width} ${height + 20}`} role="img" aria-label=${`Verdicts per day: ${label}`}>
    ${days.map((d, i) => {
      let y = height;
      return html`<g>
        ${VERDICT_ORDER.filter((v) => d.counts[v]).map((v) => {
          const h = (d.counts[v]! / max) * height;
          y -= h;
          return html`<rect x=${i * bar + 2} y=${y} width=${Math.max(1, bar - 4)} height=${h} fill=${VERDICT_FILL[v]}><title>${`${d.day}: ${v} ${d.counts[v]}`}</title></rect>`;
        })}
        <text x=${i * bar + bar / 2} y=${height + 14} text-anchor="middle" font-size="10">${d.day.slice(5)}</text>
      </g>`;
    })}
  </svg>`;
}

/** A histogram of rebuild times (seconds, in doubling bins), succeeded and failed apart. */
function durationsChart(durations: FarmOverview['durations']): VNode {
  const bins = [1, 2, 5, 10, 30, 60, 120, 300, 600, Infinity];
  const names = ['< 1 s', '1–2 s', '2–5 s', '5–10 s', '10–30 s', '30–60 s', '1–2 min', '2–5 min', '5–10 min', '≥ 10 min'];
  const counts = bins.map(() => ({ succeeded: 0, failed: 0 }));
  for (const d of durations) {
    const i = bins.findIndex((b) => d.totalMs / 1000 < b);
    counts[i]![d.state === 'failed' ? 'failed' : 'succeeded']++;
  }
  const width = 640;
  const height = 120;
  const max = Math.max(1, ...counts.map((c) => c.succeeded + c.failed));
  const bar = width / bins.length;
  const label =
    names
      .map((n, i) => `${n}: ${counts[i]!.succeeded} succeeded, ${counts[i]!.failed} failed`)
      .filter((_, i) => counts[i]!.succeeded + counts[i]!.failed > 0)
      .join('; ') || 'no rebuild yet';
  return html`<svg class="chart" viewBox=${`0 0 ${width} ${height + 20}`} role="img" aria-label=${`Rebuild durations: ${label}`}>
    ${counts.map((c, i) => {
      const hs = (c.succeeded / max) * height;
      const hf = (c.failed / max) * height;
      return html`<g>
        <rect x=${i * bar + 2} y=${height - hs} width=${bar - 4} height=${hs} fill="#1565c0"><title>${`${names[i]}: ${c.succeeded} succeeded`}</title></rect>
        <rect x=${i * bar + 2} y=${height - hs - hf} width=${bar - 4} height=${hf} fill="#546e7a"><title>${`${names[i]}: ${c.failed} failed`}</title></rect>
        <text x=${i * bar + bar / 2} y=${height + 14} text-anchor="middle" font-size="10">${names[i]}</text>
      </g>`;
    })}
  </svg>`;
}

/** A bar per worker: the rebuilds running and those waiting on its queue. */
export function queueChart(queues: QueueDepth[]): VNode {
  const width = 640;
  const row = 22;
  const labelWidth = 150;
  const height = Math.max(1, queues.length) * row;
  const max = Math.max(1, ...queues.map((q) => q.assigned + q.running));
  const scale = (n: number) => (n / max) * (width - labelWidth - 60);
  const label = queues.map((q) => `${q.workerId}: ${q.running} running, ${q.assigned} waiting`).join('; ') || 'no worker';
  return html`<svg class="chart" viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`Queue depth per worker: ${label}`}>
    ${queues.map(
      (q, i) =>
        html`<g>
          <text x="0" y=${i * row + 15} font-size="11">${q.workerId.slice(0, 24)}</text>
          <rect x=${labelWidth} y=${i * row + 4} width=${scale(q.running)} height="14" fill="#1565c0"><title>${`${q.workerId}: ${q.running} running`}</title></rect>
          <rect x=${labelWidth + scale(q.running)} y=${i * row + 4} width=${scale(q.assigned)} height="14" fill="#90a4ae"><title>${`${q.workerId}: ${q.assigned} waiting`}</title></rect>
          <text x=${labelWidth + scale(q.running + q.assigned) + 6} y=${i * row + 15} font-size="11">${`${q.running} + ${q.assigned}`}</text>
        </g>`,
    )}
  </svg>`;
}

/** `/`: search, the verdict mix, the farm overview (pictures with their words), the newest releases. */
export function homePage(
  recent: { id: string; purl: string; state: string; verdict: string | null; canonical: boolean; createdAt: string }[],
  verdicts: Record<string, number>,
  releases: Record<string, number>,
  overview: FarmOverview,
): string {
  const total = Object.values(verdicts).reduce((a, b) => a + b, 0);
  return page(
    'Releases',
    html`<h1>Independent rebuilds</h1>
      ${searchForm()}
      <section aria-label="Verdicts">
        <h2>Verdicts</h2>
        <div
          class="mix"
          role="img"
          aria-label=${
            Object.entries(verdicts)
              .map(([v, n]) => `${v} ${n}`)
              .join(', ') || 'no verdict yet'
          }
        >
          ${Object.entries(verdicts).map(([v, n]) => html`<span class=${`verdict-${v}`} style=${`flex-grow: ${n}`} title=${`${v}: ${n}`}></span>`)}
        </div>
        <p>
          ${Object.entries(verdicts).map(([v, n]) => html`${verdictTag(v)} ${n} `)} ${total === 0 ? 'No release decided yet.' : ''} ${releases.queued ? html` · ${releases.queued} queued` : ''}
          ${releases.building ? html` · ${releases.building} building` : ''}
        </p>
      </section>
      <section aria-label="Farm overview" class="grid">
        <article>
          <header>Verdicts per day</header>
          ${verdictsChart(overview.verdictsByDay)}
        </article>
        <article>
          <header>Rebuild durations <small>(newest ${overview.durations.length})</small></header>
          ${durationsChart(overview.durations)}
        </article>
        <article>
          <header>Queue depth per worker <small>(running + waiting)</small></header>
          ${queueChart(overview.queues)}
          <footer><small>${overview.open.assigned ?? 0} rebuilds waiting in workers' queues · ${overview.open.running ?? 0} running</small></footer>
        </article>
      </section>
      <section aria-label="Newest releases">
        <h2>Newest releases</h2>
        <table>
          <thead>
            <tr>
              <th>release</th>
              <th>verdict</th>
              <th>submitted</th>
            </tr>
          </thead>
          <tbody>
            ${recent.map(
              (r) =>
                html`<tr>
                  <td><a href=${releasePath(r.id)}>${r.purl}</a>${r.canonical ? '' : html` <small class="override">override</small>`}</td>
                  <td>${verdictTag(r.verdict, r.state !== 'decided')}</td>
                  <td><time datetime=${r.createdAt}>${r.createdAt.replace('T', ' ').slice(0, 19)}</time></td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>`,
  );
}

/** `/ui/search`: packages whose purl starts with what was asked. */
export function searchPage(q: string, found: string[]): string {
  return page(
    `Search ${q}`,
    html`<h1>Search</h1>
      ${searchForm(q)}
      ${
        found.length === 0
          ? html`<p>No package of this farm starts with <code>${q}</code>.</p>`
          : html`<ul>
              ${found.map((p) => html`<li><a href=${purlPath(p)}>${p}</a></li>`)}
            </ul>`
      }`,
  );
}

/** `/ui/packages/:purl`: every version with what answers for it, and the releases. */
export function packagePage(purl: string, answers: PurlAnswer[], releases: ReleaseView[]): string {
  return page(
    purl,
    html`<h1>${purl}</h1>
      <table>
        <thead>
          <tr>
            <th>version</th>
            <th>what answers</th>
            <th>alarms</th>
          </tr>
        </thead>
        <tbody>
          ${answers.map(
            (a) =>
              html`<tr>
                <td>${a.releaseId ? html`<a href=${releasePath(a.releaseId)}>${a.purl}</a>` : a.purl}</td>
                <td>${verdictTag(a.alarms.length > 0 ? 'mismatch' : a.verdict, a.pending)}${a.movedTags.length > 0 ? html` <small>tag moved</small>` : ''}</td>
                <td>${a.alarms.length === 0 ? '–' : a.alarms.map((al) => html`<a href=${releasePath(al.releaseId)}>${al.risk ? al.risk.text : al.reason}</a> `)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>Releases</h2>
      <ul>
        ${releases.map((r) => html`<li><a href=${releasePath(r.id)}>${r.purl}</a> ${verdictTag(r.verdict?.verdict, r.state !== 'decided')} <small>${r.createdAt.slice(0, 19)}</small>${r.canonical ? '' : html` <small class="override">override</small>`}</li>`)}
      </ul>`,
  );
}

function policyText(p: QuorumPolicy): string {
  return `${p.quorum} of ${p.builders} builders must agree${p.distinctOperators ? ', each of another operator' : ''}`;
}

function builderRow(r: RebuildView): VNode {
  const matches = { bitwise: 'same, bit for bit', stabilized: 'same after stabilizers', no: 'differs' }[r.matchesPublished ?? 'no'];
  return html`<tr>
    <td>${r.workerId}${r.attempt > 1 ? ` #${r.attempt}` : ''}</td>
    <td>${r.operator}</td>
    <td>${r.state}${r.reason ? html`<br /><small>${r.reason}</small>` : ''}</td>
    <td>
      ${r.artifact ? html`<code title=${r.artifact.sha256}>${short(r.artifact.sha256)}</code><br /><small>stabilized <code title=${r.artifact.stabilizedSha256}>${short(r.artifact.stabilizedSha256)}</code></small>` : '–'}
    </td>
    <td>${r.artifact ? matches : '–'}</td>
    <td>${r.toolchainUsed ? Object.entries(r.toolchainUsed).map(([k, v]) => html`<small>${k} ${v}</small><br />`) : '–'}</td>
    <td><code title=${r.imageDigest ?? ''}>${short(r.imageDigest)}</code></td>
    <td><code title=${r.source?.commit ?? ''}>${short(r.source?.commit, 10)}</code></td>
    <td>
      <small>fetch ${seconds(r.durations.fetchMs)}<br />build ${seconds(r.durations.buildMs)}<br />total ${seconds(r.durations.totalMs)}</small>
    </td>
    <td>
      ${r.logUrl ? html`<a href=${`/ui/rebuilds/${encodeURIComponent(r.id)}/log`}>log</a>` : 'no log'} ·${' '}
      ${r.bundleUrl ? html`<a href=${`/v1/rebuilds/${encodeURIComponent(r.id)}/bundle`}>signed statement</a>` : 'no statement'}
    </td>
  </tr>`;
}

function historyRow(v: VerdictRecord): VNode {
  return html`<tr>
    <td><time datetime=${v.decidedAt}>${v.decidedAt.replace('T', ' ').slice(0, 19)}</time></td>
    <td>${verdictTag(v.verdict)}</td>
    <td>${v.reason}</td>
  </tr>`;
}

/** `/ui/releases/:id`: everything an auditor asks of one release, and how to recount it offline. */
/** A word for a POSIX shell, single-quoted. */
export const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * @param publicUrl the coordinator's address as consumers reach it (QUORUM_PUBLIC_URL); never taken
 *   from the request, whose Host header anyone writes
 */
export function releasePage(view: ReleaseView, publicUrl: string | undefined, hasDiff: boolean): string {
  const v = view.verdict;
  const risk = v?.risk;
  const server = publicUrl ? shellQuote(publicUrl) : '<the coordinator URL>';
  const verify = `quorum keys export --out trust.json --server ${server}\nquorum verify ${shellQuote(view.purl)} --trust trust.json --server ${server}`;
  return page(
    view.purl,
    html`<hgroup>
        <h1>${view.purl}</h1>
        <p>
          ${verdictTag(v?.verdict, view.state !== 'decided')}${' '}
          ${view.canonical ? 'built from the package\u2019s own source' : html`<strong class="override">override: built from a submitter’s source; it never answers for the purl</strong>`}
        </p>
      </hgroup>
      ${(view.warnings ?? []).map((w) => html`<p class="warning" role="alert">${w}</p>`)}
      ${v ? html`<p class="reason">${terminalSafe(v.reason)}</p>` : html`<p>State: ${view.state}. The page shows the verdict once enough builders have finished.</p>`}
      ${
        risk
          ? html`<article class=${`risk risk-${risk.level}`} aria-label="Risk summary">
              <header><strong>${risk.text}</strong></header>
              ${
                risk.flags.length > 0
                  ? html`<ul>
                      ${risk.flags.map((f) => html`<li><strong>${f.level}</strong>: ${f.message}</li>`)}
                    </ul>`
                  : ''
              }
              <p>
                <small
                  >${risk.onlyPublished.count} only in the published artifact · ${risk.onlyRebuilt.count} only in the rebuild · ${risk.changed.count} changed · ${risk.modeChanged.count} with another
                  mode</small
                >
              </p>
            </article>`
          : ''
      }
      ${hasDiff ? html`<p><a href=${`/ui/releases/${encodeURIComponent(view.id)}/diff`} role="button" class="secondary">What differs</a></p>` : ''}
      <table class="facts">
        <tbody>
          <tr>
            <th scope="row">policy</th>
            <td>${policyText(view.policy)}</td>
          </tr>
          <tr>
            <th scope="row">source</th>
            <td>
              ${view.source ? html`${view.source.origin}: ${view.source.repo}${view.source.directory ? ` (${view.source.directory})` : ''} at <code>${view.source.commit ?? 'not pinned'}</code>${view.source.ref ? ` (${view.source.ref})` : ''}${view.source.found ? html` <small>found by ${view.source.found}</small>` : ''}` : 'none declared'}
            </td>
          </tr>
          <tr>
            <th scope="row">published artifact</th>
            <td>${view.published ? html`<code>${view.published.sha256}</code> <small>${view.published.size} bytes</small>` : '–'}</td>
          </tr>
          <tr>
            <th scope="row">toolchain asked</th>
            <td>
              ${
                view.source
                  ? Object.entries(view.source.toolchain)
                      .map(([k, t]) => `${k} ${t}`)
                      .join(', ') || '–'
                  : '–'
              }
            </td>
          </tr>
          ${
            v && v.stabilizers.length > 0
              ? html`<tr>
                  <th scope="row">stabilizers</th>
                  <td>${v.stabilizers.join(', ')}</td>
                </tr>`
              : ''
          }
          <tr>
            <th scope="row">submitted</th>
            <td>${view.createdAt}${view.submittedBy ? ` by ${view.submittedBy}` : ''}</td>
          </tr>
          ${
            v
              ? html`<tr>
                  <th scope="row">decided</th>
                  <td>${v.decidedAt}</td>
                </tr>`
              : ''
          }
        </tbody>
      </table>
      <h2>Builders</h2>
      <div class="overflow-auto">
        <table class="striped">
          <thead>
            <tr>
              <th>builder</th>
              <th>operator</th>
              <th>state</th>
              <th>artifact sha256</th>
              <th>vs published</th>
              <th>toolchain</th>
              <th>image</th>
              <th>commit</th>
              <th>durations</th>
              <th>evidence</th>
            </tr>
          </thead>
          <tbody>
            ${view.rebuilds.map(builderRow)}
          </tbody>
        </table>
      </div>
      ${
        (v?.notes ?? []).length > 0
          ? html`<h2>Notes</h2>
              <ul>
                ${v!.notes!.map((n) => html`<li>${n}</li>`)}
              </ul>`
          : ''
      }
      <h2>Verdict history</h2>
      <div class="overflow-auto">
        <table>
          <thead>
            <tr>
              <th>decided</th>
              <th>verdict</th>
              <th>reason</th>
            </tr>
          </thead>
          <tbody>
            ${
              view.verdictHistory.length === 0
                ? html`<tr>
                    <td colspan="3">none yet</td>
                  </tr>`
                : [...view.verdictHistory].reverse().map(historyRow)
            }
          </tbody>
        </table>
      </div>
      <h2>Check it yourself</h2>
      <p>
        Download the <a href=${`/v1/attestations/${encodeURIComponent(view.purl)}`}>signed VSA and builder statements</a> or the${' '}<a href=${`/v1/releases/${encodeURIComponent(view.id)}`}
          >release as JSON</a
        >, or recount offline with your own pinned keys:
      </p>
      <pre><code>${verify}</code></pre>`,
  );
}

/** One worker's record on the workers page. */
export interface WorkerResults {
  finished: number;
  failed: number;
  /** succeeded while a group of others decided without it: its artifact was not the majority's */
  disagreed: number;
  recent: { releaseId: string; purl: string; state: string; agreed: boolean; decided: boolean }[];
}

/** `/ui/workers`: who builds, alive or not, their images, their recent results and how often they stood apart. */
export function workersPage(workers: WorkerView[], results: ReadonlyMap<string, WorkerResults>, queues: QueueDepth[]): string {
  const none: WorkerResults = { finished: 0, failed: 0, disagreed: 0, recent: [] };
  return page(
    'Workers',
    html`<h1>Workers</h1>
      <figure aria-label="Queues">
        ${queueChart(queues)}
        <figcaption><small>Rebuilds running (dark) and waiting on each worker's queue (light).</small></figcaption>
      </figure>
      <p>
        Of each worker's newest finished rebuilds: how many failed, and how often its artifact was not the one the agreeing builders made (a worker that disagrees often is worth an operator's look).
      </p>
      <div class="overflow-auto">
        <table>
          <thead>
            <tr>
              <th>worker</th>
              <th>operator</th>
              <th>alive</th>
              <th>last seen</th>
              <th>images</th>
              <th>running</th>
              <th>finished</th>
              <th>failed</th>
              <th>disagreed</th>
              <th>recent</th>
            </tr>
          </thead>
          <tbody>
            ${workers.map((w) => {
              const r = results.get(w.id) ?? none;
              return html`<tr>
                <td>${w.id}</td>
                <td>${w.operator}</td>
                <td>${w.alive ? 'alive' : 'gone'}</td>
                <td>${w.lastSeenAt.replace('T', ' ').slice(0, 19)}</td>
                <td>
                  ${Object.entries(w.images).map(
                    ([eco, d]) =>
                      html`<small>${eco} <code title=${d}>${short(d)}</code></small
                        ><br />`,
                  )}
                </td>
                <td>${w.running.length}</td>
                <td>${r.finished}</td>
                <td>${r.failed}</td>
                <td class=${r.disagreed > 0 ? 'disagreed' : ''}>${r.disagreed}${r.finished > 0 ? ` (${Math.round((100 * r.disagreed) / r.finished)}%)` : ''}</td>
                <td>
                  ${r.recent.map((x) => html`<a href=${releasePath(x.releaseId)} title=${x.purl}>${x.state === 'failed' ? 'failed' : !x.decided ? 'no group' : x.agreed ? 'agreed' : 'DISAGREED'}</a> `)}
                </td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>`,
  );
}

/** Lines of a build log that say it failed: what an auditor looks for first. */
const FAILURE_LINE = /\b(error|ERR!|FAILED|fatal|failed|exit(ed)? (with )?code [1-9])\b/i;

/** Most log lines one page shows; the raw log has them all. */
export const LOG_LINES_SHOWN = 20_000;

/**
 * `/ui/rebuilds/:id/log`: the log with line numbers, failures marked, filtered by a search. One pass
 * over the text that stops collecting at LOG_LINES_SHOWN lines, whatever the log holds; control and
 * bidi characters are shown as escapes, so a build cannot make its log read otherwise than it ran.
 */
export function logPage(rebuildId: string, releaseId: string, text: string, q: string): string {
  const needle = q.toLowerCase();
  const shown: [number, string][] = [];
  let lines = 0;
  let matching = 0;
  let failures = 0;
  for (let at = 0; at < text.length;) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end < 0 ? text.length : end);
    at = end < 0 ? text.length : end + 1;
    lines++;
    if (FAILURE_LINE.test(line)) failures++;
    if (needle !== '' && !line.toLowerCase().includes(needle)) continue;
    matching++;
    if (shown.length < LOG_LINES_SHOWN) shown.push([lines, line]);
  }
  return page(
    `Log of ${rebuildId}`,
    html`<h1>Build log</h1>
      <p><a href=${releasePath(releaseId)}>Back to the release</a> · <a href=${`/v1/rebuilds/${encodeURIComponent(rebuildId)}/log`}>raw log</a> · ${lines} lines · ${failures} marked as failures</p>
      <form method="get" role="search">
        <input type="search" name="q" value=${q} placeholder="Search the log" aria-label="Search the log" />
        <input type="submit" value="Search" />
      </form>
      ${q ? html`<p>${matching} line${matching === 1 ? '' : 's'} with <code>${q}</code></p>` : ''}
      ${matching > shown.length ? html`<p>The first ${shown.length} are shown; the raw log has every line.</p>` : ''}
      <div class="log" role="log">
        ${shown.map(([n, l]) => html`<div class=${FAILURE_LINE.test(l) ? 'line failure' : 'line'} id=${`L${n}`}><a class="n" href=${`#L${n}`}>${n}</a><span>${terminalSafe(l)}</span></div>`)}
      </div>`,
  );
}

/** A unified diff's lines, each marked as added, removed, a hunk header or context, and coloured by its file's language. */
function unifiedLines(unified: string, path: string): VNode[] {
  // the HTML comes from diffLines, which escapes every character of the diff (see diff-highlight.ts)
  return diffLines(unified, path).map((l) => html`<div class=${`d ${l.kind}`} dangerouslySetInnerHTML=${{ __html: l.html }}></div>`);
}

/** `/ui/releases/:id/diff`: what differs, file by file: added, removed, changed (text as a unified diff, binaries by digest), metadata only. */
/** Files listed per kind on the diff page; the JSON diff has them all. */
export const DIFF_FILES_SHOWN = 500;

export function diffPage(view: ReleaseView, diff: ArtifactDiff): string {
  const cap = <T>(list: T[]) => list.slice(0, DIFF_FILES_SHOWN);
  const capped = [diff.added, diff.removed, diff.changed, diff.metadataOnly].some((l) => l.length > DIFF_FILES_SHOWN);
  return page(
    `Diff of ${view.purl}`,
    html`<h1>What differs</h1>
      <p>
        <a href=${releasePath(view.id)}>${view.purl}</a>: <strong>${diff.a.label}</strong> (<code>${short(diff.a.sha256)}</code>) against
        <strong>${diff.b.label}</strong> (<code>${short(diff.b.sha256)}</code>)
      </p>
      <ul>
        <li>${diff.added.length} added (only in ${diff.b.label})</li>
        <li>${diff.removed.length} removed (only in ${diff.a.label})</li>
        <li>${diff.changed.length} changed</li>
        <li>${diff.metadataOnly.length} with the same content and other metadata</li>
        ${diff.archive.length > 0 ? html`<li>archive encoding: ${diff.archive.join(', ')}</li>` : ''}
      </ul>
      ${diff.truncated ? html`<p class="warning">Some diff text was left out (size caps); the files below say where.</p>` : ''}
      ${capped ? html`<p class="warning">Only the first ${DIFF_FILES_SHOWN} files of each kind are listed; <a href=${`/v1/releases/${encodeURIComponent(view.id)}/diff`}>the diff as JSON</a> has them all.</p>` : ''}
      ${diff.added.map(
        (f) =>
          html`<details open>
            <summary class="file-added">added ${f.path}</summary>
            <p>
              <small>${f.type}, ${f.size} bytes, sha256 <code>${f.sha256}</code></small>
            </p>
          </details>`,
      )}
      ${diff.removed.map(
        (f) =>
          html`<details open>
            <summary class="file-removed">removed ${f.path}</summary>
            <p>
              <small>${f.type}, ${f.size} bytes, sha256 <code>${f.sha256}</code></small>
            </p>
          </details>`,
      )}
      ${diff.changed.map(
        (f) =>
          html`<details open>
            <summary class="file-changed">changed ${f.path}</summary>
            ${
              f.unified
                ? html`<div class="diff">${unifiedLines(f.unified, f.path)}</div>`
                : html`<p>
                    <small>${f.kind}: <code>${short(f.a.sha256, 16)}</code> → <code>${short(f.b.sha256, 16)}</code></small>
                  </p>`
            }
            ${f.note ? html`<p><small>${f.note}</small></p>` : ''}
          </details>`,
      )}
      ${
        diff.metadataOnly.length > 0
          ? html`<h2>Metadata only</h2>
              <table>
                <thead>
                  <tr>
                    <th>path</th>
                    <th>field</th>
                    <th>${diff.a.label}</th>
                    <th>${diff.b.label}</th>
                  </tr>
                </thead>
                <tbody>
                  ${diff.metadataOnly.flatMap((m) =>
                    m.fields.map(
                      (f) =>
                        html`<tr>
                          <td>${m.path}</td>
                          <td>${f.name}</td>
                          <td>${String(f.a)}</td>
                          <td>${String(f.b)}</td>
                        </tr>`,
                    ),
                  )}
                </tbody>
              </table>`
          : ''
      }`,
  );
}

/** A page saying what is not there (404) or what was wrong with the request (400). */
export function problemPage(title: string, message: string): string {
  return page(
    title,
    html`<h1>${title}</h1>
      <p>${message}</p>
      <p><a href="/">Back to the releases</a></p>`,
  );
}

/** The farm's own rules on top of Pico: verdict colours with their words, the verdict mix bar. */
export const DASHBOARD_CSS = `
.verdict { padding: 0.1em 0.5em; border-radius: 0.3em; font-weight: 600; color: #fff; white-space: nowrap; }
.verdict-reproducible { background: #1e7d32; } .verdict-equivalent { background: #00695c; }
.verdict-mismatch { background: #b71c1c; } .verdict-unreproducible { background: #e65100; }
.verdict-failed { background: #546e7a; } .verdict-none { background: #1565c0; }
.mix { display: flex; height: 1.2rem; border-radius: 0.3rem; overflow: hidden; margin-bottom: 0.5rem; }
.mix span { display: block; min-width: 2px; }
.chart { width: 100%; height: auto; } .chart text { fill: currentColor; }
.warning { border-left: 0.3rem solid #b71c1c; padding-left: 0.6rem; font-weight: 600; }
.risk-high { border-left: 0.4rem solid #b71c1c; } .risk-medium { border-left: 0.4rem solid #e65100; } .risk-low { border-left: 0.4rem solid #546e7a; }
.override { color: #e65100; } .disagreed { color: #b71c1c; font-weight: 600; }
pre code { white-space: pre-wrap; word-break: break-all; }
h1, p, li, summary, table.facts td { overflow-wrap: anywhere; } table.facts code { word-break: break-all; }
.log, .diff { font-family: var(--pico-font-family-monospace); font-size: 0.8rem; overflow-x: auto; }
.line { display: flex; white-space: pre; } .line .n { min-width: 4.5em; text-align: right; padding-right: 1em; color: #78909c; text-decoration: none; }
.line.failure { background: #ffebee; color: #b71c1c; font-weight: 600; }
.d { white-space: pre; } .d.add { background: #e8f5e9; color: #1b5e20; } .d.del { background: #ffebee; color: #b71c1c; }
.d.hunk { color: #1565c0; } .d.file { font-weight: 600; }
.file-added { color: #1b5e20; } .file-removed { color: #b71c1c; } .file-changed { color: #e65100; }
`;
