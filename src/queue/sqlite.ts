/**
 * The embedded queue driver: one SQLite file (better-sqlite3, WAL). The default; one server
 * (plus short-lived CLI processes such as `replay` or `dlq`) on one machine.
 *
 * Table layout, migrations and semantics are described in docs/queue.md.
 */
import { mkdirSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import Database from 'better-sqlite3';
import { QueueUnavailableError } from '../errors.js';
import type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterInput,
  DestinationQueueStats,
  EnqueueOptions,
  EnqueueResult,
  IngestEvent,
  DedupIndexSize,
  Queue,
  QueueItem,
  ClaimOptions,
} from './types.js';
import { SqliteDedup } from './sqlite-dedup.js';
import { SqliteEnqueuer, enqueueFlatRows, sqliteDriverPath } from './sqlite-enqueuer.js';
import { flatRows, type PackedEvents } from './packed.js';
import { deadLetterLimitSql, deadLetterValues, isQueueId, newLeaseToken, queueUnavailable, toDeadLetter } from './common.js';
import type { DeadLetterRowOf, DeliveryRowOf, SettleRef } from './common.js';

/** A queue id as SQLite's integer, or undefined when it cannot name a row. */
function rowId(id: unknown): number | undefined {
  if (!isQueueId(id)) return undefined;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : undefined;
}

export interface SqliteQueueOptions {
  /** Database file, or `':memory:'`. The parent folder is created when missing. */
  path: string;
  /**
   * How long a statement waits for another connection's write lock before failing with
   * `QueueUnavailableError` (SQLITE_BUSY). Default 5000 ms.
   */
  busyTimeoutMs?: number;
  /**
   * Flushes a file or folder to disk by path; default: open, fsync, close on libuv's thread pool.
   * Enqueue answers only after it resolved for the WAL file (see `syncWal`). For tests.
   */
  fsync?: (target: string) => Promise<void>;
  /**
   * Checkpoint the WAL from a worker thread once delivery starts (the first `claim`), instead of
   * inside commits on the event loop. Default true; see `startCheckpointer`.
   */
  checkpointInWorker?: boolean;
}

/**
 * How long settle calls (complete, retry) may wait for company before they commit, and how many
 * may wait. A settle that waits only keeps its row leased a little longer.
 */
const SETTLE_FLUSH_MS = 5;
const SETTLE_BATCH_MAX = 256;

/**
 * While the enqueue worker runs, the event loop's connection does not sleep in SQLite's busy
 * handler when the worker holds the write lock (its commits take a few ms): claims and settle
 * commits try again this many ms later, and the loop serves HTTP meanwhile.
 */
const LOCK_RETRY_MS = 1;

/** A transaction that could not start: another connection held the write lock. Nothing ran. */
const BUSY: unique symbol = Symbol('busy');

/** Log rows `pruneDedup` deletes per transaction: a few ms of the event loop each. */
const PRUNE_CHUNK_ROWS = 20_000;

/** How often the checkpoint worker copies the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * The main connection's own auto-checkpoint threshold (pages) while the worker runs: a safety net
 * should the worker fall behind. SQLite's default (1000 pages, ~4 MB) applies otherwise.
 */
const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;

/**
 * The checkpoint worker (CommonJS, run with `eval`): its own connection to the file, a PASSIVE
 * checkpoint every interval (it never waits for readers or the writer), errors reported to the
 * parent, connection closed on 'stop'. It also answers `{ stats, now }` with the rows of the
 * three `SQLITE_STATS_SQL` queries, read in one transaction (`{ stats, rows }` or
 * `{ stats, failed }`): they count the whole backlog, which is better done off the event loop.
 */
