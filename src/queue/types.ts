/**
 * The durable queue between ingestion and delivery. One interface, two drivers
 * (`sqlite.ts`, `postgres.ts`), one conformance suite (`test/queue/conformance.ts`).
 *
 * A queue row is one (event, destination) delivery. Ingestion transforms each event for every
 * destination and enqueues the resulting request bodies in ONE transaction per request, so a
 * 200 to the sender means every delivery is durable. Timestamps are epoch milliseconds and are
 * always passed in (`now`) so tests can inject a clock.
 */
import type { PackedEvents } from './packed.js';

export type { PackedEvents } from './packed.js';

/** One delivery of an event to one destination, as ingestion hands it over. */
export interface DeliveryInput {
  destination: string;
  /** Request path, e.g. `/v6/async-events`. Base URL and token come from the config at send time. */
  path: string;
  /** JSON of the Extole request body. */
  body: string;
}

/** One accepted event with the deliveries it produced (possibly none: all destinations dropped it). */
export interface IngestEvent {
  /** insert_id for de-duplication; null = never de-duplicated. */
  insertId: string | null;
  /** JSON of the normalized event (kept for dead letters and `dlq replay`). */
  event: string;
  deliveries: DeliveryInput[];
}

export interface EnqueueOptions {
  now: number;
  /** insert_ids seen for the same project within this many ms are counted but not enqueued. 0 disables. */
  dedupWindowMs: number;
}

export interface EnqueueResult {
  /** Events committed now (including those with no deliveries). */
  accepted: number;
  /** Events skipped as repeats of an insert_id already seen within the window. */
  duplicates: number;
  /**
   * Which events those were: indexes into the `events` given, ascending. Present exactly when
   * `duplicates` > 0 (so that ingestion counts drops, and the live view marks repeats, exactly).
   */
  duplicateIndexes?: number[];
  /** Delivery rows written. */
  deliveries: number;
}

/** Hints for `Queue.claim`. */
export interface ClaimOptions {
  /**
   * False: the caller does not need `QueueItem.event`, and the driver may leave it out. SQLite
   * does (the event's JSON, about 0.5 KB a row, is neither read nor turned into a string); the
   * PostgreSQL driver returns it anyway. Default true.
   */
  event?: boolean;
}

/** A claimed delivery. `leaseToken` fences it: only the holder of the current lease may settle it. */
export interface QueueItem {
  id: string;
  destination: string;
  project: string;
  insertId: string | null;
  path: string;
  body: string;
  /**
   * JSON of the normalized event. Absent when the claim asked for it not to be read
   * (`ClaimOptions.event: false`) and the driver took the hint: delivery never needs it (dead
   * letters read it from the row), only the live view does.
   */
  event?: string;
  /** Attempts already made before this claim. */
  attempts: number;
  enqueuedAt: number;
  firstAttemptAt: number | null;
  leaseToken: string;
  leaseUntil: number;
}

export type DeadLetterReason = 'rejected' | 'expired';

export interface DeadLetterInput {
  reason: DeadLetterReason;
  httpStatus: number | null;
  extoleCode: string | null;
  extoleMessage: string | null;
  /** Attempts in total, including the last one. */
  attempts: number;
  firstAttemptAt: number;
  lastAttemptAt: number;
  configRevision: string;
  /** JSON of `{method, url, headers, body}` with the token redacted (`Bearer ***`). */
  request: string;
}

export interface DeadLetter extends DeadLetterInput {
  id: string;
  destination: string;
  project: string;
  insertId: string | null;
  /** JSON of the normalized event. */
  event: string;
  createdAt: number;
}

export interface DeadLetterFilter {
  destination?: string;
  reason?: DeadLetterReason;
  /** Only ids in this list. */
  ids?: string[];
  /**
   * Only ids greater than this one: the cursor for paging through a listing in id order (pass the
   * last id of the previous page). An id that is not a queue id matches nothing.
   */
  afterId?: string;
  limit?: number;
}

export interface DestinationQueueStats {
  /** Waiting rows (due now or scheduled later), not leased. */
  pending: number;
  /** Rows under a live lease (in flight). */
  leased: number;
  deadLetters: number;
  /** enqueuedAt of the oldest queued row, or null. */
  oldestEnqueuedAt: number | null;
}

export interface Queue {
  readonly driver: 'sqlite' | 'postgres';
  /** Open the store and create or migrate its schema (safe when several servers start at once). */
  open(): Promise<void>;
  /**
   * Commit events from one ingest request in a single transaction. Resolves only after the
   * commit is durable; rejects with `QueueUnavailableError` when it cannot (nothing written).
   * The events may come packed (`PackedEvents`, as the ingest worker thread sends them).
   */
  enqueue(project: string, events: IngestEvent[] | PackedEvents, options: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * Lease up to `limit` due rows of `destination` (run_at <= now, no live lease), oldest run_at
   * first (ties: enqueue order). Concurrent callers never get the same row under a live lease.
   */
  claim(destination: string, limit: number, now: number, leaseMs: number, options?: ClaimOptions): Promise<QueueItem[]>;
  /** Delivered: remove the row. False when the lease was lost (another worker owns it now). */
  complete(item: Pick<QueueItem, 'id' | 'leaseToken'>): Promise<boolean>;
  /**
   * Delivered, many rows at once: one statement and one commit for the whole list (the cost of a
   * settle on a networked database is the round trip and the commit, not the row). Resolves to one
   * boolean per item, in input order, with `complete`'s meaning; an item naming a row already
   * completed earlier in the same list gets false. Optional: callers fall back to `complete`.
   */
  completeMany?(items: Pick<QueueItem, 'id' | 'leaseToken'>[]): Promise<boolean[]>;
  /** Count an attempt and schedule the next at `runAt`; releases the lease. */
  retry(
    item: Pick<QueueItem, 'id' | 'leaseToken'>,
    runAt: number,
    attempt: { at: number; status: number | null; error: string },
  ): Promise<boolean>;
  /** Give the lease back without counting an attempt (shutdown, paused destination). */
  release(items: Pick<QueueItem, 'id' | 'leaseToken'>[], runAt?: number): Promise<void>;
  /** Move the row to the dead letters, atomically. */
  deadLetter(item: Pick<QueueItem, 'id' | 'leaseToken'>, dead: DeadLetterInput): Promise<boolean>;
  /**
   * Calls `listener(destination)` soon after another process sharing the store (or this one)
   * committed new rows for `destination`, so an idle worker can claim at once instead of at its
   * next poll. Best effort: a lost notice only delays the rows until that poll. Returns a function
   * that removes the listener. Optional: only stores shared by several servers implement it
   * (postgres: LISTEN/NOTIFY).
   */
  onEnqueued?(listener: (destination: string) => void): () => void;
  /** Per destination (every destination with queued rows or dead letters). */
  stats(now: number): Promise<Record<string, DestinationQueueStats>>;
  listDeadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  getDeadLetter(id: string): Promise<DeadLetter | null>;
  /** Delete dead letters matching the filter; returns how many. */
  deleteDeadLetters(filter?: DeadLetterFilter): Promise<number>;
  /** Forget insert_ids first seen before `before`; returns how many. */
  pruneDedup(before: number): Promise<number>;
  /**
   * The insert_ids this process holds in memory for de-duplication, and the bytes they take
   * (SQLite keeps an index of its log per connection; undefined where nothing is held).
   */
  dedupIndex?(): DedupIndexSize | undefined;
  close(): Promise<void>;
}

/** See `Queue.dedupIndex`: keys held (expired ones until the index next grows) and bytes. */
export interface DedupIndexSize {
  keys: number;
  bytes: number;
}
