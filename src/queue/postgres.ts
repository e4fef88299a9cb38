/**
 * The shared queue driver: PostgreSQL via `pg`. Many `serve` processes on many machines claim
 * from one set of tables with `FOR UPDATE SKIP LOCKED`; a crashed worker's leases run out and
 * its rows go to the others.
 *
 * Table layout, migrations and semantics are described in docs/queue.md.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { ConfigError, QueueUnavailableError } from '../errors.js';
import type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterInput,
  DestinationQueueStats,
  EnqueueOptions,
  EnqueueResult,
  IngestEvent,
  Queue,
  QueueItem,
} from './types.js';
import { deadLetterLimitSql, deadLetterValues, isQueueId, newLeaseToken, queueUnavailable, toDeadLetter, toQueueItem } from './common.js';
import type { DeadLetterRowOf, DeliveryRowOf, SettleRef } from './common.js';
import { ingestEventsOf, type PackedEvents } from './packed.js';

export interface PostgresQueueOptions {
  /** Connection URL, e.g. `postgres://user:pass@host:5432/db`. Never logged. */
  url: string;
  /** Schema that holds the queue tables; created when missing. Default `extole_stream`. */
  schema?: string;
  /**
   * Connections in the main pool (ingestion, reads). Default 10 (`queue.pool_size`). The settle
   * pool gets half as many, at least 2; `onEnqueued` listeners use one more, outside both.
   */
  poolSize?: number;
  /**
   * At most one enqueue notice per destination per this many ms from this process (NOTIFY takes
   * a database-wide lock at commit; the enqueuing server wakes its own workers anyway, so notices
   * only spread the work to idle peers). Default 100 ms; 0 = a notice after every enqueue.
   */
  notifyIntervalMs?: number;
  /** How long to wait for a free or new connection before failing with QueueUnavailableError. Default 10 s. */
  connectTimeoutMs?: number;
}

/** Same rule as the config schema's `queue.schema`, plus PostgreSQL's 63-byte identifier limit. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Versioned migrations. Each runs in its own transaction that first takes a transaction-level
 * advisory lock for the schema, so servers starting at once apply each version exactly once.
 * `s` is the quoted schema name. Never edit a shipped migration; append a new one.
 */
const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: (s: string) => string }> = [
  {
    version: 1,
    name: 'deliveries, dead letters, dedup',
    sql: (s) => `
      CREATE TABLE ${s}.deliveries (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        destination      text    NOT NULL,
        project          text    NOT NULL,
        insert_id        text,
        path             text    NOT NULL,
        body             text    NOT NULL, -- text, not jsonb: bytes are kept exactly
        event            text    NOT NULL,
        attempts         integer NOT NULL DEFAULT 0,
        enqueued_at      bigint  NOT NULL, -- epoch ms
        run_at           bigint  NOT NULL,
        first_attempt_at bigint,
        last_attempt_at  bigint,
        last_status      integer,
        last_error       text,
        lease_token      text,
        lease_until      bigint
      );
      CREATE INDEX deliveries_due ON ${s}.deliveries (destination, run_at, id);

      CREATE TABLE ${s}.dead_letters (
        id               bigint  PRIMARY KEY, -- the delivery's id
        destination      text    NOT NULL,
        project          text    NOT NULL,
        insert_id        text,
        event            text    NOT NULL,
        request          text    NOT NULL,
        reason           text    NOT NULL,
        http_status      integer,
        extole_code      text,
        extole_message   text,
        attempts         integer NOT NULL,
        first_attempt_at bigint  NOT NULL,
        last_attempt_at  bigint  NOT NULL,
        config_revision  text    NOT NULL,
        created_at       bigint  NOT NULL
      );
      CREATE INDEX dead_letters_destination ON ${s}.dead_letters (destination, id);

      CREATE TABLE ${s}.dedup (
        project    text   NOT NULL,
        insert_id  text   NOT NULL,
        first_seen bigint NOT NULL,
        PRIMARY KEY (project, insert_id)
      );
      CREATE INDEX dedup_first_seen ON ${s}.dedup (first_seen);`,
  },
];

