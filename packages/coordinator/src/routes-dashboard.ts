import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ArtifactDiff } from '@quorum/compare';
import { answerFor, ID_PATTERN, isQuorumError, packagePurl, parseAnyPurl, type PackageView } from '@quorum/core';
import { findBuilder } from '@quorum/ecosystems';
import type { CoordinatorContext } from './context.js';
import { DASHBOARD_CSS, diffPage, homePage, logPage, packagePage, problemPage, queueChart, releasePage, searchPage, workersPage, type QueueDepth, type WorkerResults } from './dashboard-pages.js';
import { isAlive, releaseView, workerView } from './views.js';

/** Pages carry no script and load nothing from elsewhere; inline style attributes only (the verdict bar). */
const CSP = "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Sends a dashboard page with the headers every page has. */
export function sendPage(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8').send(body);
}

/** The largest log the viewer renders (the coordinator keeps logs up to QUORUM_MAX_LOG_BYTES). */
const MAX_LOG_VIEW_BYTES = 8 * 2 ** 20;

const requireAsset = createRequire(import.meta.url);
const PICO_CSS = readFileSync(requireAsset.resolve('@picocss/pico/css/pico.min.css'), 'utf8');
const HIGHLIGHT_CSS = readFileSync(requireAsset.resolve('highlight.js/styles/github.min.css'), 'utf8');

