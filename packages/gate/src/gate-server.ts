import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { FileHandle } from 'node:fs/promises';
import { QuorumError, releasePurl, terminalSafe, type AuditEntry, type GateMetadata, type GatePackage, type GateVersion, type RegistryGate } from '@quorum/core';
import { egressPolicy, fetchBytes, withAllowedOrigin, type EgressPolicy } from '@quorum/net';
import { FarmClient } from './farm-client.js';
import { decide, newToFarm, policyFor, withCooldown, type GateDecision, type GatePolicies, type GatePolicyName } from './gate-policy.js';
import { GateMetrics } from './gate-metrics.js';
import { sha512Of, TarballStore, type StoredArtifact } from './tarball-store.js';

/** Everything a gate is started with. */
export interface GateOptions {
  /** the purl type the gate serves (its builder's registry protocol) */
  ecosystem: string;
  protocol: RegistryGate;
  /** the registry the gate fronts, e.g. `https://registry.npmjs.org` */
  upstream: string;
  farm: FarmClient;
  policies: GatePolicies;
  /** where tarballs are kept, and how much of them */
  cacheDir: string;
  cacheBytes: number;
  /** how long `require-verified` waits for a verdict on a tarball the farm has not decided; @defaultValue 120 s */
  waitMs?: number;
  /** how long an answer of the farm is reused; @defaultValue 60 s (an undecided one: 5 s) */
  recheckMs?: number;
  /** leave out of the metadata the versions the policy would refuse, so ranges resolve to allowed ones */
  hideBlocked?: boolean;
  /** versions published less than this long ago are served only when verified, whatever the policy; @defaultValue 0 (none) */
  cooldownMs?: number;
  /** the URL clients reach the gate at; @defaultValue from each request's Host header */
  publicUrl?: string;
  /** addresses the gate may fetch from besides the upstream's origin (tests: none) */
  egress?: EgressPolicy;
  logger: Logger;
  /** how often a pending verdict is asked for again while waiting; @defaultValue 1 s */
  pollMs?: number;
}

/** What the gate answered and why, counted and logged. */
type Outcome = 'served' | 'refused' | 'warned' | 'pending' | 'unavailable';

/** A decision once any wait is over. */
type FinalDecision = Exclude<GateDecision, { action: 'wait' }>;

/** A request failed in a way the client must see, with the status to answer. */
class GateFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

