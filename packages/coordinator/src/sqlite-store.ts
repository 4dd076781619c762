import Database from 'better-sqlite3';
import type {
  AnswerRelease,
  ArtifactDigests,
  PinnedSource,
  RejectionView,
  QuorumPolicy,
  RebuildRecord,
  RebuildReport,
  RebuildState,
  ReleaseRecord,
  SourceMappingView,
  ReleaseState,
  SourceOverrides,
  UpstreamArtifact,
  VerdictRecord,
  WorkerHeartbeat,
} from '@quorum/core';

/** Versioned schema migrations; append only. */
const MIGRATIONS: string[] = [
  `CREATE TABLE releases (
     id TEXT PRIMARY KEY, purl TEXT NOT NULL, package_purl TEXT NOT NULL, ecosystem TEXT NOT NULL,
     state TEXT NOT NULL, overrides TEXT NOT NULL, policy TEXT NOT NULL, upstream TEXT, published TEXT,
     problem TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, seq INTEGER NOT NULL);
   CREATE INDEX releases_purl ON releases(purl, seq);
   CREATE INDEX releases_package ON releases(package_purl, seq);
   CREATE INDEX releases_state ON releases(state);
   CREATE TABLE rebuilds (
     id TEXT PRIMARY KEY, release_id TEXT NOT NULL REFERENCES releases(id), worker_id TEXT NOT NULL,
     operator TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL, enqueued INTEGER NOT NULL DEFAULT 0,
     report TEXT, log_sha256 TEXT, log_bytes INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   -- one live attempt per (release, builder); a lost attempt may be retried by the same builder
   CREATE UNIQUE INDEX rebuilds_live ON rebuilds(release_id, worker_id) WHERE state <> 'lost';
   CREATE INDEX rebuilds_release ON rebuilds(release_id);
   CREATE INDEX rebuilds_worker_state ON rebuilds(worker_id, state);
   CREATE TABLE verdicts (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, release_id TEXT NOT NULL REFERENCES releases(id),
     body TEXT NOT NULL, decided_at TEXT NOT NULL);
   CREATE INDEX verdicts_release ON verdicts(release_id, seq);
   CREATE TABLE workers (
     id TEXT PRIMARY KEY, operator TEXT NOT NULL, images TEXT NOT NULL, running TEXT NOT NULL,
     registered_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, last_seen_ms INTEGER NOT NULL);`,
  `CREATE TABLE enrolments (
     worker_id TEXT PRIMARY KEY, operator TEXT NOT NULL, key_id TEXT, public_key TEXT, enrolled_at TEXT,
     token_sha256 TEXT, token_expires_at TEXT, created_at TEXT NOT NULL);
   CREATE UNIQUE INDEX enrolments_key ON enrolments(key_id) WHERE key_id IS NOT NULL;
   CREATE TABLE rejections (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, worker_id TEXT, rebuild_id TEXT,
     reason TEXT NOT NULL, detail TEXT NOT NULL, bundle_sha256 TEXT);
   ALTER TABLE rebuilds ADD COLUMN bundle_sha256 TEXT;
   ALTER TABLE verdicts ADD COLUMN vsa_sha256 TEXT;`,
  `ALTER TABLE verdicts ADD COLUMN diff_sha256 TEXT;`,
  // without these, every submission (MAX(seq)) and every scheduler pass (open rebuilds) reads whole tables
  `CREATE INDEX releases_seq ON releases(seq);
   CREATE INDEX rebuilds_state ON rebuilds(state);`,
  // source binding: the pinned source of each release, first-seen tag resolutions, operator mappings,
  // submit tokens; per-rebuild deadlines
  `ALTER TABLE releases ADD COLUMN source TEXT;
   ALTER TABLE releases ADD COLUMN canonical INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE releases ADD COLUMN submitted_by TEXT;
   CREATE INDEX releases_purl_canonical ON releases(purl, canonical);
   CREATE TABLE source_pins (
     purl TEXT NOT NULL, repo TEXT NOT NULL, ref TEXT NOT NULL, commit_sha TEXT NOT NULL,
     first_seen_at TEXT NOT NULL, release_id TEXT NOT NULL, PRIMARY KEY (purl, repo, ref));
   CREATE TABLE source_mappings (
     package_purl TEXT PRIMARY KEY, repo TEXT NOT NULL, directory TEXT, by TEXT NOT NULL,
     note TEXT, created_at TEXT NOT NULL);
   CREATE TABLE submitters (
     name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT);
   ALTER TABLE rebuilds ADD COLUMN deadline_ms INTEGER;`,
  // refusals of requests nobody authenticated are kept apart, so they can never push out the
  // evidence about enrolled workers; one artifact upload per rebuild
  `ALTER TABLE rejections ADD COLUMN authenticated INTEGER NOT NULL DEFAULT 1;
   CREATE INDEX rejections_bucket ON rejections(authenticated, seq);
   ALTER TABLE rebuilds ADD COLUMN artifact_sha256 TEXT;`,
  // a log may be sent again by a retried job, a bounded number of times; releases stored before
  // source binding were canonical unless overridden, and are keyed without purl qualifiers
  `ALTER TABLE rebuilds ADD COLUMN log_uploads INTEGER NOT NULL DEFAULT 0;
   UPDATE rebuilds SET log_uploads = 1 WHERE log_sha256 IS NOT NULL;
   UPDATE releases SET canonical = 1 WHERE source IS NULL AND overrides = '{}' AND canonical = 0;
   UPDATE releases SET purl = substr(purl, 1, instr(purl, '?') - 1) WHERE instr(purl, '?') > 0;
   UPDATE releases SET purl = substr(purl, 1, instr(purl, '#') - 1) WHERE instr(purl, '#') > 0;`,
  // the newest verdict of each release, for counting by verdict without reading every verdict body
  `ALTER TABLE releases ADD COLUMN verdict TEXT;
   UPDATE releases SET verdict = (SELECT json_extract(body, '$.verdict') FROM verdicts WHERE release_id = releases.id ORDER BY seq DESC LIMIT 1);
   CREATE INDEX releases_verdict ON releases(verdict);`,
  // submitters' callbacks: the verdict is POSTed to each once its release is decided, retried with backoff
  `CREATE TABLE callbacks (
     id TEXT PRIMARY KEY, release_id TEXT NOT NULL REFERENCES releases(id), url TEXT NOT NULL, submitted_by TEXT NOT NULL,
     state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL, last_error TEXT,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE INDEX callbacks_due ON callbacks(state, next_at_ms);
   CREATE INDEX callbacks_release ON callbacks(release_id);`,
  // what consumers read changes only with these tables: a heartbeat, a refusal or a callback attempt
  // must not empty the answer cache (the workers' heartbeats alone used to, several times a second)
  `CREATE TABLE answer_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
   INSERT INTO answer_generation (id, n) VALUES (1, 0);
   CREATE TRIGGER answers_releases_i AFTER INSERT ON releases BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_releases_u AFTER UPDATE ON releases BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_releases_d AFTER DELETE ON releases BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_rebuilds_i AFTER INSERT ON rebuilds BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_rebuilds_u AFTER UPDATE ON rebuilds BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_rebuilds_d AFTER DELETE ON rebuilds BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_verdicts_i AFTER INSERT ON verdicts BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_verdicts_u AFTER UPDATE ON verdicts BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_verdicts_d AFTER DELETE ON verdicts BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_source_pins_i AFTER INSERT ON source_pins BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_source_pins_u AFTER UPDATE ON source_pins BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_source_pins_d AFTER DELETE ON source_pins BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_source_mappings_i AFTER INSERT ON source_mappings BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_source_mappings_u AFTER UPDATE ON source_mappings BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_source_mappings_d AFTER DELETE ON source_mappings BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_enrolments_i AFTER INSERT ON enrolments BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_enrolments_u AFTER UPDATE ON enrolments BEGIN UPDATE answer_generation SET n = n + 1; END;
   CREATE TRIGGER answers_enrolments_d AFTER DELETE ON enrolments BEGIN UPDATE answer_generation SET n = n + 1; END;`,
  // each submitter's waiting callbacks are counted at every submission that asks for one
  `CREATE INDEX callbacks_submitter ON callbacks(submitted_by, state);`,
];