const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
// The checkpoint syncs the WAL before and the database file after copying (not with OFF).
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.intervalMs);
let statsRead;
parentPort.on('message', (message) => {
  if (message === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort.close();
    return;
  }
  if (typeof message.stats !== 'number') return;
  try {
    if (statsRead === undefined) {
      const sql = workerData.statsSql;
      const queued = db.prepare(sql.queued), leased = db.prepare(sql.leased), dead = db.prepare(sql.dead);
      statsRead = db.transaction((now) => ({ queued: queued.all(), leased: leased.all(now), dead: dead.all() }));
    }
    parentPort.postMessage({ stats: message.stats, rows: statsRead(message.now) });
  } catch (err) {
    parentPort.postMessage({ stats: message.stats, failed: String(err && err.message || err) });
  }
});
`;

/** What the three `SQLITE_STATS_SQL` queries return, in order. */
interface StatsRows {
  queued: { destination: string; queued: number; oldest: number | null }[];
  leased: { destination: string; leased: number }[];
  dead: { destination: string; dead: number }[];
}

/**
 * Schema versions, applied in order inside one IMMEDIATE transaction each and recorded in
 * `PRAGMA user_version`, so two processes opening a fresh file at once do not race: the second
 * waits for the write lock (busy_timeout), then sees the version already applied.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: deliveries, dead letters, de-duplication.
  `
  CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids are never reused (dead letters keep them)
    destination      TEXT    NOT NULL,
    project          TEXT    NOT NULL,
    insert_id        TEXT,
    path             TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    event            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    enqueued_at      INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    first_attempt_at INTEGER,
    last_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    lease_token      TEXT,    -- dropped by migration 2 (leases)
    lease_until      INTEGER  -- dropped by migration 2
  ) STRICT;
  CREATE INDEX deliveries_due ON deliveries (destination, run_at, id);

  CREATE TABLE dead_letters (
    id               INTEGER PRIMARY KEY, -- the delivery's id
    destination      TEXT    NOT NULL,
    project          TEXT    NOT NULL,
    insert_id        TEXT,
    event            TEXT    NOT NULL,
    request          TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    http_status      INTEGER,
    extole_code      TEXT,
    extole_message   TEXT,
    attempts         INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL,
    last_attempt_at  INTEGER NOT NULL,
    config_revision  TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX dead_letters_destination ON dead_letters (destination, id);

  CREATE TABLE dedup (
    project    TEXT    NOT NULL,
    insert_id  TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (project, insert_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX dedup_first_seen ON dedup (first_seen);
  `,
  // 2: leases move to their own narrow table. A lease written into the delivery row rewrote the
  // whole row (body and event, about 1.2 KB) on every claim, and its page went to the WAL again;
  // a lease row is 3 small columns, so a claim of 32 rows touches a page or two. Dropping the
  // columns (rather than leaving them unused) makes a server of the old version, still running
  // on this file, fail on its next statement instead of leasing rows behind this one's back.
  `
  CREATE TABLE leases (
    id    INTEGER PRIMARY KEY, -- the delivery's id
    token TEXT    NOT NULL,
    until INTEGER NOT NULL
  ) STRICT;
  INSERT INTO leases (id, token, until)
    SELECT id, lease_token, lease_until FROM deliveries WHERE lease_token IS NOT NULL AND lease_until IS NOT NULL;
  ALTER TABLE deliveries DROP COLUMN lease_token;
  ALTER TABLE deliveries DROP COLUMN lease_until;
  `,
  // 3: de-duplication becomes an append-only log, indexed in memory (see sqlite-dedup.ts). A
  // table keyed on random insert_ids wrote a 4 KiB page per event; the log writes its rows in
  // order. The keys already seen move over; dropping \`dedup\` makes a server of the old version
  // still running on this file fail its next enqueue instead of de-duplicating against a table
  // nobody else writes.
  `
  CREATE TABLE dedup_log (
    seq        INTEGER PRIMARY KEY, -- append order; the newest row is never pruned, so it only grows
    project    TEXT    NOT NULL,
    insert_id  TEXT    NOT NULL,
    first_seen INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE dedup_pruned (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_before INTEGER NOT NULL -- keys first seen before this are forgotten
  ) STRICT;
  INSERT INTO dedup_pruned (id, pruned_before) VALUES (1, -9007199254740991);
  INSERT INTO dedup_log (project, insert_id, first_seen) SELECT project, insert_id, first_seen FROM dedup ORDER BY first_seen;
  DROP TABLE dedup;
  `,
  // 4: the claim index also carries enqueued_at, so \`stats\` counts a destination's rows and finds
  // its oldest from the index alone. It read every whole row (about 1.4 KB each) instead: 150 ms
  // of the event loop per /status or /metrics call at 200,000 queued rows, growing with the
  // backlog an Extole outage builds. Claims use the index as before (its first three columns).
  `
  DROP INDEX deliveries_due;
  CREATE INDEX deliveries_due ON deliveries (destination, run_at, id, enqueued_at);
  `,
  // 5: dead letters are counted as they come and go, so \`stats\` reads one row per destination.
  // Counting them scanned the whole dead-letter index on every /status and /metrics call: 65–100 ms
  // of the event loop at a million dead letters, which a destination that rejects every event
  // reaches in about 17 minutes at 1,000 events/s. Triggers keep the counts exact whoever writes
  // (this server, a \`dlq\` run beside it, another server of this version on the file).
  `
  CREATE TABLE dead_letter_counts (
    destination TEXT    PRIMARY KEY,
    dead        INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  INSERT INTO dead_letter_counts (destination, dead) SELECT destination, COUNT(*) FROM dead_letters GROUP BY destination;
  CREATE TRIGGER dead_letters_count_insert AFTER INSERT ON dead_letters BEGIN
    INSERT INTO dead_letter_counts (destination, dead) VALUES (new.destination, 1)
      ON CONFLICT (destination) DO UPDATE SET dead = dead + 1;
  END;
  CREATE TRIGGER dead_letters_count_delete AFTER DELETE ON dead_letters BEGIN
    UPDATE dead_letter_counts SET dead = dead - 1 WHERE destination = old.destination;
  END;
  CREATE TRIGGER dead_letters_count_update AFTER UPDATE OF destination ON dead_letters BEGIN
    UPDATE dead_letter_counts SET dead = dead - 1 WHERE destination = old.destination;
    INSERT INTO dead_letter_counts (destination, dead) VALUES (new.destination, 1)
      ON CONFLICT (destination) DO UPDATE SET dead = dead + 1;
  END;
  `,
];

type Durability = 'FULL' | 'NORMAL';

/** A delivery row as stored: its lease, if any, is in the `leases` table. */
type UnleasedRow = Omit<DeliveryRowOf<number>, 'lease_token' | 'lease_until'>;
/** The columns a claim's scan reads, in its SELECT's order. */
type LeasedRowValues = [
  id: number,
  destination: string,
  project: string,
  insertId: string | null,
  path: string,
  body: string,
  /** NULL when the claim did not ask for the event (`ClaimOptions.event: false`). */
  event: string | null,
  attempts: number,
  enqueuedAt: number,
  firstAttemptAt: number | null,
];
type DeadLetterRow = DeadLetterRowOf<number>;

/** Prepared statements, built once per connection. */
interface Statements {
  insertDelivery: Database.Statement<[string, string, string | null, string, string, string, number, number]>;
  /** The due rows of a claim, every column it returns (see `claimDueScan`). */
  claimDue: (destination: string, now: number, limit: number, withEvent: boolean) => LeasedRowValues[];
  lease: Database.Statement<[number, string, number]>;
  /** Ends a lease: 1 change when `token` still holds the row, else 0 (the lease was lost). */
  dropLease: Database.Statement<[number, string]>;
  retry: Database.Statement<[{ id: number; runAt: number; at: number; status: number | null; error: string }]>;
  reschedule: Database.Statement<[number, number]>;
  takeForDeadLetter: Database.Statement<[number, string], UnleasedRow>;
  deleteDelivery: Database.Statement<[number]>;
  insertDeadLetter: Database.Statement<unknown[]>;
  statsQueued: Database.Statement<[], { destination: string; queued: number; oldest: number }>;
  statsLeased: Database.Statement<[number], { destination: string; leased: number }>;
  statsDead: Database.Statement<[], { destination: string; dead: number }>;
  getDeadLetter: Database.Statement<[number], DeadLetterRow>;
  raisePruned: Database.Statement<[number]>;
  /** The first row of a `seq` range [from, to) first seen at or after a time. */
  firstLoggedSinceIn: Database.Statement<[number, number, number], number>;
  loggedRange: Database.Statement<[], { first: number | null; last: number | null }>;
  /** Deletes log rows below `keepFrom`, at most `chunk` of them (the `seq` range from the oldest row). */
  pruneLogChunk: Database.Statement<[number, number]>;
  synchronousFull: Database.Statement<[]>;
  synchronousNormal: Database.Statement<[]>;
}

interface ClaimParams {
  destination: string;
  now: number;
  token: string;
  leaseUntil: number;
  limit: number;
  /** Read each row's event JSON (`ClaimOptions.event`). */
  withEvent: boolean;
}

/** A settle or enqueue call waiting for the next batch commit (see `SqliteQueue.flush`). */
type PendingOp =
  | { kind: 'enqueue'; project: string; events: IngestEvent[] | PackedEvents; now: number; window: number; resolve: (r: EnqueueResult) => void; reject: (e: unknown) => void }
  | { kind: 'complete'; id: number; token: string; resolve: (owned: boolean) => void; reject: (e: unknown) => void }
  | {
      kind: 'retry';
      params: { id: number; token: string; runAt: number; at: number; status: number | null; error: string };
      resolve: (owned: boolean) => void;
      reject: (e: unknown) => void;
    }
  | { kind: 'deadLetter'; id: number; token: string; values: ReturnType<typeof deadLetterValues>; resolve: (moved: boolean) => void; reject: (e: unknown) => void };

/**
 * Queue on a SQLite file. Safe for several processes on one machine (WAL, busy_timeout,
 * IMMEDIATE write transactions, lease tokens); not for network file systems.
 */
export class SqliteQueue implements Queue {
  readonly driver = 'sqlite' as const;
  /** The database file as given (resolved by the caller), or `':memory:'`. */
  readonly path: string;
  private readonly busyTimeoutMs: number;
  private db: Database.Database | undefined;
  private st: Statements | undefined;
  private closed = false;
  /** The connection's current `PRAGMA synchronous`, to switch it only when needed. */
  private synchronous: Durability = 'FULL';
  /** The WAL file to fsync after an enqueue commit (see `syncWal`); undefined: commit with FULL instead. */
  private walPath: string | undefined;
  /** Callers waiting for an fsync of the WAL that starts after their commit. */
  private syncWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private dirSynced = false;
  private checkpointInWorker: boolean;
  /** False once the enqueue worker has failed: enqueues stay on this connection. */
  private enqueueInWorker = true;
  /** The enqueue worker, once started (see `SqliteEnqueuer`). */
  private enqueuer: SqliteEnqueuer | undefined;
  /** This connection's de-duplication index, made by its first enqueue; the worker keeps its own. */
  private dedup: SqliteDedup | undefined;
  /**
   * How this connection waits for the write lock: `block` in SQLite's busy handler (up to
   * busyTimeoutMs), or `yield`: busy_timeout 0, and claims and settle commits retry from a timer
   * (see LOCK_RETRY_MS). `yield` while the enqueue worker runs.
   */
  private lockWait: 'block' | 'yield' = 'block';
  /** Set by the body of a batch or claim transaction: BEGIN succeeded (see `commitWith`). */
  private entered = false;
  /** When settle commits first found the lock taken, while they retry (see `flush`). */
  private busySince: number | undefined;
  /** The checkpoint worker, once started (see `startCheckpointer`). */
  private checkpointer: Worker | undefined;
  /** `stats` calls the checkpoint worker has not answered yet, by request id. */
  private readonly statsAsked = new Map<number, { resolve: (rows: StatsRows) => void; reject: (err: Error) => void }>();
  private nextStatsId = 1;
  private readonly fsync: (target: string) => Promise<void>;
  /** The fsync running now, if any. */
  private syncing: Promise<void> | undefined;
  /** Calls waiting for the batch commit at the end of this event-loop turn (see `flush`). */
  private pending: PendingOp[] = [];
  /** A flush is queued for the end of this event-loop turn. */
  private flushScheduled = false;
  /** Settle-only calls wait this timer (see `batch`); undefined when none is set. */
  private settleTimer: NodeJS.Timeout | undefined;
  /** Transaction functions, built once per connection (building one per call costs as much as a small statement). */
  private batchTx: Database.Transaction<(db: Database.Database, st: Statements, ops: PendingOp[], results: unknown[], failures: (QueueUnavailableError | undefined)[]) => void> | undefined;
  private enqueueTx: Database.Transaction<(st: Statements, dedup: SqliteDedup, project: string, events: IngestEvent[] | PackedEvents, now: number, window: number) => EnqueueResult> | undefined;
  private claimTx:
    | Database.Transaction<
        (
          db: Database.Database,
          st: Statements,
          ops: PendingOp[],
          results: unknown[],
          failures: (QueueUnavailableError | undefined)[],
          params: ClaimParams,
        ) => QueueItem[] | { failed: unknown }
      >
    | undefined;

  constructor(options: SqliteQueueOptions) {
    this.path = options.path;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.fsync = options.fsync ?? fsyncPath;
    this.checkpointInWorker = options.checkpointInWorker ?? true;
  }

  /** Opens the file (creating its folder), sets the pragmas and applies pending migrations. */
  async open(): Promise<void> {
    if (this.db) return;
    if (this.closed) throw new QueueUnavailableError('SQLite queue: already closed');
    let db: Database.Database | undefined;
    try {
      if (this.path !== ':memory:' && !this.path.startsWith('file:')) {
        mkdirSync(path.dirname(path.resolve(this.path)), { recursive: true });
      }
      db = new Database(this.path);
      // Wait for other connections' locks (a `replay` run beside the server) instead of failing.
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(this.busyTimeoutMs))}`);
      // WAL: readers never block the writer and the writer never blocks readers, and several
      // processes can share the file. Ignored (stays 'memory') for ':memory:'.
      const journal = db.pragma('journal_mode = WAL', { simple: true });
      // Enqueue durability without blocking the event loop, see `syncWal`. Only for a plain file
      // path in WAL mode; otherwise enqueue commits with synchronous=FULL.
      this.walPath = journal === 'wal' && this.path !== ':memory:' && !this.path.startsWith('file:') ? `${path.resolve(this.path)}-wal` : undefined;
      // FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a power loss (not a
      // process crash: the WAL survives kill -9 either way) can roll back the last transactions.
      // Ingestion answers 200 only after enqueue() returns, and a 200 promises the events are
      // durable, so every enqueue commit must reach the disk: one fsync per ingest request
      // (each request is one transaction). Settle calls relax this, see `run`.
      db.pragma('synchronous = FULL');
      this.synchronous = 'FULL';
      db.pragma('foreign_keys = OFF');
      // Each ingest request is a savepoint inside the group commit: its statement journal (the
      // pages to restore should that request fail alone) stays in memory instead of a temp file.
      // Measured with random (UUID) insert_ids, 100 events per request: 46 → 36 µs per event.
      db.pragma('temp_store = MEMORY');
      this.migrate(db);
      this.st = prepare(db);
      this.batchTx = db.transaction((d: Database.Database, st: Statements, ops: PendingOp[], results: unknown[], failures: (QueueUnavailableError | undefined)[]) => {
        this.entered = true;
        this.runBatch(d, st, ops, results, failures);
      });
      this.enqueueTx = db.transaction((st: Statements, dedup: SqliteDedup, project: string, events: IngestEvent[] | PackedEvents, now: number, window: number) =>
        enqueueFlatRows(dedup, st.insertDelivery, project, flatRows(events), now, window),
      );
      this.claimTx = db.transaction(
        (d: Database.Database, st: Statements, ops: PendingOp[], results: unknown[], failures: (QueueUnavailableError | undefined)[], params: ClaimParams) => {
          this.entered = true;
          if (ops.length === 0) return claimRows(st, params);
          this.runBatch(d, st, ops, results, failures);
          try {
            return claimRows(st, params);
          } catch (err) {
            // A failed statement undoes only itself: the batch before it still commits, unless
            // SQLite aborted the whole transaction.
            if (!d.inTransaction) throw err;
            return { failed: err };
          }
        },
      );
      this.db = db;
    } catch (err) {
      try {
        db?.close();
      } catch {
        // already failing; the original error matters
      }
      throw unavailable('open', err);
    }
  }

  private migrate(db: Database.Database): void {
    const apply = db.transaction(() => {
      const current = db.pragma('user_version', { simple: true }) as number;
      for (let version = current; version < SQLITE_MIGRATIONS.length; version++) {
        db.exec(SQLITE_MIGRATIONS[version]!);
        db.pragma(`user_version = ${version + 1}`);
      }
    });
    // Fast path without the write lock when up to date (the common case on restart).
    if ((db.pragma('user_version', { simple: true }) as number) >= SQLITE_MIGRATIONS.length) return;
    apply.immediate();
  }

  private use(op: string): { db: Database.Database; st: Statements } {
    if (!this.db || !this.st) {
      throw new QueueUnavailableError(`SQLite queue: ${op} on a queue that is ${this.closed ? 'closed' : 'not open'}`);
    }
    return { db: this.db, st: this.st };
  }

  /**
   * Runs `fn` against the open database, turning every driver failure into QueueUnavailableError.
   *
   * `durability` NORMAL is for lease bookkeeping (claim, complete, retry, release, deadLetter):
   * losing such a commit to a power cut only brings a row back for another attempt, which
   * at-least-once delivery allows (SPEC §6: duplicates can happen after a crash), while an fsync
   * per settled row would cap delivery at a few hundred events/s. Commits stay atomic and the
   * file consistent; the next FULL commit (any enqueue) also flushes the earlier NORMAL ones.
   */
  private run<T>(op: string, fn: (db: Database.Database, st: Statements) => T, durability: Durability = 'FULL'): T {
    // Occasional calls (release, dead letters, stats, admin) wait for the lock in SQLite, as
    // they would without the worker: they must run now, and after the batched calls before them.
    const yielding = this.lockWait === 'yield' && this.db !== undefined;
    if (yielding) this.setLockWait('block');
    try {
      // Calls take effect in the order they were made: batched calls still waiting go first.
      if (this.pending.length > 0) this.flush();
      const { db, st } = this.use(op);
      try {
        this.setSynchronous(st, durability);
        return fn(db, st);
      } catch (err) {
        throw unavailable(op, err);
      }
    } finally {
      if (yielding && this.db !== undefined) this.setLockWait('yield');
    }
  }

  private setLockWait(mode: 'block' | 'yield'): void {
    if (this.lockWait === mode) return;
    this.db?.pragma(`busy_timeout = ${mode === 'yield' ? 0 : Math.max(0, Math.trunc(this.busyTimeoutMs))}`);
    this.lockWait = mode;
  }

  private setSynchronous(st: Statements, durability: Durability): void {
    if (this.synchronous === durability) return;
    (durability === 'FULL' ? st.synchronousFull : st.synchronousNormal).run();
    this.synchronous = durability;
  }

  /**
   * Queue `op` for the batch commit at the end of this event-loop turn (see `flush`). Throws
   * QueueUnavailableError at once when the queue is not open, as the direct calls do.
   */
  private batch<T>(op: PendingOp['kind'], add: (resolve: (value: T) => void, reject: (err: unknown) => void) => PendingOp): Promise<T> {
    this.use(op);
    return new Promise<T>((resolve, reject) => {
      this.pending.push(add(resolve, reject));
      if (this.flushScheduled) return;
      // An enqueue's caller waits for the commit (its HTTP 200 does): commit at the end of this
      // turn. Settles only do lease bookkeeping nobody waits on (a request slot is freed when
      // Extole answers), so they gather for a few ms, or until a claim or an enqueue commits
      // them: a handful of transactions per 100 rows instead of one per event-loop turn.
      if (op === 'enqueue' || this.pending.length >= SETTLE_BATCH_MAX) {
        this.flushScheduled = true;
        setImmediate(this.flushSoon);
      } else this.settleTimer ??= setTimeout(this.flushSoon, SETTLE_FLUSH_MS);
    });
  }

  /** Calls taken for a transaction that could not start go back first, ahead of any made since. */
  private requeue(ops: PendingOp[]): void {
    this.pending = ops.concat(this.pending);
  }

  /** The waiting calls are being committed now: the settle timer has nothing left to do. */
  private cancelSettleTimer(): void {
    if (this.settleTimer === undefined) return;
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
  }

  private readonly flushSoon = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /**
   * Group commit: every enqueue, complete and retry made during one event-loop turn goes into ONE
   * IMMEDIATE transaction, in call order, and each caller gets its own answer after the commit.
   * A transaction's fixed cost (write lock, WAL frame, and for an enqueue the fsync) dominates a
   * single-row settle, so delivery with many requests in flight pays it once per turn, not once
   * per row.
   *
   * Durability per caller is unchanged: the commit is FULL (fsync) when the batch holds an
   * enqueue (a 200 still means the events reached the disk) and NORMAL when it holds only
   * settles, as before. Each enqueue runs in its own savepoint, so one failing request rolls back
   * alone (its caller gets QueueUnavailableError) and the others commit; if SQLite aborted the
   * whole transaction, or the commit fails, every caller of the batch gets the error.
   */
  private flush(): void {
    this.cancelSettleTimer();
    const ops = this.pending;
    if (ops.length === 0) return;
    this.pending = [];
    // Yielding: retry from a timer while the lock is taken, up to busyTimeoutMs; then one last
    // try that fails the calls as a blocking wait would have.
    const retryable = this.lockWait === 'yield' && (this.busySince === undefined || Date.now() - this.busySince < this.busyTimeoutMs);
    const done = this.commitWith(ops, 'commit', (db, st, results, failures) => this.batchTx!.immediate(db, st, ops, results, failures), retryable);
    if (done === BUSY) {
      this.busySince ??= Date.now();
      this.requeue(ops);
      this.settleTimer ??= setTimeout(this.flushSoon, LOCK_RETRY_MS);
      return;
    }
    this.busySince = undefined;
  }

  /**
   * Runs `tx` (one IMMEDIATE transaction that also runs `ops`), then answers every op's caller.
   * Returns what `tx` returned; rethrows its failure as QueueUnavailableError after rejecting
   * every op with it.
   */
  private commitWith<T>(
    ops: PendingOp[],
    op: string,
    tx: (db: Database.Database, st: Statements, results: unknown[], failures: (QueueUnavailableError | undefined)[]) => T,
    retryable = false,
  ): T | typeof BUSY | undefined {
    const results: unknown[] = new Array(ops.length);
    const failures: (QueueUnavailableError | undefined)[] = new Array(ops.length);
    let durability: Durability = 'NORMAL';
    let enqueues = false;
    for (const o of ops) if (o.kind === 'enqueue') enqueues = true;
    // Enqueues need their commit on disk: an fsync of the WAL off the event loop when we can
    // (`syncWal`), else SQLite's own fsync at commit.
    if (enqueues && this.walPath === undefined) durability = 'FULL';
    let value: T;
    this.entered = false;
    try {
      const { db, st } = this.use(op);
      this.setSynchronous(st, durability);
      value = tx(db, st, results, failures);
      this.dedup?.commit();
    } catch (err) {
      this.dedup?.rollback();
      // The lock was taken before anything ran: the caller keeps its calls and tries again.
      if (retryable && !this.entered && (err as { code?: unknown }).code === 'SQLITE_BUSY') return BUSY;
      const failure = unavailable(op, err);
      for (const o of ops) o.reject(o.kind === op ? failure : unavailable(o.kind, err));
      if (op === 'commit') return undefined;
      throw failure;
    }
    const synced = enqueues && this.walPath !== undefined ? this.syncWal() : undefined;
    for (let i = 0; i < ops.length; i++) {
      const failure = failures[i];
      const o = ops[i]!;
      if (failure !== undefined) o.reject(failure);
      else if (o.kind === 'enqueue' && synced !== undefined) {
        const result = results[i] as EnqueueResult;
        synced.then(
          () => o.resolve(result),
          (err: unknown) => o.reject(unavailable('enqueue', err)),
        );
      } else (o.resolve as (value: unknown) => void)(results[i]);
    }
    return value;
  }

  /**
   * Makes every commit made so far durable: resolves after an fsync of the WAL file that STARTED
   * after this call. Enqueue commits with synchronous=NORMAL (SQLite writes the WAL frames but
   * does not fsync) and its callers are answered only after this, so a 200 still means the
   * events reached the disk, as with synchronous=FULL, but the fsync runs on libuv's thread pool
   * instead of blocking the event loop for milliseconds per ingest request, and one fsync covers
   * every commit before it (requests arriving during an fsync share the next one).
   *
   * Why an fsync of our own file descriptor is enough: fsync flushes the file (the inode), not
   * one descriptor's writes. A checkpoint between the commit and the fsync has copied the frames
   * into the database file and synced it (WAL + NORMAL syncs at each checkpoint), so a WAL
   * restarted or removed meanwhile loses nothing. The file is opened per fsync, so a WAL that
   * was removed and re-created is never missed.
   */
  private syncWal(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject });
      if (this.syncing === undefined) this.startSync();
    });
  }

  private startSync(): void {
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    const walPath = this.walPath!;
    const syncDir = !this.dirSynced;
    this.syncing = (async () => {
      await this.fsync(walPath);
      // A WAL created since open() is a new directory entry: sync the folder once, as SQLite
      // does for a new WAL file it syncs itself.
      if (syncDir) {
        await this.fsync(path.dirname(walPath));
        this.dirSynced = true;
      }
    })().then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
    void this.syncing.then(() => {
      this.syncing = undefined;
      if (this.syncWaiters.length > 0) this.startSync();
    });
  }

  /** The body of `flush`'s transaction. */
  private runBatch(db: Database.Database, st: Statements, ops: PendingOp[], results: unknown[], failures: (QueueUnavailableError | undefined)[]): void {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.kind === 'complete') results[i] = completeRow(st, op.id, op.token);
      else if (op.kind === 'retry') results[i] = st.dropLease.run(op.params.id, op.params.token).changes === 1 && st.retry.run(op.params).changes === 1;
      else if (op.kind === 'deadLetter') results[i] = deadLetterRow(st, op.id, op.token, op.values);
      else {
        const dedup = (this.dedup ??= new SqliteDedup(db));
        dedup.beginGroup();
        dedup.beginRequest();
        try {
          // Nested in the batch: a savepoint, rolled back alone when it throws.
          results[i] = this.enqueueTx!(st, dedup, op.project, op.events, op.now, op.window);
        } catch (err) {
          dedup.rollbackRequest();
          // Some errors (disk full, I/O) make SQLite abort the whole transaction: then the rest
          // must not run outside it, and nobody in the batch may be told "committed".
          if (!db.inTransaction) throw err;
          failures[i] = unavailable('enqueue', err);
        }
      }
    }
  }

  /**
   * Moves WAL checkpoints off the event loop. A checkpoint copies the WAL's pages into the
   * database file and syncs both; run by the auto-checkpoint inside a commit, it stalls the
   * server every ~1000 pages (a large share of its SQLite time under load). The worker thread
   * has its own connection and runs PASSIVE checkpoints; the main connection's auto-checkpoint
   * stays as a far-off safety net (and goes back to SQLite's default if the worker fails).
   * Started by the first claim: only a delivering server needs it, not `replay` or `dlq`.
   */
  private startCheckpointer(): void {
    let worker: Worker;
    try {
      worker = new Worker(CHECKPOINT_WORKER, {
        eval: true,
        workerData: { driver: sqliteDriverPath(), path: path.resolve(this.path), intervalMs: CHECKPOINT_INTERVAL_MS, statsSql: SQLITE_STATS_SQL },
      });
    } catch {
      this.checkpointInWorkerFailed();
      return;
    }
    worker.unref();
    this.checkpointer = worker;
    this.db?.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    worker.on('message', (message: { error?: string; stats?: number; rows?: StatsRows; failed?: string }) => {
      if (message.stats !== undefined) {
        const asked = this.statsAsked.get(message.stats);
        this.statsAsked.delete(message.stats);
        if (message.rows !== undefined) asked?.resolve(message.rows);
        else asked?.reject(new Error(message.failed ?? 'stats failed'));
        return;
      }
      if (message.error !== undefined) this.checkpointInWorkerFailed();
    });
    worker.on('error', () => this.checkpointInWorkerFailed());
    worker.on('exit', () => {
      if (this.checkpointer === worker) this.checkpointInWorkerFailed();
    });
  }

  /** Enqueues from here on commit on a worker thread (see `SqliteEnqueuer`). */
  private startEnqueuer(): void {
    try {
      this.enqueuer = new SqliteEnqueuer(path.resolve(this.path), Math.max(0, Math.trunc(this.busyTimeoutMs)), { insertDelivery: INSERT_DELIVERY_SQL }, () => {
        // Never start another: enqueues go back to this connection, which waits in SQLite again.
        this.enqueueInWorker = false;
        this.setLockWait('block');
      });
      this.setLockWait('yield');
      // The worker keeps its own index; this one would only hold memory (made again if needed).
      this.dedup = undefined;
    } catch {
      this.enqueueInWorker = false;
    }
  }

  /** Back to checkpoints in commits, as SQLite does by default. */
  private checkpointInWorkerFailed(): void {
    const worker = this.checkpointer;
    this.checkpointer = undefined;
    // Never start another: a worker that failed once will likely fail again.
    this.checkpointInWorker = false;
    this.failStatsAsked();
    if (worker) void worker.terminate().catch(() => {});
    if (this.db?.open) this.db.pragma('wal_autocheckpoint = 1000');
  }

  private async stopCheckpointer(): Promise<void> {
    const worker = this.checkpointer;
    if (worker === undefined) return;
    this.checkpointer = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    // It only has to close its connection; do not let a stuck worker hold up shutdown.
    const timer = setTimeout(() => void worker.terminate().catch(() => {}), 2000);
    await exited;
    clearTimeout(timer);
    // It answered what it was asked before 'stop'; anything else is counted here.
    this.failStatsAsked();
  }

  async enqueue(project: string, events: IngestEvent[] | PackedEvents, options: EnqueueOptions): Promise<EnqueueResult> {
    const now = Math.trunc(options.now);
    const window = Math.max(0, options.dedupWindowMs);
    if (this.enqueuer !== undefined && !this.enqueuer.failed) {
      this.use('enqueue');
      return this.enqueuer.enqueue(project, events, now, window);
    }
    if (this.dedup === undefined && this.db !== undefined) {
      // Load the index from the log now, in a read, not in the batch's write transaction: a
      // `replay` beside a running server must not hold the write lock while it reads every key.
      try {
        const dedup = new SqliteDedup(this.db);
        dedup.catchUp();
        this.dedup = dedup;
      } catch {
        // The batch makes it again and reports the failure to this call.
      }
    }
    return this.batch<EnqueueResult>('enqueue', (resolve, reject) => ({ kind: 'enqueue', project, events, now, window, resolve, reject }));
  }

  async claim(destination: string, limit: number, now: number, leaseMs: number, options?: ClaimOptions): Promise<QueueItem[]> {
    const n = Math.trunc(limit);
    if (n <= 0) return [];
    const at = Math.trunc(now);
    const token = newLeaseToken();
    // A delivering server (never `replay` or `dlq`) moves checkpoints and enqueues to worker threads.
    if (this.walPath !== undefined && this.db) {
      if (this.checkpointer === undefined && this.checkpointInWorker) this.startCheckpointer();
      if (this.enqueuer === undefined && this.enqueueInWorker) this.startEnqueuer();
    }
    const params = { destination, now: at, token, leaseUntil: at + Math.trunc(leaseMs), limit: n, withEvent: options?.event !== false };
    const giveUpAt = Date.now() + this.busyTimeoutMs;
    for (;;) {
      // Batched calls still waiting go first, in the same transaction: one commit instead of two.
      const ops = this.pending;
      this.pending = [];
      this.cancelSettleTimer();
      const retryable = this.lockWait === 'yield' && Date.now() < giveUpAt;
      const rows = this.commitWith(ops, 'claim', (db, st, results, failures) => this.claimTx!.immediate(db, st, ops, results, failures, params), retryable)!;
      if (rows === BUSY) {
        // The enqueue worker is committing: serve the event loop and try again in a moment.
        this.requeue(ops);
        await sleep(LOCK_RETRY_MS);
        continue;
      }
      if (!Array.isArray(rows)) throw unavailable('claim', rows.failed);
      // Already in run_at, then enqueue order (claimRows leases them in the SELECT's order).
      return rows;
    }
  }

  /** Batched with the other settles and enqueues of this event-loop turn (see `flush`). */
  async complete(item: SettleRef): Promise<boolean> {
    const id = rowId(item.id);
    if (id === undefined) return false;
    const token = item.leaseToken;
    return this.batch<boolean>('complete', (resolve, reject) => ({ kind: 'complete', id, token, resolve, reject }));
  }

  /** Many rows at once, in one IMMEDIATE transaction (see `Queue.completeMany`). */
  async completeMany(items: SettleRef[]): Promise<boolean[]> {
    if (items.length === 0) return this.run('completeMany', () => []);
    return this.run(
      'completeMany',
      (db, st) =>
        db
          .transaction(() =>
            items.map((item) => {
              const id = rowId(item.id);
              // A row named twice: the first DELETE takes it, the second finds nothing.
              return id !== undefined && completeRow(st, id, item.leaseToken);
            }),
          )
          .immediate(),
      'NORMAL',
    );
  }

  async retry(item: SettleRef, runAt: number, attempt: { at: number; status: number | null; error: string }): Promise<boolean> {
    const id = rowId(item.id);
    if (id === undefined) return false;
    const params = { id, token: item.leaseToken, runAt: Math.trunc(runAt), at: Math.trunc(attempt.at), status: attempt.status, error: attempt.error };
    // Batched with the other settles and enqueues of this event-loop turn (see `flush`).
    return this.batch<boolean>('retry', (resolve, reject) => ({ kind: 'retry', params, resolve, reject }));
  }

  async release(items: SettleRef[], runAt?: number): Promise<void> {
    if (items.length === 0) return;
    const next = runAt === undefined ? null : Math.trunc(runAt);
    this.run('release', (db, st) => {
      db.transaction(() => {
        for (const item of items) {
          const id = rowId(item.id);
          if (id !== undefined && st.dropLease.run(id, item.leaseToken).changes === 1 && next !== null) st.reschedule.run(next, id);
        }
      }).immediate();
    }, 'NORMAL');
  }

  /**
   * Batched with the settles and enqueues of this event-loop turn, like `complete` (see `flush`):
   * a destination that rejects every event dead-letters one row per answer, and one transaction
   * per row cost the event loop about four times a delivery.
   */
  async deadLetter(item: SettleRef, dead: DeadLetterInput): Promise<boolean> {
    const id = rowId(item.id);
    if (id === undefined) return false;
    const token = item.leaseToken;
    const values = deadLetterValues(dead, Date.now());
    return this.batch<boolean>('deadLetter', (resolve, reject) => ({ kind: 'deadLetter', id, token, values, resolve, reject }));
  }

  /**
   * Counts the backlog per destination. In a delivering server (once the checkpoint worker runs)
   * the counting happens on that worker's connection, off the event loop: it reads the whole
   * claim index, about 20 ms per 200,000 queued rows, and `/status` and every `/metrics` scrape
   * ask for it. Calls made before it are committed first, as for every direct call.
   */
  async stats(now: number): Promise<Record<string, DestinationQueueStats>> {
    const at = Math.trunc(now);
    const worker = this.checkpointer;
    if (worker !== undefined) {
      this.run('stats', () => undefined, 'NORMAL');
      try {
        return statsFromRows(await this.statsInWorker(worker, at));
      } catch {
        // The worker stopped or could not read: count here, as without it.
      }
    }
    return this.run('stats', (db, st) =>
      db.transaction(() => statsFromRows({ queued: st.statsQueued.all(), leased: st.statsLeased.all(at), dead: st.statsDead.all() }))(),
    );
  }

  private statsInWorker(worker: Worker, now: number): Promise<StatsRows> {
    const id = this.nextStatsId++;
    return new Promise<StatsRows>((resolve, reject) => {
      this.statsAsked.set(id, { resolve, reject });
      worker.postMessage({ stats: id, now });
    });
  }

  /** The checkpoint worker is gone: its unanswered `stats` calls count on the event loop instead. */
  private failStatsAsked(): void {
    const asked = [...this.statsAsked.values()];
    this.statsAsked.clear();
    for (const a of asked) a.reject(new Error('checkpoint worker stopped'));
  }

  async listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const where = deadLetterWhere(filter);
    if (!where) return [];
    return this.run('listDeadLetters', (db) =>
      (db.prepare(`SELECT * FROM dead_letters WHERE ${where.sql} ORDER BY id${deadLetterLimitSql(filter)}`).all(...where.params) as DeadLetterRow[]).map(
        toDeadLetter,
      ),
    );
  }

  async getDeadLetter(id: string): Promise<DeadLetter | null> {
    const rid = rowId(id);
    if (rid === undefined) return null;
    return this.run('getDeadLetter', (_db, st) => {
      const row = st.getDeadLetter.get(rid);
      return row ? toDeadLetter(row) : null;
    });
  }

  async deleteDeadLetters(filter: DeadLetterFilter = {}): Promise<number> {
    const where = deadLetterWhere(filter);
    if (!where) return 0;
    const limit = deadLetterLimitSql(filter);
    return this.run('deleteDeadLetters', (db) => {
      const sql = limit
        ? `DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE ${where.sql} ORDER BY id${limit})`
        : `DELETE FROM dead_letters WHERE ${where.sql}`;
      return db.prepare(sql).run(...where.params).changes;
    });
  }

  /** The index of the connection that enqueues: the worker's in a server, else this one's. */
  dedupIndex(): DedupIndexSize | undefined {
    if (this.enqueuer !== undefined && !this.enqueuer.failed) return this.enqueuer.dedupIndex;
    return this.dedup === undefined ? undefined : { keys: this.dedup.size, bytes: this.dedup.bytes };
  }

  /**
   * Forgets the insert_ids first seen before `before`, in every connection's index (through the
   * `dedup_pruned` watermark), and deletes their log rows: those before the first row seen since
   * (the log is in commit order), but never the newest, so `seq` never goes back.
   *
   * The watermark moves first, in one small transaction, so every index forgets the keys at once.
   * The first row to keep is then searched for, and the rows before it deleted, `PRUNE_CHUNK_ROWS`
   * at a time with the event loop served in between: a server takes in about 600,000 keys per
   * 10-minute prune at 1,000 events/s, and one transaction for all of it held the event loop for
   * 143 ms (199 ms without the checkpoint worker) on the 2-core VM. Rows logged meanwhile come after the ones searched (`seq` only grows) and were
   * first seen after `before`, so they are kept.
   */
  async pruneDedup(before: number): Promise<number> {
    const at = Math.trunc(before);
    const bounds = this.run('pruneDedup', (db, st) =>
      db
        .transaction(() => {
          st.raisePruned.run(at);
          return st.loggedRange.get();
        })
        .immediate(),
    );
    if (bounds === undefined || bounds.last === null) return 0;
    let keepFrom: number = bounds.last;
    for (let from = bounds.first!; from <= bounds.last; from += PRUNE_CHUNK_ROWS) {
      const found = this.run('pruneDedup', (_db, st) => st.firstLoggedSinceIn.get(from, from + PRUNE_CHUNK_ROWS, at));
      if (found !== undefined) {
        keepFrom = Math.min(found, bounds.last);
        break;
      }
      await nextTurn();
    }
    let deleted = 0;
    for (;;) {
      // Each chunk deletes at least the oldest row left below `keepFrom`, if any.
      const n = this.run('pruneDedup', (_db, st) => st.pruneLogChunk.run(keepFrom, PRUNE_CHUNK_ROWS).changes);
      if (n === 0) return deleted;
      deleted += n;
      await nextTurn();
    }
  }

  async close(): Promise<void> {
    // Calls already made are answered (committed, and synced) before the connection goes.
    this.setLockWait('block');
    if (this.db && this.pending.length > 0) this.flush();
    while (this.syncing !== undefined) await this.syncing;
    const enqueuer = this.enqueuer;
    this.enqueuer = undefined;
    await enqueuer?.stop();
    await this.stopCheckpointer();
    this.closed = true;
    const db = this.db;
    this.db = undefined;
    this.st = undefined;
    this.batchTx = this.enqueueTx = this.claimTx = undefined;
    this.dedup = undefined;
    if (db?.open) {
      try {
        db.close();
      } catch (err) {
        throw unavailable('close', err);
      }
    }
  }
}

