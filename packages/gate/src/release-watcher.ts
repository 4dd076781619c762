import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isQuorumError, packagePurl, QuorumError, releasePurl, type GatePackage, type RegistryGate } from '@quorum/core';
import { egressPolicy, fetchBytes, withAllowedOrigin, type EgressPolicy } from '@quorum/net';
import type { FarmClient } from './farm-client.js';

/** Changes asked for per page of a feed, and pages read per poll at most (the rest at the next poll). */
const FEED_PAGE = 1000;
const FEED_PAGES_PER_POLL = 20;

/** The largest metadata document read, as the gate reads them. */
const MAX_METADATA_BYTES = 64 * 2 ** 20;

/**
 * The most new versions of one package, and of all packages, handled in one poll; the rest wait for
 * the next. A registry that lists thousands of new versions at once is hostile or broken, and must not
 * flood the farm.
 */
export const MAX_NEW_PER_POLL = 50;
export const MAX_NEW_PER_POLL_IN_ALL = 500;

/** Polls in a row a version the farm says it cannot find is asked for again (its registry may lag), before it is given up. */
const NOT_FOUND_TRIES = 5;

/** How long a package the feed named is read again at each poll (a registry's cached metadata may lag behind its feed). */
const RECHECK_MS = 15 * 60_000;

/** What a watcher reports as it goes. */
export type WatchEvent =
  /** the first read of a package: its versions are where the watch starts */
  | { event: 'baseline'; package: string; versions: number }
  /** a version the watch had not seen, and what became of it */
  | { event: 'new'; purl: string; outcome: 'submitted' | 'known'; status?: string }
  /** a version that could not be submitted: `retry` when a later poll tries it again */
  | { event: 'not-submitted'; purl: string; retry: boolean; error: string }
  /** a package (or the changes feed) whose metadata could not be read this poll; it is read again at the next */
  | { event: 'unreadable'; package: string; error: string }
  /** a poll that failed as a whole (its state could not be written): the next one starts from the last state kept */
  | { event: 'error'; error: string }
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

/** What the watch remembers. */
interface WatchState {
  format: 1;
  /** per package purl, every version it has seen and handled */
  packages: Record<string, string[]>;
  /** packages to read at the next poll whatever the feed says: their last read had a problem */
  retry: string[];
  /** packages the feed named, read again at each poll until the time given (ms) */
  recheck: Record<string, number>;
  /** versions the farm said it could not find, and how many polls in a row it did */
  notFound: Record<string, number>;
  /** the changes feed read, the position in it up to which it was read, and the last poll of every package */
  feed?: { url: string; since: string; fullAt: number };
}

/** The summary of one poll. */
export interface PollSummary {
  newVersions: number;
  submitted: number;
  /** packages unreadable and versions left to retry: a poll with none went through completely */
  problems: number;
}

const record = <T>() => Object.create(null) as Record<string, T>;

/**
 * Follows packages in a registry and asks the farm to verify every version that appears: each
 * poll reads the packages' metadata (with a changes feed, those it names), and every version not
 * seen before is submitted unless the farm already knows it. A version is remembered only once the
 * farm has it (or refused it for good), and a package whose read had a problem is read again at the
 * next poll, so an unreachable farm or registry loses nothing.
 */
export class ReleaseWatcher {
  private state: WatchState = { format: 1, packages: record(), retry: [], recheck: record(), notFound: record() };
  private loaded = false;
  private readonly policy: EgressPolicy;
  private readonly feedPolicy: EgressPolicy | undefined;
  private readonly clock: () => number;
  /** the followed packages by name as a feed names them, with their labels */
  private readonly followed: Map<string, string>;

  constructor(private readonly opts: WatchOptions) {
    this.policy = withAllowedOrigin(opts.egress ?? egressPolicy(), opts.upstream);
    this.feedPolicy = opts.changesFeed ? withAllowedOrigin(opts.egress ?? egressPolicy(), opts.changesFeed) : undefined;
    this.clock = opts.clock ?? Date.now;
    this.followed = new Map(opts.packages.map((p) => [nameKey(p), this.label(p)]));
  }