/** SQLSTATEs worth one more try of the whole transaction. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

const ITEM_COLUMNS =
  'id, destination, project, insert_id, path, body, event, attempts, enqueued_at, run_at, first_attempt_at, lease_token, lease_until';

type DeliveryRow = DeliveryRowOf<string>;
type DeadLetterRow = DeadLetterRowOf<string>;

type Db = pg.Pool | pg.PoolClient;

/** Rows per settle statement: big enough to amortize the round trip, small enough for one packet train. */
const MAX_SETTLE_BATCH = 500;

/** A settle call waiting for its batch: the row, its values, and its caller. */
interface PendingSettle<V> {
  ref: SettleRef;
  values: V;
  resolve: (owned: boolean) => void;
  reject: (err: unknown) => void;
}

/** `retry`'s values: when the row runs again and what the attempt left. */
interface RetryValues {
  runAt: number;
  at: number;
  status: number | null;
  error: string;
}

/**
 * Group commit of one settle kind (`complete`, `retry`, `deadLetter`): calls that arrive while a
 * statement of that kind is on its way wait for it, then go together in the next one, while a
 * lone call goes at once. `send` runs one statement for up to MAX_SETTLE_BATCH of them and
 * answers, per `id token` pair, whether it was settled; each caller gets its own row's answer.
 */
class SettleBatch<V> {
  private waiting: PendingSettle<V>[] = [];
  /** The running flush, if any. */
  flushing: Promise<void> | null = null;

  constructor(
    private readonly op: string,
    private readonly send: (items: PendingSettle<V>[]) => Promise<Set<string>>,
  ) {}

  add(ref: SettleRef, values: V): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.waiting.push({ ref: { id: ref.id, leaseToken: ref.leaseToken }, values, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Calls made in the same tick as the first join its batch.
    await Promise.resolve();
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_SETTLE_BATCH);
      // A row named twice with the same token is settled by its first mention only.
      const first = new Map<string, PendingSettle<V>>();
      for (const item of batch) {
        const key = `${item.ref.id} ${item.ref.leaseToken}`;
        if (!first.has(key)) first.set(key, item);
      }
      try {
        const settled = await this.send([...first.values()]);
        for (const item of batch) {
          const key = `${item.ref.id} ${item.ref.leaseToken}`;
          item.resolve(first.get(key) === item && settled.has(key));
        }
      } catch (err) {
        const error = unavailable(this.op, err);
        for (const item of batch) item.reject(error);
      }
    }
    // Synchronous with the loop's last check: no call can slip in between.
    this.flushing = null;
  }
}

/** Default size of the main connection pool (`queue.pool_size`). */
export const DEFAULT_POOL_SIZE = 10;

/** Queue on PostgreSQL tables in one schema; several processes may share it. */
export class PostgresQueue implements Queue {
  readonly driver = 'postgres' as const;
  readonly schema: string;
  /** Connections in the main pool (`poolSize`, default 10). */
  readonly poolSize: number;
  /** Connections in the settle pool: half of `poolSize`, at least 2. */
  readonly settlePoolSize: number;
  /** Ingestion, reads, dead-letter tools: commits wait for the WAL flush (the server's default). */
  private readonly pool: pg.Pool;
  /**
   * Lease bookkeeping (claim, complete, retry, release, deadLetter): `synchronous_commit=off`,
   * see the constructor.
   */
  private readonly settlePool: pg.Pool;
  private readonly t: { deliveries: string; deadLetters: string; dedup: string; migrations: string; schema: string };
  private opened = false;
  private closed = false;
  /** Settle calls, group-committed per kind (see `SettleBatch`). */
  private readonly completeBatch = new SettleBatch<undefined>('complete', async (items) => {
    const owned = await this.deleteLeased(items.map((i) => i.ref));
    return new Set(items.filter((_, k) => owned[k]).map((i) => `${i.ref.id} ${i.ref.leaseToken}`));
  });
  private readonly retryBatch = new SettleBatch<RetryValues>('retry', (items) => this.retryLeased(items));
  private readonly deadLetterBatch = new SettleBatch<DeadLetterInput & { createdAt: number }>('deadLetter', (items) => this.deadLetterLeased(items));
  /** NOTIFY channel of this schema (LISTEN/NOTIFY channels are database-wide). */
  private readonly channel: string;
  private readonly notifyIntervalMs: number;
  /** Last notice sent per destination (epoch ms, wall clock). */
  private readonly lastNotice = new Map<string, number>();
  private readonly enqueueListeners = new Set<(destination: string) => void>();
  /** The dedicated LISTEN connection, while listeners exist. */
  private listener: { client: pg.Client; ready: Promise<void> } | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private readonly url: string;

