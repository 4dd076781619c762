import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoordinatorContext } from './context.js';
import { isAlive } from './views.js';

/** The coordinator's Prometheus metrics: what is measured as it happens, and what is read from the store and queues at each scrape. */
export interface CoordinatorMetrics {
  registry: Registry;
  /** a worker's report arrived: how long its rebuild took, by outcome */
  rebuildReported(outcome: string, totalMs: number | undefined): void;
}

/** Rebuild durations in seconds: a small package takes seconds, a big TypeScript build minutes. */
const REBUILD_BUCKETS = [5, 10, 30, 60, 120, 300, 600, 1200, 1800];
/** HTTP latencies in seconds: cached answers take a fraction of a millisecond. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** How long a scrape waits for one worker's queue counts. */
const QUEUE_READ_MS = 1500;
/** A scrape's text is reused for this long, and scrapes asked meanwhile wait for the one running. */
const SCRAPE_REUSE_MS = 5000;

/** `p`, or a rejection once `ms` have passed. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('too slow')), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Registers every metric; the store and the queues are read at scrape time only. */
export function createMetrics(ctx: CoordinatorContext): CoordinatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'quorum_coordinator_' });
  const { store, config } = ctx;

  new Gauge({
    name: 'quorum_workers',
    help: 'Enrolled workers, by whether they sent a heartbeat within the worker timeout',
    labelNames: ['alive'],
    registers: [registry],
    collect() {
      const workers = store.workers();
      const alive = workers.filter((w) => isAlive(w, config.workerTimeoutMs)).length;
      this.set({ alive: 'true' }, alive);
      this.set({ alive: 'false' }, workers.length - alive);
    },
  });
  new Gauge({
    name: 'quorum_worker_queue_jobs',
    help: "Rebuild jobs on each worker's own queue, waiting (or delayed) and running",
    labelNames: ['worker', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      // Redis down: nothing is asked (commands would wait in the client's queue), the metric is left out
      if (!ctx.queue.connected) return;
      const alive = store.workers().filter((w) => isAlive(w, config.workerTimeoutMs));
      const depths = await Promise.all(alive.map((w) => within(QUEUE_READ_MS, ctx.queue.depth(w.id)).catch(() => undefined)));
      alive.forEach((w, i) => {
        // a queue that cannot be read now is left out of this scrape, not reported as empty
        const depth = depths[i];
        if (!depth) return;
        this.set({ worker: w.id, state: 'waiting' }, depth.waiting);
        this.set({ worker: w.id, state: 'active' }, depth.active);
      });
    },
  });
  new Gauge({
    name: 'quorum_releases',
    help: 'Releases by state (queued, building, decided)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(store.releaseCounts())) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'quorum_verdicts',
    help: 'Decided releases by their newest verdict (reproducible, equivalent, mismatch, unreproducible, failed)',
    labelNames: ['verdict'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [verdict, n] of Object.entries(store.verdictCounts())) this.set({ verdict }, n);
    },
  });
  const rebuildSeconds = new Histogram({
    name: 'quorum_rebuild_duration_seconds',
    help: 'Rebuilds from start to report, by outcome (succeeded, failed, error), as the workers reported them since the coordinator started',
    labelNames: ['outcome'],
    buckets: REBUILD_BUCKETS,
    registers: [registry],
  });
  const reports = new Counter({ name: 'quorum_rebuild_reports_total', help: 'Rebuild reports accepted since the coordinator started, by outcome', labelNames: ['outcome'], registers: [registry] });
  return {
    registry,
    rebuildReported(outcome, totalMs) {
      reports.inc({ outcome });
      if (totalMs !== undefined && Number.isFinite(totalMs) && totalMs >= 0) rebuildSeconds.observe({ outcome }, totalMs / 1000);
    },
  };
}

/**
 * Times every HTTP request by route pattern (never the raw URL: purls would make a series each)
 * and serves `/metrics` in Prometheus' text format.
 */
export function registerMetrics(app: FastifyInstance, metrics: CoordinatorMetrics): void {
  const http = new Histogram({
    name: 'quorum_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [metrics.registry],
  });
  // one bound series per (method, route, status), found by a string key: the hook runs on every request
  const series = new Map<string, Histogram.Internal<'method' | 'route' | 'status'>>();
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const key = `${req.method} ${reply.statusCode} ${route}`;
    let s = series.get(key);
    if (s === undefined) {
      s = http.labels(req.method, route, String(reply.statusCode));
      series.set(key, s);
    }
    s.observe(reply.elapsedTime / 1000);
    done();
  });
  // one scrape at a time, its text reused briefly: anyone may ask, and a scrape reads the store and Redis
  let last: { at: number; text: Promise<string> } | undefined;
  app.get('/metrics', { schema: { tags: ['operators'], summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    const now = Date.now();
    if (!last || now - last.at > SCRAPE_REUSE_MS) {
      const text = metrics.registry.metrics();
      last = { at: now, text };
      text.catch(() => {
        if (last?.text === text) last = undefined;
      });
    }
    return reply.type(metrics.registry.contentType).send(await last.text);
  });
}