const INSERT_DELIVERY_SQL =
  'INSERT INTO deliveries (destination, project, insert_id, path, body, event, enqueued_at, run_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';

/** The claim's scan, reading the event's column or, when the claim does not need it, NULL in its place. */
const claimDueSql = (event: 'd.event' | 'NULL'): string => `SELECT d.id, d.destination, d.project, d.insert_id, d.path, d.body, ${event}, d.attempts, d.enqueued_at, d.first_attempt_at
  FROM deliveries d
  WHERE d.destination = ? AND d.run_at <= ?
    AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.id = d.id AND l.until > ?)
  ORDER BY d.run_at, d.id
  LIMIT `;
/** Distinct claim sizes that get a statement of their own; beyond that, `LIMIT ?`. */
const CLAIM_DUE_CACHED_LIMITS = 256;

/**
 * The due-row scan: up to `limit` rows of `destination` due at `now` and not under a live
 * lease, oldest first. One prepared statement per claim size, with the size as a literal:
 * SQLite lets the planner use a bound LIMIT's value, so every new binding of `LIMIT ?`
 * (better-sqlite3 binds afresh on each call) re-prepares the statement. Measured 3.3 µs per call
 * against 0.4 µs with a literal, and the parse and plan showed in `serve`'s profile of claims.
 * Claim sizes take a handful of values (they follow the destination's concurrency), so the cache
 * stays small; past its bound, the bound-LIMIT statement does the same, only slower.
 */