  /** One poll: every package, or with a changes feed, those it names (and any to read again). */
  async poll(): Promise<PollSummary> {
    const started = this.clock();
    await this.load();
    const summary: PollSummary = { newVersions: 0, submitted: 0, problems: 0 };
    const feed = await this.readFeed(summary);
    const sameFeed = this.state.feed?.url === this.opts.changesFeed;
    // a time in the future (a clock stepped back, an edited file) is no reason to skip the full poll
    const fullAt = sameFeed && (this.state.feed?.fullAt ?? 0) <= started ? (this.state.feed?.fullAt ?? 0) : 0;
    const full = !feed || feed.first || started - fullAt >= (this.opts.fullPollMs ?? 3_600_000);
    for (const [key, until] of Object.entries(this.state.recheck)) if (until <= started) delete this.state.recheck[key];
    const again = new Set([...this.state.retry, ...Object.keys(this.state.recheck)]);
    const due = full
      ? [...this.opts.packages]
      : this.opts.packages.filter((p) => {
          const k = this.label(p);
          return feed.changed.has(k) || again.has(k) || this.state.packages[k] === undefined;
        });
    const queue = [...due];
    const retry: string[] = [];
    const budget = { left: MAX_NEW_PER_POLL_IN_ALL };
    const worker = async () => {
      for (let pkg = queue.shift(); pkg; pkg = queue.shift()) {
        if (!(await this.pollPackage(pkg, summary, budget))) retry.push(this.label(pkg));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 4, queue.length) }, worker));
    // a package with a problem is read at the next poll (every earlier one was due in this one): the feed's position can move on all the same
    this.state.retry = retry;
    if (feed) {
      for (const key of feed.changed) this.state.recheck[key] = started + RECHECK_MS;
      this.state.feed = { url: this.opts.changesFeed!, since: feed.since, fullAt: full ? started : fullAt };
    }
    await this.save();
    this.opts.onEvent({ event: 'poll', packages: due.length, followed: this.opts.packages.length, ...summary, ms: this.clock() - started });
    return summary;
  }

  /**
   * The followed packages the changes feed names since the position last read, and the position
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
        // only followed names are kept: a feed naming millions of others costs a lookup each
        for (const pkg of read.changed) {
          const label = this.followed.get(nameKey(pkg));
          if (label) changed.add(label);
        }
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
    // a first poll that cannot even start (an unreadable state file) is the caller's to report
    let first = true;
    while (!stop.aborted) {
      const started = this.clock();
      try {
        await this.poll();
      } catch (e) {
        if (first) throw e;
        this.opts.onEvent({ event: 'error', error: e instanceof Error ? e.message : String(e) });
      }
      first = false;
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

  /** Reads one package and hands its new versions over; false when something is left for the next poll. */
  private async pollPackage(pkg: GatePackage, summary: PollSummary, budget: { left: number }): Promise<boolean> {
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
        redirectOrigins: [new URL(this.opts.upstream).origin],
      });
      const meta = this.opts.protocol.readMetadata(pkg, got.body);
      if (!meta) throw new QuorumError('invalid-input', 'the registry sent no metadata document of this package');
      versions = [...meta.versions.values()].map((v) => ({ version: v.version, published: v.published }));
    } catch (e) {
      summary.problems++;
      if (isQuorumError(e, 'not-found')) {
        // not published yet: every version it gets will be new, none becomes part of a starting point
        if (seen === undefined) this.state.packages[key] = [];
        this.opts.onEvent({ event: 'unreadable', package: key, error: 'not in the registry; each version it gets will be submitted' });
      } else {
        this.opts.onEvent({ event: 'unreadable', package: key, error: e instanceof Error ? e.message : String(e) });
      }
      return false;
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
    if (fresh.length === 0) return true;
    let complete = true;
    const take = Math.min(fresh.length, MAX_NEW_PER_POLL, budget.left);
    if (take < fresh.length) {
      complete = false;
      summary.problems++;
      this.opts.onEvent({ event: 'unreadable', package: key, error: `${fresh.length} new versions at once; ${take} are handled this poll, the rest in the next ones` });
      fresh = fresh.slice(0, take);
    }
    budget.left -= take;
    if (fresh.length === 0) return false;
    summary.newVersions += fresh.length;
    const purls = fresh.map((v) => releasePurl(this.opts.ecosystem, pkg.namespace, pkg.name, v));
    let answers: { status: string; releaseId: string | null; pending: boolean }[];
    try {
      answers = await this.opts.farm.audit(purls.map((purl) => ({ purl, integrity: undefined })));
    } catch (e) {
      summary.problems += fresh.length;
      for (const purl of purls) this.opts.onEvent({ event: 'not-submitted', purl, retry: true, error: e instanceof Error ? e.message : String(e) });
      return false;
    }
    const done: string[] = [];
    for (const [i, purl] of purls.entries()) {
      const answer = answers[i]!;
      if (answer.releaseId !== null || answer.pending) {
        this.opts.onEvent({ event: 'new', purl, outcome: 'known', status: answer.status });
        done.push(fresh[i]!);
        delete this.state.notFound[purl];
        continue;
      }
      try {
        await this.opts.farm.submit(purl);
        summary.submitted++;
        this.opts.onEvent({ event: 'new', purl, outcome: 'submitted' });
        done.push(fresh[i]!);
        delete this.state.notFound[purl];
      } catch (e) {
        // a purl the farm rejects is given up at once; one it cannot find (its registry may lag) after a few polls
        const tries = isQuorumError(e, 'not-found') ? (this.state.notFound[purl] ?? 0) + 1 : 0;
        const retry = !isQuorumError(e, 'invalid-input') && !(tries >= NOT_FOUND_TRIES);
        if (tries > 0) this.state.notFound[purl] = tries;
        if (retry) {
          summary.problems++;
          complete = false;
        } else {
          done.push(fresh[i]!);
          delete this.state.notFound[purl];
        }
        this.opts.onEvent({ event: 'not-submitted', purl, retry, error: e instanceof Error ? e.message : String(e) });
      }
    }
    this.state.packages[key] = [...(this.state.packages[key] ?? []), ...done];
    return complete;
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
    const dir = dirname(this.opts.stateFile);
    await mkdir(dir, { recursive: true });
    // written whole under a name no one can have prepared (never through a link), then renamed over the old one
    const tmp = join(dir, `.watch-state-${randomUUID()}.tmp`);
    try {
      await writeFile(tmp, `${JSON.stringify(this.state)}\n`, { mode: 0o600, flag: 'wx' });
      await rename(tmp, this.opts.stateFile);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new QuorumError('invalid-input', `cannot write the watch state ${this.opts.stateFile}: ${(e as Error).message}`);
    }
  }
}

