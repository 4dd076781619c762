import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isQuorumError, packagePurl, QuorumError, releasePurl, type GatePackage, type RegistryGate } from '@quorum/core';
import { egressPolicy, fetchBytes, withAllowedOrigin, type EgressPolicy } from '@quorum/net';
import type { FarmClient } from './farm-client.js';

/** Changes asked for per page of a feed, and pages read per poll at most (the rest at the next poll). */
const FEED_PAGE = 1000;
const FEED_PAGES_PER_POLL = 20;

/** The largest metadata document read: the biggest packuments of the public npm registry stay well under it. */
const MAX_METADATA_BYTES = 200 * 2 ** 20;

/**
 * The most new versions of one package handled in one poll; the rest wait for the next. A registry
 * that lists thousands of new versions at once is hostile or broken, and must not flood the farm.
 */
export const MAX_NEW_PER_POLL = 50;

/** What a watcher reports as it goes. */
export type WatchEvent =
  /** the first poll of a package: its versions are where the watch starts */
  | { event: 'baseline'; package: string; versions: number }
  /** a version the watch had not seen, and what became of it */
  | { event: 'new'; purl: string; outcome: 'submitted' | 'known'; status?: string }
  /** a version that could not be submitted: `retry` when the next poll tries it again */
  | { event: 'not-submitted'; purl: string; retry: boolean; error: string }
  /** a package whose metadata could not be read this poll */
  | { event: 'unreadable'; package: string; error: string }
  /** the end of one poll: how many of the followed packages were read (with a changes feed, those it named) */
  | { event: 'poll'; packages: number; followed: number; newVersions: number; submitted: number; problems: number; ms: number };

/** Options of a release watcher. */
export interface WatchOptions {
  /** the purl type of the packages, e.g. a builder's ecosystem id */
  ecosystem: string;
  protocol: RegistryGate;
  /** the registry whose metadata is polled */
  upstream: string;
  farm: FarmClient;
  packages: readonly GatePackage[];
  /** at a package's first poll, submit this many of its newest versions too @defaultValue 0 */
  backfill?: number;
  /** where the versions seen are kept between runs; without it, a restart starts from the registry as it then is */
  stateFile?: string;
  /** metadata documents fetched at once @defaultValue 4 */
  concurrency?: number;
  /**
   * The registry's changes feed (where its protocol has one): each poll then reads only the packages
   * the feed says changed, and every package once `fullPollMs` has passed since they last were, all
   * the same (a feed is the registry's word too).
   */
  changesFeed?: string;
  /** @defaultValue 1 hour */
  fullPollMs?: number;
  egress?: EgressPolicy;
  onEvent: (e: WatchEvent) => void;
  /** @defaultValue Date.now */
  clock?: () => number;
}

/** What the watch remembers: per package purl, every version it has seen or handled. */
interface WatchState {
  format: 1;
  packages: Record<string, string[]>;
  /** the changes feed read, and the position in it up to which every change was handled */
  feed?: { url: string; since: string; fullAt: number };
}

/** The summary of one poll. */
export interface PollSummary {
  newVersions: number;
  submitted: number;
  /** packages unreadable and versions left to retry: a poll with none went through completely */
  problems: number;
}

/**
 * Follows packages in a registry and asks the farm to verify every version that appears: each
 * poll reads every package's metadata, and every version not seen before is submitted unless the
 * farm already knows it. A version is remembered only once the farm has it (or refused it for
 * good), so an unreachable farm or registry loses nothing: the next poll tries again.
 */
export class ReleaseWatcher {
  private state: WatchState = { format: 1, packages: Object.create(null) as Record<string, string[]> };
  private loaded = false;
  private readonly policy: EgressPolicy;
  private readonly feedPolicy: EgressPolicy | undefined;
  private readonly clock: () => number;

  constructor(private readonly opts: WatchOptions) {
    this.policy = withAllowedOrigin(opts.egress ?? egressPolicy(), opts.upstream);
    this.feedPolicy = opts.changesFeed ? withAllowedOrigin(opts.egress ?? egressPolicy(), opts.changesFeed) : undefined;
    this.clock = opts.clock ?? Date.now;
  }