function claimDueScan(db: Database.Database): (destination: string, now: number, limit: number, withEvent: boolean) => LeasedRowValues[] {
  type Scan = Database.Statement<[string, number, number], LeasedRowValues>;
  type AnyLimitScan = Database.Statement<[string, number, number, number], LeasedRowValues>;
  // With and without the event's column: one cache each.
  const flavours = (['d.event', 'NULL'] as const).map((event) => ({
    sql: claimDueSql(event),
    byLimit: new Map<number, Scan>(),
    anyLimit: undefined as AnyLimitScan | undefined,
  }));
  return (destination, now, limit, withEvent) => {
    const flavour = flavours[withEvent ? 0 : 1]!;
    const n = Math.max(0, Math.trunc(limit));
    let scan = flavour.byLimit.get(n);
    if (scan === undefined) {
      if (flavour.byLimit.size >= CLAIM_DUE_CACHED_LIMITS) {
        flavour.anyLimit ??= db.prepare(`${flavour.sql}?`).raw() as unknown as AnyLimitScan;
        return flavour.anyLimit.all(destination, now, now, n);
      }
      scan = db.prepare(`${flavour.sql}${n}`).raw() as unknown as Scan;
      flavour.byLimit.set(n, scan);
    }
    return scan.all(destination, now, now);
  };
}