/** A package as a feed and the followed list both name it, whatever their purl spelling. */
function nameKey(pkg: GatePackage): string {
  return `${pkg.namespace ?? ''}/${pkg.name}`;
}

function parseState(text: string): WatchState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || (value as { format?: unknown }).format !== 1) return undefined;
  const v = value as { packages?: unknown; retry?: unknown; recheck?: unknown; notFound?: unknown; feed?: unknown };
  if (typeof v.packages !== 'object' || v.packages === null || Array.isArray(v.packages)) return undefined;
  const packages = record<string[]>();
  for (const [key, versions] of Object.entries(v.packages)) {
    if (!Array.isArray(versions) || !versions.every((x) => typeof x === 'string')) return undefined;
    packages[key] = versions as string[];
  }
  const numbers = (x: unknown): Record<string, number> | undefined => {
    if (x === undefined) return record();
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return undefined;
    const out = record<number>();
    for (const [k, n] of Object.entries(x)) {
      if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
      out[k] = n;
    }
    return out;
  };
  const recheck = numbers(v.recheck);
  const notFound = numbers(v.notFound);
  const retry = v.retry === undefined ? [] : v.retry;
  if (!recheck || !notFound || !Array.isArray(retry) || !retry.every((x) => typeof x === 'string')) return undefined;
  const feed = v.feed as { url?: unknown; since?: unknown; fullAt?: unknown } | undefined;
  if (feed !== undefined && (typeof feed !== 'object' || feed === null || typeof feed.url !== 'string' || typeof feed.since !== 'string' || typeof feed.fullAt !== 'number')) return undefined;
  return {
    format: 1,
    packages,
    retry: retry as string[],
    recheck,
    notFound,
    ...(feed ? { feed: { url: feed.url as string, since: feed.since as string, fullAt: feed.fullAt as number } } : {}),
  };
}