/** A submitter's callback of one release, as stored. */
export interface StoredCallback {
  id: string;
  releaseId: string;
  url: string;
  submittedBy: string;
  /** waiting (for the verdict, or for its next attempt), delivered, or failed for good */
  state: 'waiting' | 'delivered' | 'failed';
  attempts: number;
  nextAtMs: number;
  lastError?: string;
}

/** Log uploads accepted per rebuild (a retried job sends its log again); each is capped in size. */
export const MAX_LOG_UPLOADS = 3;

/** Rejections of authenticated workers kept for auditors; the oldest are dropped beyond this. */
export const MAX_REJECTIONS = 10_000;
/** Refusals of unauthenticated requests kept (a bucket of their own, so anyone can fill only it). */
export const MAX_UNAUTHENTICATED_REJECTIONS = 1_000;
/** Longest text kept in a rejection's fields. */
const MAX_REJECTION_TEXT = 1000;
const cap = (s: string | undefined, n = MAX_REJECTION_TEXT) => (s === undefined ? undefined : s.length > n ? `${s.slice(0, n)}…` : s);

interface ReleaseRow {
  id: string;
  purl: string;
  package_purl: string;
  ecosystem: string;
  state: ReleaseState;
  overrides: string;
  policy: string;
  upstream: string | null;
  published: string | null;
  problem: string | null;
  source: string | null;
  canonical: number;
  submitted_by: string | null;
  created_at: string;
  updated_at: string;
}
/** A release row with the body of its newest verdict, read in the same query. */
type ReleaseVerdictRow = ReleaseRow & { verdict: string | null };
const WITH_LATEST_VERDICT = `releases.*, (SELECT body FROM verdicts WHERE release_id = releases.id ORDER BY seq DESC LIMIT 1) AS verdict FROM releases`;
interface RebuildRow {
  id: string;
  release_id: string;
  worker_id: string;
  operator: string;
  state: RebuildState;
  attempt: number;
  enqueued: number;
  report: string | null;
  log_sha256: string | null;
  log_bytes: number | null;
  bundle_sha256: string | null;
  deadline_ms: number | null;
  artifact_sha256: string | null;
  created_at: string;
  updated_at: string;
}
interface MappingRow {
  package_purl: string;
  repo: string;
  directory: string | null;
  by: string;
  note: string | null;
  created_at: string;
}
const toMapping = (r: MappingRow): StoredSourceMapping => ({
  packagePurl: r.package_purl,
  repo: r.repo,
  ...(r.directory ? { directory: r.directory } : {}),
  by: r.by,
  ...(r.note ? { note: r.note } : {}),
  createdAt: r.created_at,
});
interface EnrolmentRow {
  worker_id: string;
  operator: string;
  key_id: string | null;
  public_key: string | null;
  enrolled_at: string | null;
  token_sha256: string | null;
  token_expires_at: string | null;
  created_at: string;
}

/** An enrolled worker identity: its key is the only one whose statements count for it. */
export interface Enrolment {
  workerId: string;
  operator: string;
  keyId: string;
  publicKeyPem: string;
  enrolledAt: string;
}

/** A refused report or request, kept for auditors. */
export type Rejection = RejectionView;
interface WorkerRow {
  id: string;
  operator: string;
  images: string;
  running: string;
  registered_at: string;
  last_seen_at: string;
  last_seen_ms: number;
}

/** A rebuild as stored, with what only the coordinator needs. */
export type StoredRebuild = RebuildRecord & { enqueued: boolean; bundleSha256?: string; deadlineMs?: number; artifactSha256?: string };

/** An operator's source mapping as stored and served. */
export type StoredSourceMapping = SourceMappingView;

/** A tag resolution the farm saw first for a package version. */
export interface SourcePin {
  purl: string;
  repo: string;
  ref: string;
  commit: string;
  firstSeenAt: string;
  releaseId: string;
}

/** A worker as stored. */
export interface WorkerRecord {
  id: string;
  operator: string;
  images: Record<string, string>;
  running: string[];
  registeredAt: string;
  lastSeenAt: string;
  lastSeenMs: number;
}

const parse = <T>(s: string | null): T | undefined => (s === null ? undefined : (JSON.parse(s) as T));
const now = () => new Date().toISOString();

