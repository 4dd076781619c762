/**
 * The operator's pages (behind the admin token): who may build, who is waiting to enrol, who may
 * submit, and what the coordinator refused. Refusals carry text written by whoever was refused:
 * it is shown escaped, with control and bidi characters as escapes, and cut short.
 */
import type { VNode } from 'preact';
import { terminalSafe } from '@quorum/core';
import { html, page, releasePath, shellQuote, short } from './dashboard-pages.js';
import type { Enrolment, Rejection, StoredSourceMapping } from './sqlite-store.js';

/** Characters of a refusal's detail the page shows; the API has them all. */
const DETAIL_SHOWN = 400;

export interface OperatorOverview {
  enrolled: (Omit<Enrolment, 'publicKeyPem'> & { alive: boolean | undefined })[];
  pending: { workerId: string; operator: string; expiresAt: string; createdAt: string }[];
  submitters: { name: string; createdAt: string; revokedAt?: string }[];
  mappings: StoredSourceMapping[];
  rejections: Rejection[];
  unauthenticated: Rejection[];
  /** the release of each refused rebuild the store still has */
  releaseOfRebuild: ReadonlyMap<string, string>;
  nowIso: string;
}

const when = (iso: string) => html`<time datetime=${iso}>${iso.replace('T', ' ').slice(0, 19)}</time>`;