/**
 * `stats` in three statements that never read a delivery row whole nor scan the dead letters:
 * every queued row counted and the oldest found from the claim index (`deliveries_due` covers
 * destination and enqueued_at), the live leases (a few per in-flight request) looked up from the
 * small `leases` table (CROSS JOIN keeps it the outer loop), and the dead letters from the
 * counts their triggers keep (schema version 5). Exported for the test that checks the plans.
 */
export const SQLITE_STATS_SQL = {
  queued: 'SELECT destination, COUNT(*) AS queued, MIN(enqueued_at) AS oldest FROM deliveries GROUP BY destination',
  leased: 'SELECT d.destination, COUNT(*) AS leased FROM leases l CROSS JOIN deliveries d ON d.id = l.id WHERE l.until > ? GROUP BY d.destination',
  dead: 'SELECT destination, dead FROM dead_letter_counts WHERE dead > 0',
} as const;

/** `stats`' answer from the rows of the three `SQLITE_STATS_SQL` queries. */
function statsFromRows(rows: StatsRows): Record<string, DestinationQueueStats> {
  const out: Record<string, DestinationQueueStats> = Object.create(null);
  const entry = (name: string): DestinationQueueStats => (out[name] ??= { pending: 0, leased: 0, deadLetters: 0, oldestEnqueuedAt: null });
  for (const row of rows.queued) {
    const e = entry(row.destination);
    e.pending = row.queued;
    e.oldestEnqueuedAt = row.oldest;
  }
  for (const row of rows.leased) {
    const e = entry(row.destination);
    e.leased = row.leased;
    e.pending -= row.leased;
  }
  for (const row of rows.dead) entry(row.destination).deadLetters = row.dead;
  return out;
}