const METADATA_TTL_MS = 60_000;
const MAX_METADATA_BYTES = 64 * 2 ** 20;
const MAX_CACHED_METADATA = 2_000;
/** Metadata kept for reuse, counted as the bytes of the documents' text (parsed, they take a few times that). */
const METADATA_CACHE_BYTES = 128 * 2 ** 20;
/** Versions a hidden-version sweep submits for verification per document: the newest the farm has not seen. */
const SUBMIT_HIDDEN_PER_DOCUMENT = 10;
/** A content type a metadata document is served with as the upstream sent it; any other is served as JSON. */
const JSON_TYPE = /^application\/[a-z0-9.+-]*json(?:;\s*charset=utf-8)?$/i;
const HOST = /^[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?$/;

/**
 * A registry front for an ecosystem's clients: metadata and tarballs from the upstream registry,
 * each tarball checked against the farm's verdict about its exact bytes before it is handed over.
 */
export function buildGate(opts: GateOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 2048 },
  });
  const store = new TarballStore(opts.cacheDir, opts.cacheBytes);
  const policy = withAllowedOrigin(opts.egress ?? egressPolicy(), opts.upstream);
  const upstreamOrigin = new URL(opts.upstream).origin;
  const metrics = new GateMetrics();
  const recheckMs = opts.recheckMs ?? 60_000;
  const waitMs = opts.waitMs ?? 120_000;
  const pollMs = opts.pollMs ?? 1_000;
  const cooldownMs = opts.cooldownMs ?? 0;
  const cooldownText = `${+(cooldownMs / 3_600_000).toFixed(2)} h`;
  const metadata = new Map<string, { at: number; bytes: number; doc: Promise<{ meta: GateMetadata; contentType: string }> }>();
  let metadataBytes = 0;
  const firstSeen = new Map<string, number>();
  const answers = new Map<string, { at: number; entry: AuditEntry }>();
  const submitted = new Set<string>();
  const log = opts.logger;

  const nameOf = (pkg: GatePackage) => (pkg.namespace ? `${pkg.namespace}/${pkg.name}` : pkg.name);
  const purlOf = (pkg: GatePackage, version: string) => releasePurl(opts.ecosystem, pkg.namespace, pkg.name, version);

  /** The upstream metadata of a package (reused for a minute), in the form the client asked for. */
  function metadataOf(pkg: GatePackage, accept: string): Promise<{ meta: GateMetadata; contentType: string }> {
    const key = `${accept}\n${nameOf(pkg)}`;
    const now = Date.now();
    const hit = metadata.get(key);
    if (hit && now - hit.at < METADATA_TTL_MS) return hit.doc;
    const cached: { at: number; bytes: number; doc: Promise<{ meta: GateMetadata; contentType: string }> } = { at: now, bytes: 0, doc: Promise.resolve() as never };
    const doc = (async () => {
      let got: { body: Buffer; contentType: string | null };
      try {
        got = await fetchBytes(opts.protocol.metadataUrl(pkg, opts.upstream), {
          policy,
          headers: { accept },
          maxBytes: MAX_METADATA_BYTES,
          timeoutMs: 60_000,
          redirectOrigins: [upstreamOrigin],
        });
      } catch (e) {
        if (e instanceof QuorumError && e.code === 'not-found') throw new GateFailure(404, `${nameOf(pkg)} is not in the upstream registry`);
        throw new GateFailure(502, `the upstream registry cannot give ${nameOf(pkg)}: ${e instanceof QuorumError ? e.message : 'unreachable'}`);
      }
      const meta = opts.protocol.readMetadata(pkg, got.body);
      if (!meta) throw new GateFailure(502, `the upstream registry sent no metadata document of ${nameOf(pkg)}`);
      if (metadata.get(key) === cached) {
        cached.bytes = got.body.length;
        metadataBytes += cached.bytes;
        trimMetadata();
      }
      return { meta, contentType: JSON_TYPE.test(got.contentType ?? '') ? got.contentType! : 'application/json' };
    })();
    cached.doc = doc;
    doc.catch(() => {
      if (metadata.get(key) === cached) dropMetadata(key);
    });
    dropMetadata(key);
    metadata.set(key, cached);
    trimMetadata();
    return doc;
  }

  function dropMetadata(key: string): void {
    const entry = metadata.get(key);
    if (!entry) return;
    metadataBytes -= entry.bytes;
    metadata.delete(key);
  }

  /** Oldest first out: past their time, over the count, or over the bytes (a document too big to keep is used once). */
  function trimMetadata(): void {
    const now = Date.now();
    for (const [key, entry] of metadata) {
      if (now - entry.at < METADATA_TTL_MS && metadata.size <= MAX_CACHED_METADATA && metadataBytes <= METADATA_CACHE_BYTES) break;
      dropMetadata(key);
    }
  }

  /** The farm's answers for artifacts, reused for a while (an undecided one briefly). */
  async function answersFor(items: { purl: string; integrity: string | undefined }[]): Promise<AuditEntry[]> {
    const now = Date.now();
    const keyOf = (i: { purl: string; integrity: string | undefined }) => `${i.purl}\n${i.integrity ?? ''}`;
    const missing = items.filter((i) => {
      const hit = answers.get(keyOf(i));
      return !hit || now - hit.at >= (hit.entry.status === 'unknown' ? Math.min(5_000, recheckMs) : recheckMs);
    });
    if (missing.length > 0) {
      const got = await opts.farm.audit(missing);
      missing.forEach((item, i) => answers.set(keyOf(item), { at: now, entry: got[i]! }));
      if (answers.size > 200_000) answers.clear();
    }
    return items.map((i) => answers.get(keyOf(i))!.entry);
  }

  /** Submits a release the farm has never seen, once per gate process. */
  function submitUnknown(purl: string, entry: AuditEntry): void {
    if (entry.status !== 'unknown' || entry.pending || entry.releaseId !== null || submitted.has(purl)) return;
    submitted.add(purl);
    metrics.submitted.inc();
    opts.farm.submit(purl).then(
      () => log.info({ purl }, 'submitted for verification'),
      (e: unknown) => {
        submitted.delete(purl);
        log.warn({ purl, err: e instanceof Error ? e.message : String(e) }, 'submission failed');
      },
    );
  }

  /** The decision about the exact bytes of an artifact, waiting for a pending verdict where the policy says so. */
  async function decideArtifact(purl: string, artifact: StoredArtifact, name: GatePolicyName): Promise<{ decision: FinalDecision; entry: AuditEntry }> {
    const integrity = `sha512-${Buffer.from(artifact.sha512, 'hex').toString('base64')}`;
    const until = Date.now() + waitMs;
    for (;;) {
      const [entry] = await answersFor([{ purl, integrity }]);
      submitUnknown(purl, entry!);
      const decision = decide(name, entry!, Date.now() >= until);
      if (decision.action !== 'wait') return { decision, entry: entry! };
      answers.delete(`${purl}\n${integrity}`);
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, until - Date.now()))));
    }
  }

  /** `decideArtifact`, or when the farm cannot be asked: 503 under a policy that checks, a warning under `warn`. */
  async function decideOrFallBack(purl: string, artifact: StoredArtifact, name: GatePolicyName): Promise<{ decision: FinalDecision; entry: AuditEntry }> {
    try {
      return await decideArtifact(purl, artifact, name);
    } catch (e) {
      const why = e instanceof QuorumError ? e.message : 'the farm cannot be reached';
      if (name !== 'warn') {
        record('unavailable', purl, name, artifact.sha512, { why });
        throw new GateFailure(503, `Quorum gate cannot check ${purl}: ${why}; retry later`, 30);
      }
      return { decision: { action: 'serve', warning: `not checked: ${why}` }, entry: { purl, status: 'unknown', verdict: null, integrity: 'unchecked', releaseId: null, pending: false } };
    }
  }

  /** When the farm first had a release of `purl` (ms), undefined when it has none; kept once known, it never changes. */
  async function firstSeenAt(purl: string): Promise<number | undefined> {
    const known = firstSeen.get(purl);
    if (known !== undefined) return known;
    let at: number | undefined;
    try {
      at = await opts.farm.firstSeen(purl);
    } catch {
      // unknown age: the cooldown holds
      return undefined;
    }
    if (at !== undefined) {
      if (firstSeen.size >= 200_000) firstSeen.clear();
      firstSeen.set(purl, at);
    }
    return at;
  }

  /** The refusal text: the purl, the verdict in words, the dashboard page and the VSA relied on. */
  async function refusalText(purl: string, why: string, entry: AuditEntry): Promise<string> {
    const vsa = entry.releaseId ? await opts.farm.vsaDigest(purl).catch(() => undefined) : undefined;
    const page = entry.releaseId ? `; see ${opts.farm.answerPage(purl)}` : '';
    return `Quorum gate refused ${purl}: ${why}${page}${vsa ? `; VSA ${vsa}` : ''}`;
  }

  function fail(reply: FastifyReply, status: number, message: string, retryAfterS?: number): FastifyReply {
    // the text reaches a terminal through the client: nothing in it (the farm's words included) may steer it
    const r = opts.protocol.refusal(terminalSafe(message));
    if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS));
    return reply.status(status).header('cache-control', 'no-store').type(r.contentType).send(r.body);
  }

  function baseUrl(req: FastifyRequest): string {
    if (opts.publicUrl) return opts.publicUrl;
    const host = req.headers.host ?? '';
    // a client's own Host names where it reached the gate; anything that is not a plain host is ignored
    if (HOST.test(host)) return `http://${host}`;
    const local = req.socket.localAddress ?? '127.0.0.1';
    return `http://${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
  }

  async function serveMetadata(req: FastifyRequest, reply: FastifyReply, pkg: GatePackage): Promise<FastifyReply> {
    const { meta, contentType } = await metadataOf(pkg, opts.protocol.metadataAccept(req.headers.accept));
    const hidden = opts.hideBlocked ? await hiddenVersions(pkg, meta) : new Set<string>();
    return reply
      .header('cache-control', 'no-store')
      .type(contentType)
      .send(Buffer.from(meta.serve(baseUrl(req), hidden)));
  }

  /**
   * The versions the policy would refuse now, left out of the metadata so that ranges resolve to
   * allowed ones. Only a resolution aid: the artifact request decides again, so when the farm cannot
   * be asked the document is served whole and each artifact is judged when fetched.
   */
  async function hiddenVersions(pkg: GatePackage, meta: GateMetadata): Promise<Set<string>> {
    const hidden = new Set<string>();
    const name = policyFor(opts.policies, nameOf(pkg));
    const versions = [...meta.versions.values()];
    let entries: AuditEntry[];
    let timed: GateMetadata;
    try {
      // the abbreviated document says nothing of publish times: a cooldown reads them from the full one
      timed = cooldownMs > 0 ? (await metadataOf(pkg, opts.protocol.metadataAccept(undefined))).meta : meta;
      entries = await answersFor(versions.map((v) => ({ purl: purlOf(pkg, v.version), integrity: v.integrity })));
    } catch (e) {
      log.warn({ package: nameOf(pkg), err: e instanceof Error ? e.message : String(e) }, 'metadata served whole: the versions to hide could not be decided');
      return hidden;
    }
    const now = Date.now();
    const unseen: { version: string; entry: AuditEntry }[] = [];
    versions.forEach((v, i) => {
      const entry = entries[i]!;
      const cooled = withCooldown(name, timed.versions.get(v.version)?.published, cooldownMs, now);
      // a version the farm never had is new whatever date the registry gives it
      const policy = cooldownMs > 0 && entry.status === 'unknown' && entry.releaseId === null && !entry.pending ? 'require-verified' : cooled.policy;
      if (decide(policy, entry, true).action !== 'refuse') return;
      // a pass the farm could not tie to bytes only because the metadata names no sha512: the artifact request can
      if (sha512Of(v.integrity) === undefined && (entry.status === 'reproducible' || entry.status === 'equivalent')) return;
      hidden.add(v.version);
      if (entry.status === 'unknown' && !entry.pending && entry.releaseId === null) unseen.push({ version: v.version, entry });
    });
    // a hidden version is never asked for, so the farm learns of it here, the newest first
    for (const { version, entry } of unseen.slice(-SUBMIT_HIDDEN_PER_DOCUMENT)) submitUnknown(purlOf(pkg, version), entry);
    if (hidden.size > 0) log.info({ package: nameOf(pkg), hidden: [...hidden].slice(0, 50) }, 'versions hidden from the metadata');
    return hidden;
  }

  async function serveArtifact(req: FastifyRequest, reply: FastifyReply, pkg: GatePackage, version: string): Promise<FastifyReply> {
    const purl = purlOf(pkg, version);
    const { meta } = await metadataOf(pkg, opts.protocol.metadataAccept(undefined));
    const v = meta.versions.get(version);
    if (!v) throw new GateFailure(404, `${nameOf(pkg)} has no version ${version} in the upstream registry`);
    let origin: string;
    try {
      origin = new URL(v.url).origin;
    } catch {
      origin = '';
    }
    // a packument is the upstream's word: it names where its own tarballs are, nowhere else
    if (origin !== upstreamOrigin) throw new GateFailure(502, `the upstream registry names a tarball of ${purl} on another host; the gate fetches tarballs from the upstream only`);
    let artifact: StoredArtifact & { handle: FileHandle };
    try {
      artifact = await store.open(v.url, v.integrity, v.legacyIntegrity, { policy, maxBytes: 2 ** 31, timeoutMs: 30 * 60_000, redirectOrigins: [upstreamOrigin] });
    } catch (e) {
      if (e instanceof QuorumError && e.code === 'internal') throw e;
      throw new GateFailure(502, `the upstream registry cannot give ${purl}: ${e instanceof QuorumError ? e.message : 'unreachable'}`);
    }
    let streaming = false;
    try {
      const answered = await answerArtifact(req, reply, pkg, purl, v, artifact);
      if (answered === 'stream') {
        streaming = true;
        return reply.send(artifact.handle.createReadStream());
      }
      return answered;
    } finally {
      // the stream closes the handle when it ends; every other answer closes it here
      if (!streaming) await artifact.handle.close().catch(() => undefined);
    }
  }

  /** The decision about an opened artifact: a refusal sent, or 'stream' when its bytes are to be sent. */
  async function answerArtifact(req: FastifyRequest, reply: FastifyReply, pkg: GatePackage, purl: string, v: GateVersion, artifact: StoredArtifact): Promise<FastifyReply | 'stream'> {
    const base = withCooldown(policyFor(opts.policies, nameOf(pkg)), v.published, cooldownMs, Date.now());
    let name = base.policy;
    let young: string | undefined = base.young ? `published within the cooldown of ${cooldownText}` : undefined;
    let decided = await decideOrFallBack(purl, artifact, name);
    const verifiedBytes = (decided.entry.status === 'reproducible' || decided.entry.status === 'equivalent') && decided.entry.integrity === 'match';
    if (cooldownMs > 0 && !young && decided.decision.action === 'serve' && !verifiedBytes) {
      // the publish time is the upstream's own word: the farm's first sight of the version bounds its age too
      if (newToFarm(await firstSeenAt(purl), cooldownMs, Date.now())) {
        young = `new to the farm within the cooldown of ${cooldownText} (a registry's publish time is not taken on its word)`;
        name = 'require-verified';
        decided = await decideOrFallBack(purl, artifact, name);
      }
    }
    const { decision, entry } = decided;
    if (decision.action === 'refuse') {
      const pending = entry.status === 'unknown';
      record(pending ? 'pending' : 'refused', purl, name, artifact.sha512, { verdict: entry.status, releaseId: entry.releaseId, ...(young ? { cooldown: true } : {}) });
      const why = `${young ? `${young}, so served only when verified: ` : ''}${decision.why}`;
      const text = await refusalText(purl, pending ? `${why}; verification was asked for, retry in a few minutes` : why, entry);
      return fail(reply, pending ? 503 : 403, text, pending ? 60 : undefined);
    }
    record(decision.warning ? 'warned' : 'served', purl, name, artifact.sha512, { verdict: entry.status, ...(decision.warning ? { warning: decision.warning } : {}) });
    void reply.header('content-length', String(artifact.bytes)).header('cache-control', 'no-store').type('application/octet-stream');
    if (decision.warning) void reply.header('x-quorum-warning', decision.warning.replace(/[^\x20-\x7e]/g, '?').slice(0, 500));
    if (req.method === 'HEAD') return reply.send();
    return 'stream';
  }

  function record(outcome: Outcome, purl: string, policyName: GatePolicyName, sha512: string, extra: Record<string, unknown>): void {
    metrics.decisions.inc({ outcome, policy: policyName });
    const line = { purl, outcome, policy: policyName, sha512, ...extra };
    if (outcome === 'served') log.info(line, 'tarball served');
    else log.warn(line, `tarball ${outcome}`);
  }

  // what the upstream wrote is served as data, never sniffed into a page
  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  // what escapes a handler (a malformed request fastify refuses, a bug) says nothing of the host
  app.setErrorHandler((err: { statusCode?: unknown; message?: unknown }, _req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err: String(err.message) }, 'gate request failed');
    metrics.failures.inc({ status: String(status) });
    return fail(reply, status, status === 500 ? 'Quorum gate: internal error' : `Quorum gate: ${String(err.message).slice(0, 200)}`);
  });
  app.get('/-/quorum/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/-/quorum/health', async () => ({ ok: true }));
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH'],
    url: '/*',
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const route = opts.protocol.route(req.method, req.raw.url ?? '/');
      try {
        switch (route.kind) {
          case 'ping':
            return await reply.type('application/json').send('{}');
          case 'metadata':
            return await serveMetadata(req, reply, route.pkg);
          case 'artifact':
            return await serveArtifact(req, reply, route.pkg, route.version);
          default:
            return fail(reply, req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, `Quorum gate: ${route.why}`);
        }
      } catch (e) {
        if (e instanceof GateFailure) {
          metrics.failures.inc({ status: String(e.status) });
          return fail(reply, e.status, e.message, e.retryAfterS);
        }
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'gate request failed');
        return fail(reply, 500, 'Quorum gate: internal error');
      }
    },
  });
  return app;
}