  constructor(options: PostgresQueueOptions) {
    const schema = options.schema ?? 'extole_stream';
    if (!SCHEMA_NAME.test(schema)) {
      throw new ConfigError(`queue.schema must be a lower-case SQL identifier (a-z, 0-9, _; at most 63 characters), got ${JSON.stringify(schema)}`);
    }
    this.schema = schema;
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw new ConfigError(`queue.pool_size must be a positive integer, got ${JSON.stringify(poolSize)}`);
    }
    this.poolSize = poolSize;
    this.settlePoolSize = Math.max(2, Math.ceil(poolSize / 2));
    const s = `"${schema}"`;
    this.t = {
      schema: s,
      deliveries: `${s}.deliveries`,
      deadLetters: `${s}.dead_letters`,
      dedup: `${s}.dedup`,
      migrations: `${s}.schema_migrations`,
    };
    this.url = options.url;
    // Channel names are identifiers (at most 63 bytes): long schema names go by a digest.
    const plain = `extole_stream_${schema}`;
    this.channel = plain.length <= 63 ? plain : `extole_stream_${createHash('sha256').update(schema).digest('hex').slice(0, 32)}`;
    this.notifyIntervalMs = Math.max(0, options.notifyIntervalMs ?? 100);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: this.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: 'extole-stream',
    });
    // Settle calls commit asynchronously (`synchronous_commit=off`): the commit returns before
    // its WAL reaches the disk. A database crash can lose the last fraction of a second of them,
    // which only brings rows back for another delivery (a duplicate, allowed after a crash; the
    // same trade as the SQLite driver's synchronous=NORMAL), never an event: enqueue commits
    // stay synchronous on `pool`, and the WAL is sequential, so a later synchronous commit also
    // flushes every asynchronous one before it. It spares one WAL flush per claim and per
    // completed batch.
    this.settlePool = new pg.Pool({
      connectionString: options.url,
      max: this.settlePoolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: 'extole-stream',
      options: '-c synchronous_commit=off',
    });
    // An idle connection that breaks (server restart, network) must not crash the process: the
    // pool drops it and the next query opens a new one.
    this.pool.on('error', () => {});
    this.settlePool.on('error', () => {});
  }

  /** Creates the schema when missing and applies pending migrations, one transaction each. */
  async open(): Promise<void> {
    if (this.closed) throw new QueueUnavailableError('PostgreSQL queue: already closed');
    if (this.opened) return;
    try {
      for (const migration of MIGRATIONS) {
        await this.transaction(async (c) => {
          // Serializes every server opening this schema; released at commit/rollback.
          await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`extole-stream migrate ${this.schema}`]);
          await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.t.schema}`);
          await c.query(
            `CREATE TABLE IF NOT EXISTS ${this.t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
          );
          const done = await c.query('SELECT 1 FROM ' + this.t.migrations + ' WHERE version = $1', [migration.version]);
          if (done.rowCount) return;
          await c.query(migration.sql(this.t.schema));
          await c.query(`INSERT INTO ${this.t.migrations} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
        });
      }
      this.opened = true;
    } catch (err) {
      throw unavailable('open', err);
    }
  }

  private check(op: string): void {
    if (this.closed || !this.opened) {
      throw new QueueUnavailableError(`PostgreSQL queue: ${op} on a queue that is ${this.closed ? 'closed' : 'not open'}`);
    }
  }

  /** Runs `fn` in a transaction, retrying a deadlock or serialization failure a few times. */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone; do not return it to the pool
        }
        if (attempt < 4 && RETRYABLE.has((err as { code?: string }).code ?? '')) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * Runs one operation, turning every driver failure into QueueUnavailableError. `settle` ops
   * (lease bookkeeping) run on the asynchronous-commit pool.
   */
  private async run<T>(op: string, fn: (db: Db) => Promise<T>, pool: 'main' | 'settle' = 'main'): Promise<T> {
    this.check(op);
    try {
      return await fn(pool === 'settle' ? this.settlePool : this.pool);
    } catch (err) {
      throw unavailable(op, err);
    }
  }

  async enqueue(project: string, rows: IngestEvent[] | PackedEvents, options: EnqueueOptions): Promise<EnqueueResult> {
    this.check('enqueue');
    const events = ingestEventsOf(rows);
    const now = Math.trunc(options.now);
    const window = Math.max(0, Math.trunc(options.dedupWindowMs));
    // Repeats inside the request are settled here (first one wins); the database settles repeats
    // of earlier requests. A single INSERT … ON CONFLICT cannot touch one key twice anyway.
    const firstSeen = new Set<string>();
    const candidates: { event: IngestEvent; index: number }[] = [];
    const repeatsInRequest: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.insertId !== null && window > 0) {
        const key = storedText(event.insertId);
        if (firstSeen.has(key)) {
          repeatsInRequest.push(i);
          continue;
        }
        firstSeen.add(key);
      }
      candidates.push({ event, index: i });
    }
    // Sorted keys: concurrent requests lock dedup rows in the same order (no deadlocks).
    const keys = [...firstSeen].sort();
    const cols: { destination: string[]; insertId: (string | null)[]; path: string[]; body: string[]; event: string[] } = {
      destination: [],
      insertId: [],
      path: [],
      body: [],
      event: [],
    };
    try {
      const result = await this.transaction(async (c) => {
        for (const column of Object.values(cols)) column.length = 0; // a retried transaction starts over
        let fresh: Set<string> | undefined;
        if (keys.length > 0) {
          // Inserted (new) or refreshed (last seen before the window) rows come back; a key
          // seen within the window matches the conflict but fails the WHERE: a duplicate.
          const res = await c.query<{ insert_id: string }>(
            `INSERT INTO ${this.t.dedup} AS d (project, insert_id, first_seen)
             SELECT $1::text, k, $2::bigint FROM unnest($3::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n
             ON CONFLICT (project, insert_id) DO UPDATE SET first_seen = EXCLUDED.first_seen
             WHERE d.first_seen <= $4::bigint
             RETURNING insert_id`,
            [project, now, keys, now - window],
          );
          fresh = new Set(res.rows.map((r) => r.insert_id));
        }
        const result: EnqueueResult = { accepted: 0, duplicates: 0, deliveries: 0 };
        const duplicateIndexes = [...repeatsInRequest];
        for (const { event, index } of candidates) {
          if (event.insertId !== null && window > 0 && !fresh!.has(storedText(event.insertId))) {
            duplicateIndexes.push(index);
            continue;
          }
          result.accepted++;
          for (const d of event.deliveries) {
            cols.destination.push(d.destination);
            cols.insertId.push(event.insertId);
            cols.path.push(d.path);
            cols.body.push(d.body);
            cols.event.push(event.event);
          }
        }
        if (cols.destination.length > 0) {
          // One statement for the whole request; ORDER BY keeps ids in input order.
          const res = await c.query(
            `INSERT INTO ${this.t.deliveries} (destination, project, insert_id, path, body, event, enqueued_at, run_at)
             SELECT destination, $1::text, insert_id, path, body, event, $2::bigint, $2::bigint
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  WITH ORDINALITY AS u(destination, insert_id, path, body, event, n)
             ORDER BY n`,
            [project, now, cols.destination, cols.insertId, cols.path, cols.body, cols.event],
          );
          result.deliveries = res.rowCount ?? cols.destination.length;
        }
        if (duplicateIndexes.length > 0) {
          result.duplicates = duplicateIndexes.length;
          result.duplicateIndexes = duplicateIndexes.sort((x, y) => x - y);
        }
        return result;
      });
      if (result.deliveries > 0) this.notifyEnqueued(cols.destination);
      return result;
    } catch (err) {
      throw unavailable('enqueue', err);
    }
  }

  /**
   * Tells the other servers (their `onEnqueued` listeners) which destinations got rows. After the
   * commit, outside the ingest transaction and not awaited: the sender's 200 never waits for it,
   * and a lost notice only means the peers find the rows at their next poll.
   */
  private notifyEnqueued(destinations: readonly string[]): void {
    const now = Date.now();
    const due: string[] = [];
    for (const d of new Set(destinations)) {
      const last = this.lastNotice.get(d);
      if (last !== undefined && now - last < this.notifyIntervalMs) continue;
      this.lastNotice.set(d, now);
      due.push(d);
    }
    if (due.length === 0 || this.closed) return;
    // NOTIFY payloads are limited to 8000 bytes; destination names are short kebab-case.
    this.settlePool.query('SELECT pg_notify($1, d) FROM unnest($2::text[]) AS d', [this.channel, due]).catch(() => {
      for (const d of due) this.lastNotice.delete(d); // try again with the next enqueue
    });
  }

  /**
   * Subscribes to enqueue notices from every process on this schema (LISTEN on a dedicated
   * connection, opened with the first listener and reconnected after a failure).
   */
  onEnqueued(listener: (destination: string) => void): () => void {
    this.enqueueListeners.add(listener);
    if (!this.closed) this.listen();
    return () => {
      this.enqueueListeners.delete(listener);
      if (this.enqueueListeners.size === 0) this.unlisten();
    };
  }

  /** Resolves once the LISTEN connection is up (tests; the server need not wait). */
  async listening(): Promise<void> {
    await this.listener?.ready;
  }

  private listen(): void {
    if (this.listener || this.closed) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'extole-stream listen' });
    const retry = (): void => {
      if (this.listener?.client !== client) return;
      this.listener = undefined;
      client.end().catch(() => {});
      if (this.closed || this.enqueueListeners.size === 0) return;
      // A broken connection: listen again soon. Meanwhile idle polls keep delivery going.
      this.listenRetry = setTimeout(() => this.listen(), 1000);
      this.listenRetry.unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || msg.payload === undefined) return;
      for (const fn of [...this.enqueueListeners]) {
        try {
          fn(msg.payload);
        } catch {
          // A listener's failure is its own; the others still hear about the rows.
        }
      }
    });
    const ready = (async () => {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    })();
    ready.catch(retry);
    this.listener = { client, ready: ready.catch(() => {}) };
  }

  private unlisten(): void {
    clearTimeout(this.listenRetry);
    const current = this.listener;
    this.listener = undefined;
    if (current) void current.ready.then(() => current.client.end()).catch(() => {});
  }

  async claim(destination: string, limit: number, now: number, leaseMs: number): Promise<QueueItem[]> {
    const n = Math.trunc(limit);
    this.check('claim');
    if (n <= 0) return [];
    const at = Math.trunc(now);
    return this.run('claim', async (db) => {
      const res = await db.query<DeliveryRow>(
        `WITH due AS (
           SELECT id FROM ${this.t.deliveries}
           WHERE destination = $1 AND run_at <= $2::bigint AND (lease_until IS NULL OR lease_until <= $2::bigint)
           ORDER BY run_at, id
           LIMIT $3
           FOR UPDATE SKIP LOCKED
         )
         UPDATE ${this.t.deliveries} AS q SET lease_token = $4, lease_until = $5
         FROM due WHERE q.id = due.id
         RETURNING ${ITEM_COLUMNS.split(', ').map((c) => `q.${c}`).join(', ')}`,
        [destination, at, n, newLeaseToken(), at + Math.trunc(leaseMs)],
      );
      // RETURNING order is unspecified; callers expect run_at, then enqueue order.
      const rows = res.rows.sort((a, b) => compareInt(a.run_at, b.run_at) || compareInt(a.id, b.id));
      return rows.map(toQueueItem);
    }, 'settle');
  }

  /**
   * Delivered: delete the row. Calls that arrive while a DELETE is already on its way are
   * group-committed: they wait for it, then go together in the next single
   * `DELETE … USING unnest(ids, tokens)` (one round trip and one commit for all of them), so
   * delivery with many requests in flight settles rows in batches without asking for it, while a
   * lone call still goes at once. Each caller gets its own row's answer.
   */
  async complete(item: SettleRef): Promise<boolean> {
    if (!isQueueId(item.id)) return this.run('complete', async () => false);
    this.check('complete');
    return this.completeBatch.add(item, undefined);
  }

  /** Many rows at once: one statement, one commit (see `Queue.completeMany`). */
  async completeMany(items: SettleRef[]): Promise<boolean[]> {
    return this.run('completeMany', () => this.deleteLeased(items));
  }

  /** DELETE the rows whose lease token still matches; true per item deleted by this call, in order. */
  private async deleteLeased(items: SettleRef[]): Promise<boolean[]> {
    const valid = items.filter((i) => isQueueId(i.id));
    const deleted = new Set<string>();
    for (let start = 0; start < valid.length; start += MAX_SETTLE_BATCH) {
      const part = valid.slice(start, start + MAX_SETTLE_BATCH);
      const res = await this.settlePool.query<{ id: string; lease_token: string }>(
        `DELETE FROM ${this.t.deliveries} AS q
         USING unnest($1::bigint[], $2::text[]) AS r(id, token)
         WHERE q.id = r.id AND q.lease_token = r.token
         RETURNING q.id, q.lease_token`,
        [part.map((i) => i.id), part.map((i) => i.leaseToken)],
      );
      for (const row of res.rows) deleted.add(`${row.id} ${row.lease_token}`);
    }
    // A row named twice is owned by its first mention only.
    return items.map((i) => isQueueId(i.id) && deleted.delete(`${i.id} ${i.leaseToken}`));
  }

  /**
   * Failed, to be tried again at `runAt`: the row's lease ends and the attempt is recorded.
   * Group-committed like `complete`: calls made while a batch is on its way go in the next
   * `UPDATE … FROM unnest(…)`, one round trip for all of them (a destination that Extole throttles
   * or that is down retries every request it sends).
   */
  async retry(item: SettleRef, runAt: number, attempt: { at: number; status: number | null; error: string }): Promise<boolean> {
    if (!isQueueId(item.id)) return this.run('retry', async () => false);
    this.check('retry');
    return this.retryBatch.add(item, { runAt: Math.trunc(runAt), at: Math.trunc(attempt.at), status: attempt.status, error: attempt.error });
  }

  /** One UPDATE for a batch of retries; the `id token` pairs it settled. */
  private async retryLeased(items: PendingSettle<RetryValues>[]): Promise<Set<string>> {
    const res = await this.settlePool.query<{ id: string; token: string }>(
      `UPDATE ${this.t.deliveries} AS q
       SET run_at = r.run_at, attempts = q.attempts + 1, first_attempt_at = COALESCE(q.first_attempt_at, r.at),
           last_attempt_at = r.at, last_status = r.status, last_error = r.error, lease_token = NULL, lease_until = NULL
       FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::integer[], $6::text[]) AS r(id, token, run_at, at, status, error)
       WHERE q.id = r.id AND q.lease_token = r.token
       RETURNING q.id, r.token`,
      [
        items.map((i) => i.ref.id),
        items.map((i) => i.ref.leaseToken),
        items.map((i) => i.values.runAt),
        items.map((i) => i.values.at),
        items.map((i) => i.values.status),
        items.map((i) => i.values.error),
      ],
    );
    return new Set(res.rows.map((row) => `${row.id} ${row.token}`));
  }

  async release(items: SettleRef[], runAt?: number): Promise<void> {
    const valid = items.filter((i) => isQueueId(i.id));
    await this.run('release', async (db) => {
      if (valid.length === 0) return;
      await db.query(
        `UPDATE ${this.t.deliveries} AS q
         SET run_at = COALESCE($3::bigint, q.run_at), lease_token = NULL, lease_until = NULL
         FROM unnest($1::bigint[], $2::text[]) AS r(id, token)
         WHERE q.id = r.id AND q.lease_token = r.token`,
        [valid.map((i) => i.id), valid.map((i) => i.leaseToken), runAt === undefined ? null : Math.trunc(runAt)],
      );
    }, 'settle');
  }

  /**
   * Rejected or expired: the row moves to the dead letters, if `item`'s token still holds its
   * lease. Group-committed like `complete` (a destination that Extole rejects dead-letters every
   * request it sends): one statement per batch, whose DELETE and INSERT commit together or not
   * at all.
   */
  async deadLetter(item: SettleRef, dead: DeadLetterInput): Promise<boolean> {
    if (!isQueueId(item.id)) return this.run('deadLetter', async () => false);
    this.check('deadLetter');
    return this.deadLetterBatch.add(item, { ...dead, createdAt: Date.now() });
  }

  /** One statement for a batch of dead letters; the `id token` pairs it moved. */
  private async deadLetterLeased(items: PendingSettle<DeadLetterInput & { createdAt: number }>[]): Promise<Set<string>> {
    const values = items.map((i) => deadLetterValues(i.values, i.values.createdAt));
    const column = (k: number) => values.map((v) => v[k]);
    const res = await this.settlePool.query<{ id: string; token: string }>(
      `WITH r AS (
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[],
                              $8::integer[], $9::bigint[], $10::bigint[], $11::text[], $12::bigint[])
           AS r(id, token, request, reason, http_status, extole_code, extole_message, attempts, first_attempt_at,
                last_attempt_at, config_revision, created_at)
       ), moved AS (
         DELETE FROM ${this.t.deliveries} AS q USING r WHERE q.id = r.id AND q.lease_token = r.token
         RETURNING q.id, q.lease_token, q.destination, q.project, q.insert_id, q.event
       ), inserted AS (
         INSERT INTO ${this.t.deadLetters} (id, destination, project, insert_id, event, request, reason, http_status,
           extole_code, extole_message, attempts, first_attempt_at, last_attempt_at, config_revision, created_at)
         SELECT m.id, m.destination, m.project, m.insert_id, m.event, r.request, r.reason, r.http_status, r.extole_code,
                r.extole_message, r.attempts, r.first_attempt_at, r.last_attempt_at, r.config_revision, r.created_at
         FROM moved m JOIN r ON r.id = m.id AND r.token = m.lease_token
         RETURNING id
       )
       SELECT m.id, m.lease_token AS token FROM moved m JOIN inserted i ON i.id = m.id`,
      [
        items.map((i) => i.ref.id),
        items.map((i) => i.ref.leaseToken),
        ...Array.from({ length: 10 }, (_, k) => column(k)),
      ],
    );
    return new Set(res.rows.map((row) => `${row.id} ${row.token}`));
  }

  async stats(now: number): Promise<Record<string, DestinationQueueStats>> {
    return this.run('stats', async (db) => {
      const res = await db.query<{ destination: string; pending: string; leased: string; dead: string; oldest: string | null }>(
        `SELECT destination, sum(pending) AS pending, sum(leased) AS leased, sum(dead) AS dead, min(oldest) AS oldest FROM (
           SELECT destination,
                  count(*) FILTER (WHERE lease_until IS NULL OR lease_until <= $1) AS pending,
                  count(*) FILTER (WHERE lease_until > $1) AS leased,
                  0 AS dead,
                  min(enqueued_at) AS oldest
           FROM ${this.t.deliveries} GROUP BY destination
           UNION ALL
           SELECT destination, 0, 0, count(*), NULL FROM ${this.t.deadLetters} GROUP BY destination
         ) AS s GROUP BY destination`,
        [Math.trunc(now)],
      );
      const out: Record<string, DestinationQueueStats> = Object.create(null);
      for (const row of res.rows) {
        out[row.destination] = {
          pending: Number(row.pending),
          leased: Number(row.leased),
          deadLetters: Number(row.dead),
          oldestEnqueuedAt: row.oldest === null ? null : Number(row.oldest),
        };
      }
      return out;
    });
  }

  async listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.run('listDeadLetters', async (db) => {
      const where = deadLetterWhere(filter);
      if (!where) return [];
      const res = await db.query<DeadLetterRow>(
        `SELECT * FROM ${this.t.deadLetters} WHERE ${where.sql} ORDER BY id${deadLetterLimitSql(filter)}`,
        where.params,
      );
      return res.rows.map(toDeadLetter);
    });
  }

  async getDeadLetter(id: string): Promise<DeadLetter | null> {
    return this.run('getDeadLetter', async (db) => {
      if (!isQueueId(id)) return null;
      const res = await db.query<DeadLetterRow>(`SELECT * FROM ${this.t.deadLetters} WHERE id = $1`, [id]);
      return res.rows[0] ? toDeadLetter(res.rows[0]) : null;
    });
  }

  async deleteDeadLetters(filter: DeadLetterFilter = {}): Promise<number> {
    return this.run('deleteDeadLetters', async (db) => {
      const where = deadLetterWhere(filter);
      if (!where) return 0;
      const limit = deadLetterLimitSql(filter);
      const sql = limit
        ? `DELETE FROM ${this.t.deadLetters} WHERE id IN (SELECT id FROM ${this.t.deadLetters} WHERE ${where.sql} ORDER BY id${limit})`
        : `DELETE FROM ${this.t.deadLetters} WHERE ${where.sql}`;
      return (await db.query(sql, where.params)).rowCount ?? 0;
    });
  }

  async pruneDedup(before: number): Promise<number> {
    return this.run('pruneDedup', async (db) => {
      const res = await db.query(`DELETE FROM ${this.t.dedup} WHERE first_seen < $1`, [Math.trunc(before)]);
      return res.rowCount ?? 0;
    });
  }

  /** Ends the pool (waits for checked-out connections to be released). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.enqueueListeners.clear();
    this.unlisten();
    try {
      // Settles already accepted still reach the database.
      await Promise.all([this.completeBatch.flushing, this.retryBatch.flushing, this.deadLetterBatch.flushing]);
      await Promise.all([this.pool.end(), this.settlePool.end()]);
    } catch (err) {
      throw unavailable('close', err);
    }
  }
}

/** WHERE clause for a dead-letter filter; undefined when it can match nothing (empty `ids`, a bad `afterId`). */
function deadLetterWhere(filter: DeadLetterFilter): { sql: string; params: unknown[] } | undefined {
  const clauses: string[] = ['TRUE'];
  const params: unknown[] = [];
  if (filter.destination !== undefined) {
    params.push(filter.destination);
    clauses.push(`destination = $${params.length}`);
  }
  if (filter.reason !== undefined) {
    params.push(filter.reason);
    clauses.push(`reason = $${params.length}`);
  }
  if (filter.ids !== undefined) {
    const ids = filter.ids.filter(isQueueId);
    if (ids.length === 0) return undefined;
    params.push(ids);
    clauses.push(`id = ANY($${params.length}::bigint[])`);
  }
  if (filter.afterId !== undefined) {
    if (!isQueueId(filter.afterId)) return undefined;
    params.push(filter.afterId);
    clauses.push(`id > $${params.length}::bigint`);
  }
  return { sql: clauses.join(' AND '), params };
}

/** Compares two non-negative decimal integer strings (bigint columns) without losing precision. */
function compareInt(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Wraps a driver failure. The message carries pg's text and SQLSTATE, never the connection URL
 * (pg's messages do not include it).
 */
function unavailable(op: string, err: unknown): QueueUnavailableError {
  return queueUnavailable('PostgreSQL queue', op, err);
}

/**
 * `text` as PostgreSQL gives it back: the driver sends UTF-8, in which a lone surrogate becomes
 * U+FFFD. De-duplication compares the keys it sent with the ones `RETURNING` gives back, so it
 * must compare these forms (an insert_id with a lone surrogate was otherwise never found among
 * the fresh keys, and its event was dropped as a repeat).
 */
function storedText(text: string): string {
  return (text as unknown as { toWellFormed(): string }).toWellFormed();
}