function prepare(db: Database.Database): Statements {
  return {
    insertDelivery: db.prepare(INSERT_DELIVERY_SQL),
    // Claim = read the due rows, then lease them one by one, in one transaction. A row under a
    // live lease is skipped by a look-up in the small `leases` table.
    claimDue: claimDueScan(db),
    // REPLACE: a lease that expired (its holder died or stalled) is taken over with a new token.
    lease: db.prepare('INSERT OR REPLACE INTO leases (id, token, until) VALUES (?, ?, ?)'),
    dropLease: db.prepare('DELETE FROM leases WHERE id = ? AND token = ?'),
    retry: db.prepare(`
      UPDATE deliveries
      SET run_at = @runAt, attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, @at),
          last_attempt_at = @at, last_status = @status, last_error = @error
      WHERE id = @id`),
    reschedule: db.prepare('UPDATE deliveries SET run_at = ? WHERE id = ?'),
    takeForDeadLetter: db.prepare(
      `SELECT d.id, d.destination, d.project, d.insert_id, d.path, d.body, d.event, d.attempts, d.enqueued_at, d.run_at, d.first_attempt_at
       FROM deliveries d JOIN leases l ON l.id = d.id WHERE d.id = ? AND l.token = ?`,
    ),
    deleteDelivery: db.prepare('DELETE FROM deliveries WHERE id = ?'),
    insertDeadLetter: db.prepare(`
      INSERT INTO dead_letters (id, destination, project, insert_id, event, request, reason, http_status, extole_code,
        extole_message, attempts, first_attempt_at, last_attempt_at, config_revision, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    statsQueued: db.prepare(SQLITE_STATS_SQL.queued),
    statsLeased: db.prepare(SQLITE_STATS_SQL.leased),
    statsDead: db.prepare(SQLITE_STATS_SQL.dead),
    getDeadLetter: db.prepare('SELECT * FROM dead_letters WHERE id = ?'),
    raisePruned: db.prepare('UPDATE dedup_pruned SET pruned_before = max(pruned_before, ?)'),
    // The log is in commit order: scanning from its oldest row stops at the first one kept.
    firstLoggedSinceIn: db
      .prepare('SELECT seq FROM dedup_log WHERE seq >= ? AND seq < ? AND first_seen >= ? ORDER BY seq LIMIT 1')
      .pluck() as Database.Statement<[number, number, number], number>,
    // Two sub-selects: SQLite answers a lone min() or max() from the key's ends, both at once by a scan.
    loggedRange: db.prepare('SELECT (SELECT min(seq) FROM dedup_log) AS first, (SELECT max(seq) FROM dedup_log) AS last') as Database.Statement<
      [],
      { first: number | null; last: number | null }
    >,
    pruneLogChunk: db.prepare('DELETE FROM dedup_log WHERE seq < min(?, (SELECT min(seq) FROM dedup_log) + ?)'),
    synchronousFull: db.prepare('PRAGMA synchronous = FULL'),
    synchronousNormal: db.prepare('PRAGMA synchronous = NORMAL'),
  };
}

/** The body of a claim (inside its IMMEDIATE transaction): the due rows, leased, in run_at then id order. */
function claimRows(st: Statements, params: ClaimParams): QueueItem[] {
  // The scan reads whole rows: one statement instead of a look-up per row (about 2 µs a row
  // less of the event loop's time); the write lock has been held since it ran.
  const rows = st.claimDue(params.destination, params.now, params.limit, params.withEvent);
  const items: QueueItem[] = [];
  for (const row of rows) {
    st.lease.run(row[0], params.token, params.leaseUntil);
    items.push({
      id: String(row[0]),
      destination: row[1],
      project: row[2],
      insertId: row[3],
      path: row[4],
      body: row[5],
      // Always the same properties, so the items keep one shape.
      event: row[6] ?? undefined,
      attempts: row[7],
      enqueuedAt: row[8],
      firstAttemptAt: row[9],
      leaseToken: params.token,
      leaseUntil: params.leaseUntil,
    });
  }
  return items;
}

/** Rejected or expired: the row moves to the dead letters, if `token` still holds its lease. */
function deadLetterRow(st: Statements, id: number, token: string, values: ReturnType<typeof deadLetterValues>): boolean {
  const row = st.takeForDeadLetter.get(id, token);
  if (!row) return false;
  st.insertDeadLetter.run(row.id, row.destination, row.project, row.insert_id, row.event, ...values);
  st.dropLease.run(id, token);
  st.deleteDelivery.run(id);
  return true;
}

/** Delivered: the row goes, if `token` still holds its lease. */
function completeRow(st: Statements, id: number, token: string): boolean {
  if (st.dropLease.run(id, token).changes === 0) return false;
  st.deleteDelivery.run(id);
  return true;
}

/** WHERE clause for a dead-letter filter; undefined when it can match nothing (empty `ids`, a bad `afterId`). */
function deadLetterWhere(filter: DeadLetterFilter): { sql: string; params: unknown[] } | undefined {
  const clauses: string[] = ['1 = 1'];
  const params: unknown[] = [];
  if (filter.destination !== undefined) {
    clauses.push('destination = ?');
    params.push(filter.destination);
  }
  if (filter.reason !== undefined) {
    clauses.push('reason = ?');
    params.push(filter.reason);
  }
  if (filter.ids !== undefined) {
    const ids = filter.ids.map(rowId).filter((id): id is number => id !== undefined);
    if (ids.length === 0) return undefined;
    clauses.push('id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(ids));
  }
  if (filter.afterId !== undefined) {
    const after = rowId(filter.afterId);
    if (after === undefined) return undefined;
    clauses.push('id > ?');
    params.push(after);
  }
  return { sql: clauses.join(' AND '), params };
}

/**
 * fsync a file or folder by path. A WAL that no longer exists was checkpointed into the database
 * file (which the checkpoint synced) and removed: nothing of it is left to flush.
 */
async function fsyncPath(target: string): Promise<void> {
  let file;
  try {
    file = await openFile(target, 'r');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return;
    throw err;
  }
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

function unavailable(op: string, err: unknown): QueueUnavailableError {
  return queueUnavailable('SQLite queue', op, err);
}