function toRelease(r: ReleaseRow, verdict: VerdictRecord | undefined): ReleaseRecord {
  return {
    id: r.id,
    purl: r.purl,
    ecosystem: r.ecosystem,
    state: r.state,
    overrides: JSON.parse(r.overrides) as SourceOverrides,
    policy: JSON.parse(r.policy) as QuorumPolicy,
    ...(r.upstream ? { upstream: JSON.parse(r.upstream) as UpstreamArtifact } : {}),
    ...(r.published ? { published: JSON.parse(r.published) as ArtifactDigests } : {}),
    ...(r.problem ? { problem: JSON.parse(r.problem) as { code: string; message: string } } : {}),
    ...(r.source ? { source: JSON.parse(r.source) as PinnedSource } : {}),
    canonical: r.canonical === 1,
    ...(r.submitted_by ? { submittedBy: r.submitted_by } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(verdict ? { verdict } : {}),
  };
}

function toRebuild(r: RebuildRow): StoredRebuild {
  return {
    id: r.id,
    releaseId: r.release_id,
    workerId: r.worker_id,
    operator: r.operator,
    state: r.state,
    attempt: r.attempt,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    enqueued: r.enqueued === 1,
    ...(r.report ? { report: JSON.parse(r.report) as RebuildReport } : {}),
    ...(r.log_sha256 ? { logSha256: r.log_sha256, logBytes: r.log_bytes ?? 0 } : {}),
    ...(r.bundle_sha256 ? { bundleSha256: r.bundle_sha256 } : {}),
    ...(r.deadline_ms !== null ? { deadlineMs: r.deadline_ms } : {}),
    ...(r.artifact_sha256 ? { artifactSha256: r.artifact_sha256 } : {}),
  };
}

const CALLBACK_COLUMNS = ['id', 'release_id', 'url', 'submitted_by', 'state', 'attempts', 'next_at_ms', 'last_error'] as const;

type CallbackRow = { id: string; release_id: string; url: string; submitted_by: string; state: StoredCallback['state']; attempts: number; next_at_ms: number; last_error: string | null };

function callbackOf(r: CallbackRow): StoredCallback {
  return {
    id: r.id,
    releaseId: r.release_id,
    url: r.url,
    submittedBy: r.submitted_by,
    state: r.state,
    attempts: r.attempts,
    nextAtMs: r.next_at_ms,
    ...(r.last_error ? { lastError: r.last_error } : {}),
  };
}

/** Writes to tables no consumer answer reads (heartbeats, refusals, callbacks): they keep answer caches. */
const IGNORED_BY_ANSWERS = /^\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:workers|rejections|callbacks|schema_migrations)\b/i;

/** Durable state of the coordinator in one SQLite file (WAL). Nothing is overwritten that history needs. */
export class SqliteStore {
  readonly db: Database.Database;
  /** statements prepared once per SQL text: preparing costs more than running most of them */
  private readonly statements: { prepare(sql: string): Database.Statement };
  /** built once: `db.transaction()` costs about as much as the two statements it wraps */
  private readonly appendVerdictTx: (releaseId: string, record: VerdictRecord, vsaSha256?: string, diffSha256?: string) => void;

  /** writes by this connection that can change what a consumer reads */
  private answerWrites = 0;
  /** the trigger-kept count of such writes as last read, and when: writes by other connections */
  private shared = { generation: 0, dataVersion: -1, polledAt: -Infinity };
  private readonly sharedPollMs: number;