/** The dashboard: server-rendered pages at `/` and under `/ui/`, on the views the API serves. */
export function registerDashboardRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store, config } = ctx;
  const hidden = { schema: { hide: true } };
  const send = sendPage;
  const notFound = (reply: FastifyReply, message: string) => send(reply, problemPage('Not found', message), 404);

  app.get('/ui/assets/pico.css', hidden, async (_req, reply) => reply.header('cache-control', 'public, max-age=86400').type('text/css; charset=utf-8').send(PICO_CSS));
  app.get('/ui/assets/highlight.css', hidden, async (_req, reply) => reply.header('cache-control', 'public, max-age=86400').type('text/css; charset=utf-8').send(HIGHLIGHT_CSS));
  app.get('/ui/assets/quorum.css', hidden, async (_req, reply) => reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(DASHBOARD_CSS));

  /** Every live worker's queue, and any other worker that still has rebuilds open. */
  const queueDepths = (): QueueDepth[] => {
    const open = new Map(store.openRebuildsByWorker().map((q) => [q.workerId, q]));
    const nowMs = Date.now();
    const live = store
      .workers()
      .filter((w) => isAlive(w, config.workerTimeoutMs, nowMs))
      .map((w) => open.get(w.id) ?? { workerId: w.id, assigned: 0, running: 0 });
    const liveIds = new Set(live.map((q) => q.workerId));
    return [...live, ...[...open.values()].filter((q) => !liveIds.has(q.workerId))].sort((a, b) => a.workerId.localeCompare(b.workerId));
  };

  app.get('/', hidden, async (_req, reply) => {
    const byDay = new Map<string, Record<string, number>>();
    for (const { day, verdict } of store.recentVerdicts(5000)) {
      const counts = byDay.get(day) ?? {};
      counts[verdict] = (counts[verdict] ?? 0) + 1;
      byDay.set(day, counts);
    }
    // the newest 14 days that saw a verdict, oldest first
    const verdictsByDay = [...byDay.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .slice(-14)
      .map(([day, counts]) => ({ day, counts }));
    const overview = { verdictsByDay, durations: store.recentDurations(500), open: store.openRebuildCounts(), queues: queueDepths() };
    return send(reply, homePage(store.recentReleases(25), store.verdictCounts(), store.releaseCounts(), overview));
  });

  app.get<{ Querystring: { q?: string } }>('/ui/search', hidden, async (req, reply) => {
    const q = String(req.query.q ?? '')
      .trim()
      .slice(0, 300);
    if (q === '') return reply.redirect('/');
    // a full purl goes to its page; a bare name is taken as an npm package's
    let prefixes: string[];
    try {
      const p = parseAnyPurl(q.startsWith('pkg:') ? q : `pkg:npm/${q}`);
      if (q.startsWith('pkg:') && p.version) return reply.redirect(`/ui/packages/${encodeURIComponent(p.canonical)}`);
      prefixes = [packagePurl(p)];
    } catch {
      prefixes = [];
    }
    const found = [...new Set(prefixes.flatMap((prefix) => store.packagesStartingWith(prefix, 50)))];
    if (found.length === 1 && found[0] === prefixes[0]) return reply.redirect(`/ui/packages/${encodeURIComponent(found[0]!)}`);
    return send(reply, searchPage(q, found));
  });

  app.get<{ Params: { purl: string } }>('/ui/packages/:purl', hidden, async (req, reply) => {
    let p: ReturnType<typeof parseAnyPurl>;
    try {
      p = parseAnyPurl(req.params.purl);
    } catch (e) {
      return send(reply, problemPage('Not a package URL', isQuorumError(e) ? e.message : 'malformed purl'), 400);
    }
    const builder = findBuilder(p.type);
    const problem = builder ? builder.purlProblem(p) : `this farm rebuilds no ${p.type.slice(0, 40)} packages`;
    if (problem) return send(reply, problemPage('Not a package URL', problem), 400);
    const releases = store.releasesOf({ canonical: p.version ? p.canonical : packagePurl(p), versioned: p.version !== undefined });
    if (releases.length === 0) return notFound(reply, `No release of ${p.canonical} has been submitted to this farm.`);
    const versions = p.version ? [p.canonical] : store.versionsOf(packagePurl(p));
    const view: PackageView = {
      purl: p.canonical,
      answers: versions.map((v) => answerFor(v, store.answerInputs(v))),
      releases: releases.map((r) => releaseView(r, store.rebuildsOf(r.id), store.verdictHistory(r.id))),
    };
    return send(reply, packagePage(view.purl, view.answers, view.releases));
  });

  const viewOf = (id: string) => {
    const release = ID_PATTERN.test(id) ? store.getRelease(id) : undefined;
    return release ? releaseView(release, store.rebuildsOf(release.id), store.verdictHistory(release.id)) : undefined;
  };

  app.get<{ Params: { id: string } }>('/ui/releases/:id', hidden, async (req, reply) => {
    const view = viewOf(req.params.id);
    if (!view) return notFound(reply, 'No release has this id.');
    return send(reply, releasePage(view, config.publicUrl, store.latestDiff(view.id) !== undefined));
  });

  app.get<{ Params: { id: string } }>('/ui/releases/:id/diff', hidden, async (req, reply) => {
    const view = viewOf(req.params.id);
    const sha256 = view ? store.latestDiff(view.id) : undefined;
    const bytes = sha256 ? await ctx.blobs.read(sha256) : undefined;
    if (!view || !bytes) return notFound(reply, 'This release has no diff: its verdict has no differences to explain.');
    return send(reply, diffPage(view, JSON.parse(Buffer.from(bytes).toString('utf8')) as ArtifactDiff));
  });

  app.get<{ Params: { id: string }; Querystring: { q?: string } }>('/ui/rebuilds/:id/log', hidden, async (req, reply) => {
    const rebuild = ID_PATTERN.test(req.params.id) ? store.getRebuild(req.params.id) : undefined;
    const bytes = rebuild?.logSha256 && (rebuild.logBytes ?? 0) <= MAX_LOG_VIEW_BYTES ? await ctx.blobs.read(rebuild.logSha256) : undefined;
    if (!rebuild || !bytes) {
      const tooLarge = rebuild?.logSha256 && (rebuild.logBytes ?? 0) > MAX_LOG_VIEW_BYTES;
      return notFound(reply, tooLarge ? 'This log is too large to show here; the raw log has it.' : 'No log for this rebuild yet.');
    }
    return send(reply, logPage(rebuild.id, rebuild.releaseId, Buffer.from(bytes).toString('utf8'), String(req.query.q ?? '').slice(0, 200)));
  });

  app.get('/ui/workers', hidden, async (_req, reply) => {
    const results = new Map<string, WorkerResults>();
    for (const r of store.recentResults(2000)) {
      const w = results.get(r.workerId) ?? { finished: 0, failed: 0, disagreed: 0, recent: [] };
      w.finished++;
      if (r.state === 'failed') w.failed++;
      else if (r.decided && !r.agreed) w.disagreed++;
      if (w.recent.length < 8) w.recent.push({ releaseId: r.releaseId, purl: r.purl, state: r.state, agreed: r.agreed, decided: r.decided });
      results.set(r.workerId, w);
    }
    return send(
      reply,
      workersPage(
        store.workers().map((w) => workerView(w, config.workerTimeoutMs)),
        results,
        queueDepths(),
      ),
    );
  });
}