function rejectionTable(rows: Rejection[], releaseOfRebuild: ReadonlyMap<string, string>): VNode {
  if (rows.length === 0) return html`<p>None.</p>`;
  return html`<div class="overflow-auto">
    <table class="striped">
      <thead>
        <tr>
          <th>when</th>
          <th>worker</th>
          <th>rebuild</th>
          <th>reason</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((r) => {
          const releaseId = r.rebuildId ? releaseOfRebuild.get(r.rebuildId) : undefined;
          const detail = terminalSafe(r.detail.length > DETAIL_SHOWN ? `${r.detail.slice(0, DETAIL_SHOWN)}…` : r.detail);
          return html`<tr>
            <td>${when(r.at)}</td>
            <td>${r.workerId ? terminalSafe(r.workerId) : '–'}</td>
            <td>${r.rebuildId ? (releaseId ? html`<a href=${releasePath(releaseId)}>${terminalSafe(r.rebuildId)}</a>` : terminalSafe(r.rebuildId)) : '–'}</td>
            <td><strong>${terminalSafe(r.reason)}</strong></td>
            <td><small class="detail">${detail}</small>${r.bundleSha256 ? html`<br /><small>statement sha256 <code>${short(r.bundleSha256, 16)}</code></small>` : ''}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

/** The form that hands out a one-time enrolment token; `formToken` proves the form came from this page. */
function enrolForm(formToken: string): VNode {
  return html`<form method="post" action="/ui/operator/enrolments">
    <input type="hidden" name="formToken" value=${formToken} />
    <fieldset class="grid">
      <label>Worker id <input name="workerId" required pattern="[A-Za-z0-9._\\-]{1,64}" placeholder="worker-3" /></label>
      <label>Operator <input name="operator" required maxlength="200" placeholder="example.org" /></label>
    </fieldset>
    <input type="submit" value="Issue an enrolment token" />
  </form>`;
}

/** `/ui/operator`: enrolment, submitters, source mappings and refusals on one page. */
export function operatorPage(o: OperatorOverview, formToken: string): string {
  return page(
    'Operator',
    html`<h1>Operator</h1>
      <p>
        <a href="#enrolment">Enrolment</a> · <a href="#submitters">Submitters</a> · <a href="#mappings">Source mappings</a> · <a href="#rejections">Refused reports</a> ·${' '}
        <a href="#unauthenticated">Refused unauthenticated requests</a>
      </p>
      <section id="enrolment" aria-label="Enrolment">
        <h2>Enrolment</h2>
        <p>A worker builds for this farm only once its key is enrolled. Hand a new worker a one-time token; its first start binds its key to its id.</p>
        ${enrolForm(formToken)}
        <h3>Enrolled workers</h3>
        ${
          o.enrolled.length === 0
            ? html`<p>None.</p>`
            : html`<div class="overflow-auto">
                <table>
                  <thead>
                    <tr>
                      <th>worker</th>
                      <th>operator</th>
                      <th>key id</th>
                      <th>enrolled</th>
                      <th>heartbeat</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${o.enrolled.map(
                      (e) =>
                        html`<tr>
                          <td>${e.workerId}</td>
                          <td>${e.operator}</td>
                          <td><code title=${e.keyId}>${short(e.keyId, 16)}</code></td>
                          <td>${when(e.enrolledAt)}</td>
                          <td>${e.alive === undefined ? 'never seen' : e.alive ? 'alive' : 'gone'}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
        }
        <h3>Waiting to enrol</h3>
        ${
          o.pending.length === 0
            ? html`<p>None.</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th>worker</th>
                    <th>operator</th>
                    <th>token issued</th>
                    <th>token expires</th>
                  </tr>
                </thead>
                <tbody>
                  ${o.pending.map(
                    (p) =>
                      html`<tr>
                        <td>${p.workerId}</td>
                        <td>${p.operator}</td>
                        <td>${when(p.createdAt)}</td>
                        <td>${when(p.expiresAt)}${p.expiresAt <= o.nowIso ? html` <strong>expired</strong>` : ''}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </section>
      <section id="submitters" aria-label="Submitters">
        <h2>Submitters</h2>
        <p>Holders of a submit token may give a release's source themselves (an override never answers for a purl). Issue and revoke them with <code>quorum admin</code>.</p>
        ${
          o.submitters.length === 0
            ? html`<p>None.</p>`
            : html`<ul>
                ${o.submitters.map((s) => html`<li>${s.name} <small>issued ${when(s.createdAt)}${s.revokedAt ? html`, <strong>revoked</strong> ${when(s.revokedAt)}` : ''}</small></li>`)}
              </ul>`
        }
      </section>
      <section id="mappings" aria-label="Source mappings">
        <h2>Source mappings</h2>
        ${
          o.mappings.length === 0
            ? html`<p>None: every package's source is the one its registry entry declares.</p>`
            : html`<ul>
                ${o.mappings.map((m) => html`<li>${m.packagePurl} → ${m.repo}${m.directory ? ` (${m.directory})` : ''} <small>by ${m.by}, ${when(m.createdAt)}${m.note ? ` — ${m.note}` : ''}</small></li>`)}
              </ul>`
        }
      </section>
      <section id="rejections" aria-label="Refused reports">
        <h2>Refused reports of enrolled workers <small>(newest ${o.rejections.length})</small></h2>
        <p>A report the coordinator would not take: a bad signature, a statement about another artifact, a rebuild not assigned to the worker. Several from one worker are worth a look.</p>
        ${rejectionTable(o.rejections, o.releaseOfRebuild)}
      </section>
      <section id="unauthenticated" aria-label="Refused unauthenticated requests">
        <h2>Refused unauthenticated requests <small>(newest ${o.unauthenticated.length})</small></h2>
        <p>Requests no enrolled key signed; kept apart so that they cannot crowd out the reports above.</p>
        ${rejectionTable(o.unauthenticated, o.releaseOfRebuild)}
      </section>`,
  );
}

/** The one time an enrolment token is shown, with how the new worker uses it. */
export function enrolmentIssuedPage(e: { workerId: string; operator: string; token: string; expiresAt: string }, publicUrl: string | undefined): string {
  const server = publicUrl ? shellQuote(publicUrl) : '<the coordinator URL>';
  const command = `QUORUM_ENROL_TOKEN=${shellQuote(e.token)} QUORUM_WORKER_ID=${shellQuote(e.workerId)} QUORUM_OPERATOR=${shellQuote(e.operator)} QUORUM_COORDINATOR_URL=${server} \\
  QUORUM_REDIS_URL=<the farm's Redis URL> node packages/worker/dist/bin.js`;
  return page(
    'Enrolment token',
    html`<h1>Enrolment token for ${e.workerId}</h1>
      <p role="status">
        This token is shown once. It is valid until ${when(e.expiresAt)}; the worker's first start with it binds the worker's own key to <strong>${e.workerId}</strong> (operator ${e.operator}).
      </p>
      <pre><code>${e.token}</code></pre>
      <p>On the worker's machine:</p>
      <pre><code>${command}</code></pre>
      <p><a href="/ui/operator">Back to the operator page</a></p>`,
  );
}