  /** One poll: every package, or with a changes feed, those it names (and any not read yet). */
  async poll(): Promise<PollSummary> {
    const started = this.clock();
    await this.load();
    const summary: PollSummary = { newVersions: 0, submitted: 0, problems: 0 };
    const feed = await this.readFeed(summary);
    const fullAt = this.state.feed?.url === this.opts.changesFeed ? (this.state.feed?.fullAt ?? 0) : 0;
    const full = !feed || feed.first || started - fullAt >= (this.opts.fullPollMs ?? 3_600_000);
    const due = full ? [...this.opts.packages] : this.opts.packages.filter((p) => feed.changed.has(this.label(p)) || this.state.packages[this.label(p)] === undefined);
    const queue = [...due];
    let packageProblems = 0;
    const worker = async () => {
      for (let pkg = queue.shift(); pkg; pkg = queue.shift()) {
        const before = summary.problems;
        await this.pollPackage(pkg, summary);
        if (summary.problems > before) packageProblems++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 4, queue.length) }, worker));
    // the feed's position moves on only once every change it named was handled: else it is read again
    if (feed && packageProblems === 0) this.state.feed = { url: this.opts.changesFeed!, since: feed.since, fullAt: full ? started : fullAt };
    await this.save();
    this.opts.onEvent({ event: 'poll', packages: due.length, followed: this.opts.packages.length, ...summary, ms: this.clock() - started });
    return summary;
  }

  /**
   * The followed packages the changes feed names since the position last handled, and the position
   * after them; undefined without a feed, or when it cannot be read (every package is read instead).
   */
  private async readFeed(summary: PollSummary): Promise<{ changed: Set<string>; since: string; first: boolean } | undefined> {
    const protocol = this.opts.protocol.changes;
    const url = this.opts.changesFeed;
    if (!protocol || !url) return undefined;
    const from = this.state.feed?.url === url ? this.state.feed.since : undefined;
    let since = from;
    const changed = new Set<string>();
    try {
      for (let page = 0; page < FEED_PAGES_PER_POLL; page++) {
        const got = await fetchBytes(protocol.url(url, since, FEED_PAGE), { policy: this.feedPolicy!, maxBytes: 64 * 2 ** 20, timeoutMs: 60_000, redirectOrigins: [new URL(url).origin] });
        const read = protocol.read(got.body);
        if (!read) throw new QuorumError('invalid-input', 'the changes feed sent no page of changes');
        for (const pkg of read.changed) changed.add(this.label(pkg));
        since = read.since;
        // the first read only learns where the feed stands: every package is read this time anyway
        if (from === undefined || read.count < FEED_PAGE) break;
      }
    } catch (e) {
      summary.problems++;
      this.opts.onEvent({ event: 'unreadable', package: 'changes feed', error: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
    return { changed, since: since!, first: from === undefined };
  }

  /** Polls until `stop` is aborted, `intervalMs` from the start of one poll to the start of the next. */
  async run(intervalMs: number, stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      const started = this.clock();
      await this.poll();
      const left = Math.max(0, intervalMs - (this.clock() - started));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          stop.removeEventListener('abort', done);
          resolve();
        }
        stop.addEventListener('abort', done, { once: true });
      });
    }
  }

  private label(pkg: GatePackage): string {
    return packagePurl({ type: this.opts.ecosystem, namespace: pkg.namespace, name: pkg.name });
  }

  private async pollPackage(pkg: GatePackage, summary: PollSummary): Promise<void> {
    const key = this.label(pkg);
    const seen = this.state.packages[key];
    // the first look reads the full document when it must tell the newest versions by publish time
    const firstWithBackfill = seen === undefined && (this.opts.backfill ?? 0) > 0;
    let versions: { version: string; published: Date | undefined }[];
    try {
      const got = await fetchBytes(this.opts.protocol.metadataUrl(pkg, this.opts.upstream), {
        policy: this.policy,
        headers: { accept: firstWithBackfill ? this.opts.protocol.metadataAccept(undefined) : this.opts.protocol.versionsAccept },
        maxBytes: MAX_METADATA_BYTES,
        timeoutMs: 60_000,
      });
      const meta = this.opts.protocol.readMetadata(pkg, got.body);
      if (!meta) throw new QuorumError('invalid-input', 'the registry sent no metadata document of this package');
      versions = [...meta.versions.values()].map((v) => ({ version: v.version, published: v.published }));
    } catch (e) {
      summary.problems++;
      const error = isQuorumError(e, 'not-found') ? 'not in the registry' : e instanceof Error ? e.message : String(e);
      this.opts.onEvent({ event: 'unreadable', package: key, error });
      return;
    }
    let fresh: string[];
    if (seen === undefined) {
      const newest = versions
        .map((v, i) => ({ ...v, i }))
        .sort((a, b) => (b.published?.getTime() ?? -Infinity) - (a.published?.getTime() ?? -Infinity) || b.i - a.i)
        .slice(0, this.opts.backfill ?? 0)
        .map((v) => v.version);
      const backfilled = new Set(newest);
      this.state.packages[key] = versions.map((v) => v.version).filter((v) => !backfilled.has(v));
      this.opts.onEvent({ event: 'baseline', package: key, versions: versions.length });
      fresh = newest;
    } else {
      const known = new Set(seen);
      fresh = versions.map((v) => v.version).filter((v) => !known.has(v));
    }
    if (fresh.length > MAX_NEW_PER_POLL) {
      summary.problems++;
      this.opts.onEvent({ event: 'unreadable', package: key, error: `${fresh.length} new versions at once; ${MAX_NEW_PER_POLL} are handled per poll, the rest in the next ones` });
      fresh = fresh.slice(0, MAX_NEW_PER_POLL);
    }
    if (fresh.length === 0) return;
    summary.newVersions += fresh.length;
    const purls = fresh.map((v) => releasePurl(this.opts.ecosystem, pkg.namespace, pkg.name, v));
    let answers: { status: string; releaseId: string | null; pending: boolean }[];
    try {
      answers = await this.opts.farm.audit(purls.map((purl) => ({ purl, integrity: undefined })));
    } catch (e) {
      summary.problems += fresh.length;
      for (const purl of purls) this.opts.onEvent({ event: 'not-submitted', purl, retry: true, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    const done: string[] = [];
    for (const [i, purl] of purls.entries()) {
      const answer = answers[i]!;
      if (answer.releaseId !== null || answer.pending) {
        this.opts.onEvent({ event: 'new', purl, outcome: 'known', status: answer.status });
        done.push(fresh[i]!);
        continue;
      }
      try {
        await this.opts.farm.submit(purl);
        summary.submitted++;
        this.opts.onEvent({ event: 'new', purl, outcome: 'submitted' });
        done.push(fresh[i]!);
      } catch (e) {
        // the farm refusing this version for good (the registry it reads lacks it, a purl it rejects) is not retried
        const retry = !isQuorumError(e, 'not-found', 'invalid-input');
        if (retry) summary.problems++;
        else done.push(fresh[i]!);
        this.opts.onEvent({ event: 'not-submitted', purl, retry, error: e instanceof Error ? e.message : String(e) });
      }
    }
    this.state.packages[key] = [...(this.state.packages[key] ?? []), ...done];
  }

  private async load(): Promise<void> {
    if (this.loaded || !this.opts.stateFile) return;
    this.loaded = true;
    let text: string;
    try {
      text = await readFile(this.opts.stateFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new QuorumError('invalid-input', `cannot read the watch state ${this.opts.stateFile}: ${(e as Error).message}`);
    }
    const parsed = parseState(text);
    if (!parsed) throw new QuorumError('invalid-input', `${this.opts.stateFile} is not a watch state file; move it away to start afresh`);
    this.state = parsed;
  }

  private async save(): Promise<void> {
    if (!this.opts.stateFile) return;
    await mkdir(dirname(this.opts.stateFile), { recursive: true });
    // written whole, then renamed over the old one: a crash mid-write leaves the previous state
    const tmp = `${this.opts.stateFile}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.state)}\n`, { mode: 0o600 });
    await rename(tmp, this.opts.stateFile);
  }
}

function parseState(text: string): WatchState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || (value as { format?: unknown }).format !== 1) return undefined;
  const packages = (value as { packages?: unknown }).packages;
  if (typeof packages !== 'object' || packages === null || Array.isArray(packages)) return undefined;
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [key, versions] of Object.entries(packages)) {
    if (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string')) return undefined;
    out[key] = versions as string[];
  }
  const feed = (value as { feed?: unknown }).feed as { url?: unknown; since?: unknown; fullAt?: unknown } | undefined;
  if (feed !== undefined && (typeof feed !== 'object' || feed === null || typeof feed.url !== 'string' || typeof feed.since !== 'string' || typeof feed.fullAt !== 'number')) return undefined;
  return { format: 1, packages: out, ...(feed ? { feed: { url: feed.url as string, since: feed.since as string, fullAt: feed.fullAt as number } } : {}) };
}