  /** @param opts.sharedPollMs how often `changeStamp` looks for writes by other connections; @defaultValue 100 ms */
  constructor(file: string, opts: { sharedPollMs?: number } = {}) {
    this.sharedPollMs = opts.sharedPollMs ?? 100;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    const prepared = new Map<string, Database.Statement>();
    this.statements = {
      prepare: (sql) => {
        let stmt = prepared.get(sql);
        if (!stmt) {
          stmt = this.db.prepare(sql);
          if (!stmt.reader && !IGNORED_BY_ANSWERS.test(sql)) {
            // counted in memory: asking SQLite on every consumer request cost a quarter of its time
            const run = stmt.run.bind(stmt);
            stmt.run = ((...args: unknown[]) => {
              this.answerWrites++;
              return run(...(args as Parameters<typeof run>));
            }) as typeof stmt.run;
          }
          prepared.set(sql, stmt);
        }
        return stmt;
      },
    };
    this.migrate();
    this.appendVerdictTx = this.db.transaction((releaseId: string, record: VerdictRecord, vsaSha256?: string, diffSha256?: string) => {
      this.statements
        .prepare('INSERT INTO verdicts (release_id, body, decided_at, vsa_sha256, diff_sha256) VALUES (?, ?, ?, ?, ?)')
        .run(releaseId, JSON.stringify(record), record.decidedAt, vsaSha256 ?? null, diffSha256 ?? null);
      this.statements.prepare(`UPDATE releases SET state = 'decided', verdict = ?, updated_at = ? WHERE id = ?`).run(record.verdict, record.decidedAt, releaseId);
    });
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const done = new Set((this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
    MIGRATIONS.forEach((sql, i) => {
      const version = i + 1;
      if (done.has(version)) return;
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, now());
      })();
    });
  }

  /**
   * Differs after any write that can change what a consumer reads (releases, rebuilds, verdicts,
   * source pins and mappings, enrolments): at once for this connection's writes, within
   * `sharedPollMs` for another connection's (counted by triggers). Worker heartbeats, refusals and
   * callback attempts leave it as it is.
   */
  changeStamp(): string {
    const now = performance.now();
    if (now - this.shared.polledAt >= this.sharedPollMs) {
      this.shared.polledAt = now;
      const dataVersion = this.db.pragma('data_version', { simple: true }) as number;
      if (dataVersion !== this.shared.dataVersion) {
        this.shared.dataVersion = dataVersion;
        this.shared.generation = (this.statements.prepare('SELECT n FROM answer_generation WHERE id = 1').get() as { n: number }).n;
      }
    }
    return `${this.answerWrites}:${this.shared.generation}`;
  }

  /** Schema version in force. */
  schemaVersion(): number {
    return (this.statements.prepare('SELECT MAX(version) v FROM schema_migrations').get() as { v: number }).v;
  }

  insertRelease(r: {
    id: string;
    purl: string;
    packagePurl: string;
    ecosystem: string;
    overrides: SourceOverrides;
    policy: QuorumPolicy;
    upstream?: UpstreamArtifact;
    problem?: { code: string; message: string };
    source?: PinnedSource;
    canonical: boolean;
    submittedBy?: string;
  }): void {
    const t = now();
    this.statements
      .prepare(
        `INSERT INTO releases (id, purl, package_purl, ecosystem, state, overrides, policy, upstream, problem, source, canonical, submitted_by, created_at, updated_at, seq)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM releases))`,
      )
      .run(
        r.id,
        r.purl,
        r.packagePurl,
        r.ecosystem,
        JSON.stringify(r.overrides),
        JSON.stringify(r.policy),
        r.upstream ? JSON.stringify(r.upstream) : null,
        r.problem ? JSON.stringify(r.problem) : null,
        r.source ? JSON.stringify(r.source) : null,
        r.canonical ? 1 : 0,
        r.submittedBy ?? null,
        t,
        t,
      );
  }

  /** Records the commit a release's source was pinned to (after resolving its tags). */
  setReleaseSource(id: string, source: PinnedSource): void {
    this.statements.prepare('UPDATE releases SET source = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(source), now(), id);
  }

  /** An open (queued or building) release of the purl with the same source choice, to answer a repeated submission with. */
  openReleaseOf(purl: string, canonical: boolean): ReleaseRecord | undefined {
    const row = this.statements.prepare(`SELECT * FROM releases WHERE purl = ? AND canonical = ? AND state IN ('queued', 'building') ORDER BY seq DESC LIMIT 1`).get(purl, canonical ? 1 : 0) as
      ReleaseRow | undefined;
    return row ? toRelease(row, undefined) : undefined;
  }

  /** Releases not decided yet (queued or building). */
  openReleaseCount(): number {
    return (this.statements.prepare(`SELECT COUNT(*) n FROM releases WHERE state IN ('queued', 'building')`).get() as { n: number }).n;
  }

  /** What the answer for a versioned purl needs: every release of it, light (no rebuilds). */
  answerInputs(purl: string): AnswerRelease[] {
    const rows = this.statements
      .prepare(
        `SELECT id, created_at, canonical, state, published, source, (SELECT body FROM verdicts WHERE release_id = releases.id ORDER BY seq DESC LIMIT 1) AS verdict FROM releases WHERE purl = ?`,
      )
      .all(purl) as { id: string; created_at: string; canonical: number; state: ReleaseState; published: string | null; source: string | null; verdict: string | null }[];
    return rows.map((r) => {
      const verdict = parse<VerdictRecord>(r.verdict);
      const published = parse<ArtifactDigests>(r.published);
      const source = parse<PinnedSource>(r.source);
      return {
        id: r.id,
        createdAt: r.created_at,
        canonical: r.canonical === 1,
        decided: r.state === 'decided',
        ...(published ? { publishedSha256: published.sha256, publishedSha512: published.sha512, publishedStabilizedSha256: published.stabilizedSha256 } : {}),
        ...(source ? { sourceKey: `${source.repo}\n${source.directory ?? ''}\n${source.commit ?? ''}` } : {}),
        ...(source?.moved && source.commit
          ? {
              movedTag: {
                ref: source.moved.ref,
                firstCommit: source.moved.registryCommit ?? source.commit,
                ...(source.firstSeenAt && !source.moved.registryCommit ? { firstSeenAt: source.firstSeenAt } : {}),
                commit: source.moved.commit,
                seenAt: source.moved.seenAt,
                releaseId: r.id,
              },
            }
          : {}),
        ...(verdict
          ? { verdict: { verdict: verdict.verdict, decidedAt: verdict.decidedAt, reason: verdict.reason, ...(verdict.risk ? { risk: { level: verdict.risk.level, text: verdict.risk.text } } : {}) } }
          : {}),
      };
    });
  }

  /** Releases by state. */
  releaseCounts(): Record<string, number> {
    const rows = this.statements.prepare('SELECT state, COUNT(*) n FROM releases GROUP BY state').all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** Decided releases by their newest verdict (kept on the release row: an index scan, no verdict body read). */
  verdictCounts(): Record<string, number> {
    const rows = this.statements.prepare('SELECT verdict, COUNT(*) n FROM releases WHERE verdict IS NOT NULL GROUP BY verdict').all() as { verdict: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.verdict, r.n]));
  }

  /**
   * Versioned purls of a package that have a canonical release, the one first submitted most recently
   * first: a resubmission of an old version or an override release does not make it the newest.
   */
  canonicalVersionsOf(packagePurl: string, limit = 50): string[] {
    return (
      this.statements.prepare('SELECT purl, MIN(seq) s FROM releases WHERE package_purl = ? AND canonical = 1 GROUP BY purl ORDER BY s DESC LIMIT ?').all(packagePurl, limit) as { purl: string }[]
    ).map((r) => r.purl);
  }

  /** The newest releases of the farm, newest first (the releases_seq index). */
  recentReleases(limit = 20): { id: string; purl: string; state: ReleaseState; verdict: string | null; canonical: boolean; createdAt: string }[] {
    const rows = this.statements.prepare('SELECT id, purl, state, verdict, canonical, created_at FROM releases ORDER BY seq DESC LIMIT ?').all(limit) as {
      id: string;
      purl: string;
      state: ReleaseState;
      verdict: string | null;
      canonical: number;
      created_at: string;
    }[];
    return rows.map((r) => ({ id: r.id, purl: r.purl, state: r.state, verdict: r.verdict, canonical: r.canonical === 1, createdAt: r.created_at }));
  }

  /** Package purls starting with `prefix` (an index range, never a scan), in order. */
  packagesStartingWith(prefix: string, limit = 50): string[] {
    return (
      this.statements.prepare('SELECT DISTINCT package_purl FROM releases WHERE package_purl >= ? AND package_purl < ? ORDER BY package_purl LIMIT ?').all(prefix, `${prefix}\uffff`, limit) as {
        package_purl: string;
      }[]
    ).map((r) => r.package_purl);
  }

  /**
   * The newest finished rebuilds of decided releases, newest rows first (no sort over the table), each with whether its builder was
   * in the group that decided (the verdict's `agreeing`): what the workers page counts per worker.
   */
  recentResults(limit = 2000): { workerId: string; state: string; releaseId: string; purl: string; verdict: string | null; agreed: boolean; decided: boolean; updatedAt: string }[] {
    const rows = this.statements
      .prepare(
        `SELECT rb.worker_id, rb.state, rb.updated_at, r.id AS release_id, r.purl, r.verdict,
           (SELECT json_extract(body, '$.agreeing') FROM verdicts WHERE release_id = r.id ORDER BY seq DESC LIMIT 1) AS agreeing
         FROM rebuilds rb JOIN releases r ON r.id = rb.release_id
         WHERE r.state = 'decided' AND rb.state IN ('succeeded', 'failed') ORDER BY rb.rowid DESC LIMIT ?`,
      )
      .all(limit) as { worker_id: string; state: string; updated_at: string; release_id: string; purl: string; verdict: string | null; agreeing: string | null }[];
    return rows.map((r) => {
      const agreeing = parse<string[]>(r.agreeing) ?? [];
      return {
        workerId: r.worker_id,
        state: r.state,
        releaseId: r.release_id,
        purl: r.purl,
        verdict: r.verdict,
        agreed: agreeing.includes(r.worker_id),
        decided: agreeing.length > 0,
        updatedAt: r.updated_at,
      };
    });
  }

  /** The newest verdicts (by when they were appended), as day and verdict: what the farm overview draws over time. */
  recentVerdicts(limit = 5000): { day: string; verdict: string }[] {
    return (
      this.statements.prepare(`SELECT substr(decided_at, 1, 10) AS day, json_extract(body, '$.verdict') AS verdict FROM verdicts ORDER BY seq DESC LIMIT ?`).all(limit) as {
        day: string;
        verdict: string;
      }[]
    ).filter((r) => typeof r.verdict === 'string');
  }

  /** Total times (ms) of the newest finished rebuilds (the newest rows first: no sort over the table), with their outcome: the overview's duration histogram. */
  recentDurations(limit = 500): { state: string; totalMs: number }[] {
    const rows = this.statements
      .prepare(`SELECT state, json_extract(report, '$.timings.totalMs') AS ms FROM rebuilds WHERE state IN ('succeeded', 'failed') AND report IS NOT NULL ORDER BY rowid DESC LIMIT ?`)
      .all(limit) as { state: string; ms: number | null }[];
    return rows.filter((r) => typeof r.ms === 'number' && Number.isFinite(r.ms)).map((r) => ({ state: r.state, totalMs: r.ms! }));
  }

  /** Rebuilds by state among the open ones (assigned = waiting in a worker's queue, running). */
  openRebuildCounts(): Record<string, number> {
    const rows = this.statements.prepare(`SELECT state, COUNT(*) n FROM rebuilds WHERE state IN ('assigned', 'running') GROUP BY state`).all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** Each worker's rebuilds waiting on its queue (assigned) and running, as the store has them. */
  openRebuildsByWorker(): { workerId: string; assigned: number; running: number }[] {
    const rows = this.statements.prepare(`SELECT worker_id, state, COUNT(*) n FROM rebuilds WHERE state IN ('assigned', 'running') GROUP BY worker_id, state`).all() as {
      worker_id: string;
      state: 'assigned' | 'running';
      n: number;
    }[];
    const byWorker = new Map<string, { workerId: string; assigned: number; running: number }>();
    for (const r of rows) {
      const w = byWorker.get(r.worker_id) ?? { workerId: r.worker_id, assigned: 0, running: 0 };
      w[r.state] = r.n;
      byWorker.set(r.worker_id, w);
    }
    return [...byWorker.values()];
  }

  /** Distinct versioned purls of a package, newest release first. */
  versionsOf(packagePurl: string, limit = 50): string[] {
    return (this.statements.prepare('SELECT purl, MAX(seq) s FROM releases WHERE package_purl = ? GROUP BY purl ORDER BY s DESC LIMIT ?').all(packagePurl, limit) as { purl: string }[]).map(
      (r) => r.purl,
    );
  }

  /** The first-seen resolution of a ref of this package version's repository. */
  sourcePin(purl: string, repo: string, ref: string): SourcePin | undefined {
    const r = this.statements.prepare('SELECT * FROM source_pins WHERE purl = ? AND repo = ? AND ref = ?').get(purl, repo, ref) as
      { purl: string; repo: string; ref: string; commit_sha: string; first_seen_at: string; release_id: string } | undefined;
    return r ? { purl: r.purl, repo: r.repo, ref: r.ref, commit: r.commit_sha, firstSeenAt: r.first_seen_at, releaseId: r.release_id } : undefined;
  }

  /** Records a first-seen resolution; an existing one is kept (first seen wins). Returns the one in force. */
  pinSource(pin: Omit<SourcePin, 'firstSeenAt'>): SourcePin {
    this.statements
      .prepare('INSERT INTO source_pins (purl, repo, ref, commit_sha, first_seen_at, release_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(pin.purl, pin.repo, pin.ref, pin.commit, now(), pin.releaseId);
    return this.sourcePin(pin.purl, pin.repo, pin.ref)!;
  }

  /** Records (or replaces) an operator's source mapping for a package. */
  putSourceMapping(m: Omit<StoredSourceMapping, 'createdAt'>): StoredSourceMapping {
    const t = now();
    this.statements
      .prepare(
        `INSERT INTO source_mappings (package_purl, repo, directory, by, note, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(package_purl) DO UPDATE SET repo = excluded.repo, directory = excluded.directory, by = excluded.by, note = excluded.note, created_at = excluded.created_at`,
      )
      .run(m.packagePurl, m.repo, m.directory ?? null, m.by, m.note ?? null, t);
    return this.sourceMapping(m.packagePurl)!;
  }

  sourceMapping(packagePurl: string): StoredSourceMapping | undefined {
    const r = this.statements.prepare('SELECT * FROM source_mappings WHERE package_purl = ?').get(packagePurl) as MappingRow | undefined;
    return r ? toMapping(r) : undefined;
  }

  sourceMappings(): StoredSourceMapping[] {
    return (this.statements.prepare('SELECT * FROM source_mappings ORDER BY package_purl').all() as MappingRow[]).map(toMapping);
  }

  /** Removes a mapping; returns whether there was one. */
  deleteSourceMapping(packagePurl: string): boolean {
    return this.statements.prepare('DELETE FROM source_mappings WHERE package_purl = ?').run(packagePurl).changes === 1;
  }

  /** Adds a submitter with the digest of its token (a revoked name gets a new token); false when the name is in use. */
  addSubmitter(name: string, tokenSha256: string): boolean {
    return (
      this.statements
        .prepare(
          `INSERT INTO submitters (name, token_sha256, created_at) VALUES (?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET token_sha256 = excluded.token_sha256, created_at = excluded.created_at, revoked_at = NULL
           WHERE submitters.revoked_at IS NOT NULL`,
        )
        .run(name, tokenSha256, now()).changes === 1
    );
  }

  /** The submitter whose token has this digest, unless revoked. */
  submitterByToken(tokenSha256: string): string | undefined {
    const r = this.statements.prepare('SELECT name FROM submitters WHERE token_sha256 = ? AND revoked_at IS NULL').get(tokenSha256) as { name: string } | undefined;
    return r?.name;
  }

  submitters(): { name: string; createdAt: string; revokedAt?: string }[] {
    return (this.statements.prepare('SELECT name, created_at, revoked_at FROM submitters ORDER BY name').all() as { name: string; created_at: string; revoked_at: string | null }[]).map((r) => ({
      name: r.name,
      createdAt: r.created_at,
      ...(r.revoked_at ? { revokedAt: r.revoked_at } : {}),
    }));
  }

  /** Revokes a submitter's token; returns whether it was active. */
  revokeSubmitter(name: string): boolean {
    return this.statements.prepare('UPDATE submitters SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(now(), name).changes === 1;
  }

  getRelease(id: string): ReleaseRecord | undefined {
    const row = this.statements.prepare(`SELECT ${WITH_LATEST_VERDICT} WHERE id = ?`).get(id) as ReleaseVerdictRow | undefined;
    return row ? toRelease(row, parse<VerdictRecord>(row.verdict)) : undefined;
  }

  /** Releases of an exact versioned purl, or of every version of a package purl, newest first. */
  releasesOf(purl: { canonical: string; versioned: boolean }, limit = 50): ReleaseRecord[] {
    const sql = purl.versioned ? `SELECT ${WITH_LATEST_VERDICT} WHERE purl = ? ORDER BY seq DESC LIMIT ?` : `SELECT ${WITH_LATEST_VERDICT} WHERE package_purl = ? ORDER BY seq DESC LIMIT ?`;
    return (this.statements.prepare(sql).all(purl.canonical, limit) as ReleaseVerdictRow[]).map((r) => toRelease(r, parse<VerdictRecord>(r.verdict)));
  }

  /** When the first release of a purl (versioned) or of a package was recorded. */
  firstReleaseAt(purl: { canonical: string; versioned: boolean }): string | undefined {
    const sql = purl.versioned ? 'SELECT created_at FROM releases WHERE purl = ? ORDER BY seq LIMIT 1' : 'SELECT created_at FROM releases WHERE package_purl = ? ORDER BY seq LIMIT 1';
    return (this.statements.prepare(sql).get(purl.canonical) as { created_at: string } | undefined)?.created_at;
  }

  releasesInState(state: ReleaseState): ReleaseRecord[] {
    return (this.statements.prepare('SELECT * FROM releases WHERE state = ? ORDER BY seq').all(state) as ReleaseRow[]).map((r) => toRelease(r, undefined));
  }

  /** Records the published artifact's digests; `build` also moves the release on to building. */
  setReleasePublished(id: string, published: ArtifactDigests, build: boolean): void {
    this.statements
      .prepare(`UPDATE releases SET published = ?, state = CASE WHEN ? THEN 'building' ELSE state END, updated_at = ? WHERE id = ? AND state = 'queued'`)
      .run(JSON.stringify(published), build ? 1 : 0, now(), id);
  }

  setReleaseProblem(id: string, problem: { code: string; message: string }): void {
    this.statements.prepare('UPDATE releases SET problem = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(problem), now(), id);
  }

  /** Appends a verdict (with the digest of its signed VSA bundle) and marks the release decided, atomically. */
  appendVerdict(releaseId: string, record: VerdictRecord, vsaSha256?: string, diffSha256?: string): VerdictRecord {
    this.appendVerdictTx(releaseId, record, vsaSha256, diffSha256);
    return record;
  }

  /** Records a callback of a release; one per (release, URL): the same URL given again is not called twice. */
  addCallback(c: { id: string; releaseId: string; url: string; submittedBy: string }): void {
    const exists = this.statements.prepare("SELECT 1 FROM callbacks WHERE release_id = ? AND url = ? AND state = 'waiting'").get(c.releaseId, c.url);
    if (exists) return;
    const at = now();
    this.statements
      .prepare("INSERT INTO callbacks (id, release_id, url, submitted_by, state, attempts, next_at_ms, created_at, updated_at) VALUES (?, ?, ?, ?, 'waiting', 0, 0, ?, ?)")
      .run(c.id, c.releaseId, c.url, c.submittedBy, at, at);
  }

  /** Callbacks of one submitter not delivered or given up yet. */
  waitingCallbackCount(submittedBy: string): number {
    return (this.statements.prepare("SELECT COUNT(*) n FROM callbacks WHERE submitted_by = ? AND state = 'waiting'").get(submittedBy) as { n: number }).n;
  }

  /** Callbacks whose release is decided and whose next attempt is due, the longest waiting first. */
  dueCallbacks(nowMs: number, limit: number): StoredCallback[] {
    const rows = this.statements
      .prepare(
        `SELECT ${CALLBACK_COLUMNS.map((c) => `c.${c}`).join(', ')} FROM callbacks c JOIN releases r ON r.id = c.release_id
         WHERE c.state = 'waiting' AND c.next_at_ms <= ? AND r.state = 'decided' ORDER BY c.next_at_ms LIMIT ?`,
      )
      .all(nowMs, limit) as CallbackRow[];
    return rows.map(callbackOf);
  }

  /** The outcome of one attempt: delivered, failed for good, or waiting for the next attempt at `nextAtMs`. */
  recordCallbackAttempt(id: string, outcome: { state: StoredCallback['state']; nextAtMs?: number; error?: string }): void {
    this.statements
      .prepare('UPDATE callbacks SET state = ?, attempts = attempts + 1, next_at_ms = COALESCE(?, next_at_ms), last_error = ?, updated_at = ? WHERE id = ?')
      .run(outcome.state, outcome.nextAtMs ?? null, outcome.error?.slice(0, 500) ?? null, now(), id);
  }

  /** The callbacks of a release (for its submitter and tests). */
  callbacksOf(releaseId: string): StoredCallback[] {
    const rows = this.statements.prepare(`SELECT ${CALLBACK_COLUMNS.join(', ')} FROM callbacks WHERE release_id = ? ORDER BY created_at`).all(releaseId) as CallbackRow[];
    return rows.map(callbackOf);
  }

  latestVerdict(releaseId: string): VerdictRecord | undefined {
    const row = this.statements.prepare('SELECT body FROM verdicts WHERE release_id = ? ORDER BY seq DESC LIMIT 1').get(releaseId) as { body: string } | undefined;
    return parse<VerdictRecord>(row?.body ?? null);
  }

  /** Digest of the newest verdict's VSA bundle. */
  latestVsa(releaseId: string): string | undefined {
    const row = this.statements.prepare('SELECT vsa_sha256 FROM verdicts WHERE release_id = ? ORDER BY seq DESC LIMIT 1').get(releaseId) as { vsa_sha256: string | null } | undefined;
    return row?.vsa_sha256 ?? undefined;
  }

  /** Digest of the newest verdict's file-level diff, when it has one. */
  latestDiff(releaseId: string): string | undefined {
    const row = this.statements.prepare('SELECT diff_sha256 FROM verdicts WHERE release_id = ? ORDER BY seq DESC LIMIT 1').get(releaseId) as { diff_sha256: string | null } | undefined;
    return row?.diff_sha256 ?? undefined;
  }

  verdictHistory(releaseId: string): VerdictRecord[] {
    return (this.statements.prepare('SELECT body FROM verdicts WHERE release_id = ? ORDER BY seq').all(releaseId) as { body: string }[]).map((r) => JSON.parse(r.body) as VerdictRecord);
  }

  insertRebuild(r: { id: string; releaseId: string; workerId: string; operator: string; attempt: number; deadlineMs: number }): void {
    const t = now();
    this.statements
      .prepare(`INSERT INTO rebuilds (id, release_id, worker_id, operator, state, attempt, deadline_ms, created_at, updated_at) VALUES (?, ?, ?, ?, 'assigned', ?, ?, ?, ?)`)
      .run(r.id, r.releaseId, r.workerId, r.operator, r.attempt, r.deadlineMs, t, t);
  }

  /** Open rebuilds whose deadline has passed. */
  overdueRebuilds(nowMs: number): StoredRebuild[] {
    return (this.statements.prepare(`SELECT * FROM rebuilds WHERE state IN ('assigned', 'running') AND deadline_ms IS NOT NULL AND deadline_ms < ?`).all(nowMs) as RebuildRow[]).map(toRebuild);
  }

  markEnqueued(rebuildId: string): void {
    this.statements.prepare('UPDATE rebuilds SET enqueued = 1 WHERE id = ?').run(rebuildId);
  }

  getRebuild(id: string): StoredRebuild | undefined {
    const row = this.statements.prepare('SELECT * FROM rebuilds WHERE id = ?').get(id) as RebuildRow | undefined;
    return row ? toRebuild(row) : undefined;
  }

  rebuildsOf(releaseId: string): StoredRebuild[] {
    return (this.statements.prepare('SELECT * FROM rebuilds WHERE release_id = ? ORDER BY created_at, id').all(releaseId) as RebuildRow[]).map(toRebuild);
  }

  /** Rebuilds not yet handed to the queue (e.g. the coordinator died between insert and enqueue). */
  unenqueuedRebuilds(): StoredRebuild[] {
    return (this.statements.prepare(`SELECT * FROM rebuilds WHERE enqueued = 0 AND state = 'assigned'`).all() as RebuildRow[]).map(toRebuild);
  }

  /** Open rebuilds not touched since `beforeIso`. */
  staleOpenRebuilds(beforeIso: string): StoredRebuild[] {
    return (this.statements.prepare(`SELECT * FROM rebuilds WHERE state IN ('assigned', 'running') AND enqueued = 1 AND updated_at < ?`).all(beforeIso) as RebuildRow[]).map(toRebuild);
  }

  /** Marks a rebuild as just looked at, so a stale check does not repeat at once. */
  touchRebuild(id: string): void {
    this.statements.prepare('UPDATE rebuilds SET updated_at = ? WHERE id = ?').run(now(), id);
  }

  /** Open rebuilds held by the given worker. */
  openRebuildsOf(workerId: string): StoredRebuild[] {
    return (this.statements.prepare(`SELECT * FROM rebuilds WHERE worker_id = ? AND state IN ('assigned', 'running')`).all(workerId) as RebuildRow[]).map(toRebuild);
  }

  /** Moves a rebuild between states only from one of `from`; returns whether it moved. */
  transitionRebuild(id: string, from: RebuildState[], to: RebuildState, report?: RebuildReport): boolean {
    const marks = from.map(() => '?').join(', ');
    const res = this.statements
      .prepare(`UPDATE rebuilds SET state = ?, report = COALESCE(?, report), updated_at = ? WHERE id = ? AND state IN (${marks})`)
      .run(to, report ? JSON.stringify(report) : null, now(), id, ...from);
    return res.changes === 1;
  }

  /** Records the one artifact upload of a rebuild; false when it already has one. */
  setRebuildArtifact(id: string, sha256: string): boolean {
    return this.statements.prepare('UPDATE rebuilds SET artifact_sha256 = ? WHERE id = ? AND artifact_sha256 IS NULL').run(sha256, id).changes === 1;
  }

  /** Closes an open rebuild with its report and, in the same transaction, its signed bundle: a verdict never sees one without the other. */
  closeRebuild(id: string, to: RebuildState, report: RebuildReport, bundleSha256?: string): boolean {
    return this.db.transaction(() => {
      const moved = this.transitionRebuild(id, ['assigned', 'running'], to, report);
      if (moved && bundleSha256) this.setRebuildBundle(id, bundleSha256);
      return moved;
    })();
  }

  setRebuildBundle(id: string, sha256: string): void {
    this.statements.prepare('UPDATE rebuilds SET bundle_sha256 = ? WHERE id = ?').run(sha256, id);
  }

  /** Records a rebuild's log: false once it had MAX_LOG_UPLOADS, so repeated uploads cannot fill a disk. */
  setRebuildLog(id: string, sha256: string, bytes: number): boolean {
    return (
      this.statements
        .prepare('UPDATE rebuilds SET log_sha256 = ?, log_bytes = ?, log_uploads = log_uploads + 1, updated_at = ? WHERE id = ? AND log_uploads < ?')
        .run(sha256, bytes, now(), id, MAX_LOG_UPLOADS).changes === 1
    );
  }

  upsertWorker(hb: WorkerHeartbeat): void {
    const t = now();
    this.statements
      .prepare(
        `INSERT INTO workers (id, operator, images, running, registered_at, last_seen_at, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET operator = excluded.operator, images = excluded.images, running = excluded.running,
           last_seen_at = excluded.last_seen_at, last_seen_ms = excluded.last_seen_ms`,
      )
      .run(hb.workerId, hb.operator, JSON.stringify(hb.images), JSON.stringify(hb.running), t, t, Date.now());
  }

  workers(): WorkerRecord[] {
    return (this.statements.prepare('SELECT * FROM workers ORDER BY id').all() as WorkerRow[]).map((w) => ({
      id: w.id,
      operator: w.operator,
      images: JSON.parse(w.images) as Record<string, string>,
      running: JSON.parse(w.running) as string[],
      registeredAt: w.registered_at,
      lastSeenAt: w.last_seen_at,
      lastSeenMs: w.last_seen_ms,
    }));
  }

  /** Creates or replaces a pending enrolment whose one-time token has the given digest. */
  addEnrolmentToken(workerId: string, operator: string, tokenSha256: string, expiresAt: string): void {
    this.statements
      .prepare(
        `INSERT INTO enrolments (worker_id, operator, token_sha256, token_expires_at, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(worker_id) DO UPDATE SET operator = excluded.operator, token_sha256 = excluded.token_sha256,
           token_expires_at = excluded.token_expires_at WHERE enrolments.key_id IS NULL`,
      )
      .run(workerId, operator, tokenSha256, expiresAt, now());
  }

  /** Binds a key to a worker, consuming its token (when one is given). Returns false if the token does not fit. */
  enrol(workerId: string, operator: string, keyId: string, publicKeyPem: string, tokenSha256?: string): boolean {
    const t = now();
    if (tokenSha256 === undefined) {
      this.statements
        .prepare(
          `INSERT INTO enrolments (worker_id, operator, key_id, public_key, enrolled_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(worker_id) DO UPDATE SET operator = excluded.operator, key_id = excluded.key_id, public_key = excluded.public_key,
             enrolled_at = excluded.enrolled_at, token_sha256 = NULL, token_expires_at = NULL`,
        )
        .run(workerId, operator, keyId, publicKeyPem, t, t);
      return true;
    }
    const res = this.statements
      .prepare(
        `UPDATE enrolments SET key_id = ?, public_key = ?, enrolled_at = ?, token_sha256 = NULL, token_expires_at = NULL
         WHERE worker_id = ? AND key_id IS NULL AND token_sha256 = ? AND token_expires_at > ? AND operator = ?`,
      )
      .run(keyId, publicKeyPem, t, workerId, tokenSha256, t, operator);
    return res.changes === 1;
  }

  enrolment(workerId: string): Enrolment | undefined {
    const r = this.statements.prepare('SELECT * FROM enrolments WHERE worker_id = ? AND key_id IS NOT NULL').get(workerId) as EnrolmentRow | undefined;
    return r ? { workerId: r.worker_id, operator: r.operator, keyId: r.key_id!, publicKeyPem: r.public_key!, enrolledAt: r.enrolled_at! } : undefined;
  }

  /** The enrolled worker whose key has this id. */
  enrolmentByKey(keyId: string): Enrolment | undefined {
    const r = this.statements.prepare('SELECT * FROM enrolments WHERE key_id = ?').get(keyId) as EnrolmentRow | undefined;
    return r ? { workerId: r.worker_id, operator: r.operator, keyId: r.key_id!, publicKeyPem: r.public_key!, enrolledAt: r.enrolled_at! } : undefined;
  }

  enrolments(): Enrolment[] {
    return (this.statements.prepare('SELECT * FROM enrolments WHERE key_id IS NOT NULL ORDER BY worker_id').all() as EnrolmentRow[]).map((r) => ({
      workerId: r.worker_id,
      operator: r.operator,
      keyId: r.key_id!,
      publicKeyPem: r.public_key!,
      enrolledAt: r.enrolled_at!,
    }));
  }

  /** Enrolments waiting for their worker: one-time tokens handed out and not yet used (expired ones too). */
  pendingEnrolments(): { workerId: string; operator: string; expiresAt: string; createdAt: string }[] {
    return (this.statements.prepare('SELECT * FROM enrolments WHERE key_id IS NULL ORDER BY created_at DESC').all() as EnrolmentRow[]).map((r) => ({
      workerId: r.worker_id,
      operator: r.operator,
      expiresAt: r.token_expires_at ?? r.created_at,
      createdAt: r.created_at,
    }));
  }

  /**
   * Records a refusal for auditors; fields are capped. Refusals of requests no enrolled key signed
   * (`authenticated: false`) go to a bucket of their own, newest MAX_UNAUTHENTICATED_REJECTIONS kept;
   * those of authenticated workers, newest MAX_REJECTIONS.
   */
  recordRejection(r: Omit<Rejection, 'seq' | 'at' | 'authenticated'>, authenticated = true): void {
    const bucket = authenticated ? 1 : 0;
    this.statements
      .prepare('INSERT INTO rejections (at, worker_id, rebuild_id, reason, detail, bundle_sha256, authenticated) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(now(), cap(r.workerId, 100) ?? null, cap(r.rebuildId, 100) ?? null, cap(r.reason, 100)!, cap(r.detail)!, cap(r.bundleSha256, 64) ?? null, bucket);
    const keep = authenticated ? MAX_REJECTIONS : MAX_UNAUTHENTICATED_REJECTIONS;
    this.statements
      .prepare('DELETE FROM rejections WHERE authenticated = ? AND seq <= (SELECT seq FROM rejections WHERE authenticated = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)')
      .run(bucket, bucket, keep);
  }

  /** Refusals recorded about one rebuild. */
  rejectionCount(rebuildId: string): number {
    return (this.statements.prepare('SELECT COUNT(*) n FROM rejections WHERE rebuild_id = ?').get(rebuildId) as { n: number }).n;
  }

  /** The newest refusals of one bucket: those of enrolled workers, or those nobody authenticated. */
  rejections(limit = 200, authenticated = true): Rejection[] {
    return (
      this.statements.prepare('SELECT * FROM rejections WHERE authenticated = ? ORDER BY seq DESC LIMIT ?').all(authenticated ? 1 : 0, limit) as {
        seq: number;
        at: string;
        worker_id: string | null;
        rebuild_id: string | null;
        reason: string;
        detail: string;
        bundle_sha256: string | null;
        authenticated: number;
      }[]
    ).map((r) => ({
      seq: r.seq,
      at: r.at,
      reason: r.reason,
      detail: r.detail,
      authenticated: r.authenticated === 1,
      ...(r.worker_id ? { workerId: r.worker_id } : {}),
      ...(r.rebuild_id ? { rebuildId: r.rebuild_id } : {}),
      ...(r.bundle_sha256 ? { bundleSha256: r.bundle_sha256 } : {}),
    }));
  }

  close(): void {
    this.db.close();
  }
}
