/**
 * Enqueue commits on a worker thread, for a server's SQLite queue.
 *
 * An ingest request's enqueue is the largest piece of SQLite work on the server's event loop:
 * the de-duplication claims, the delivery rows and the commit that writes their pages to the
 * WAL. Delivery (claims, settles, requests to Extole) shares that loop. This worker has its own
 * connection to the same file, its own de-duplication index (`SqliteDedup`) and runs the same
 * statements: the event loop only copies each request's rows to it (strings, one message per
 * request) and waits for the answer, so ingestion and delivery use two cores.
 *
 * Same guarantees as the in-thread path (`SqliteQueue.runBatch`): one IMMEDIATE transaction
 * per group of requests (those that reach the worker while it is busy commit together), one
 * savepoint per request (a failing request rolls back alone), and an answer only after an fsync
 * of the WAL that started after the commit, so a 200 still means the events are on disk.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { QueueUnavailableError } from '../errors.js';
import { SqliteDedup } from './sqlite-dedup.js';
import type { DedupIndexSize, EnqueueResult, IngestEvent } from './types.js';
import { packEvents, packedText, packedTransferList, unpackEvents, isPackedEvents, type FlatEvent, type PackedEvents } from './packed.js';

/**
 * The worker (CommonJS, run with `eval`). Messages in: `{ id, project, now, window, lengths,
 * bytes, text }` (the request's events packed by `packEvents`), or `'stop'`. Messages out:
 * `{ answers: [{ id, result } | { id, error, code }], dedup: [keys, bytes] }` (the index's size).
 */
const workerSource = (): string => `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
// NORMAL: the commit does not fsync; the WAL is synced below, outside the write lock.
db.pragma('synchronous = NORMAL');
db.pragma('temp_store = MEMORY');
const insertDelivery = db.prepare(workerData.sql.insertDelivery);
${SqliteDedup.toString()}
const dedup = new SqliteDedup(db);
// Loaded before the first request, outside any transaction (others may write meanwhile).
dedup.catchUp();
parentPort.postMessage({ answers: [], dedup: [dedup.size, dedup.bytes] });
const walPath = path.resolve(workerData.path) + '-wal';
let dirSynced = false;

const enqueueFlatRows = ${enqueueFlatRows.toString()};
${unpackEvents.toString()}
${packedText.toString()}
const enqueueRows = db.transaction((project, events, now, window) => enqueueFlatRows(dedup, insertDelivery, project, events, now, window));

const failure = (id, err) => ({ id, error: String((err && err.message) || err), code: err && typeof err.code === 'string' ? err.code : undefined });

const commitGroup = db.transaction((requests, answers) => {
  dedup.beginGroup();
  for (const r of requests) {
    dedup.beginRequest();
    try {
      // Nested: a savepoint, rolled back alone when it throws.
      answers.push({ id: r.id, result: enqueueRows(r.project, unpackEvents(r.lengths, packedText(r)), r.now, r.window) });
    } catch (err) {
      dedup.rollbackRequest();
      // Disk full, I/O: SQLite aborted the whole transaction; nobody in the group committed.
      if (!db.inTransaction) throw err;
      answers.push(failure(r.id, err));
    }
  }
});

function fsyncPath(target) {
  let fd;
  try {
    fd = fs.openSync(target, 'r');
  } catch (err) {
    if (err && err.code === 'ENOENT') return; // checkpointed into the database file and removed
    throw err;
  }
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

let waiting = [];
let scheduled = false;
function commit() {
  scheduled = false;
  const requests = waiting;
  waiting = [];
  if (requests.length === 0) return;
  let answers = [];
  try {
    commitGroup.immediate(requests, answers);
    dedup.commit();
  } catch (err) {
    dedup.rollback();
    answers = requests.map((r) => failure(r.id, err));
  }
  if (answers.some((a) => a.result !== undefined)) {
    try {
      fsyncPath(walPath);
      if (!dirSynced) {
        fsyncPath(path.dirname(walPath));
        dirSynced = true;
      }
    } catch (err) {
      answers = answers.map((a) => (a.result !== undefined ? failure(a.id, err) : a));
    }
  }
  parentPort.postMessage({ answers, dedup: [dedup.size, dedup.bytes] });
}

parentPort.on('message', (message) => {
  if (message === 'stop') {
    if (waiting.length > 0) commit();
    db.close();
    parentPort.close();
    return;
  }
  waiting.push(message);
  // Every request that arrived meanwhile (during the last commit and fsync) commits together.
  if (!scheduled) {
    scheduled = true;
    setImmediate(commit);
  }
});
`;


/** What `enqueueFlatRows` writes through: the de-duplication log (`SqliteDedup`) and a better-sqlite3 statement. */
export interface EnqueueStatements {
  dedup: { claim(project: string, insertId: string, now: number, cutoff: number): boolean };
  insertDelivery: {
    run(destination: string, project: string, insertId: string | null, path: string, body: string, event: string, enqueuedAt: number, runAt: number): unknown;
  };
}

/**
 * The rows of one ingest request, inside the caller's transaction: per event, claim its
 * insert_id (refused = seen within the window: a duplicate), then one row per delivery.
 * Self-contained on purpose: its source text is also what the worker runs (no imports, no
 * closures), so both paths write the same rows by construction.
 */
export function enqueueFlatRows(
  dedup: EnqueueStatements['dedup'],
  insertDelivery: EnqueueStatements['insertDelivery'],
  project: string,
  events: FlatEvent[],
  now: number,
  window: number,
): EnqueueResult {
  const result: EnqueueResult = { accepted: 0, duplicates: 0, deliveries: 0 };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const insertId = e[0] as string | null;
    if (insertId !== null && window > 0 && !dedup.claim(project, insertId, now, now - window)) {
      result.duplicates++;
      (result.duplicateIndexes ??= []).push(i);
      continue;
    }
    result.accepted++;
    for (let k = 2; k < e.length; k += 3) {
      insertDelivery.run(e[k]!, project, insertId, e[k + 1]!, e[k + 2]!, e[1]!, now, now);
      result.deliveries++;
    }
  }
  return result;
}

/** Where better-sqlite3 is, for a worker thread (eval'd CommonJS) to `require` the same driver. */
export function sqliteDriverPath(): string {
  return createRequire(import.meta.url).resolve('better-sqlite3');
}

/** The statement the worker runs, shared with the in-thread path so both write the same rows. */
export interface EnqueueSql {
  insertDelivery: string;
}

interface Waiter {
  resolve: (result: EnqueueResult) => void;
  reject: (err: unknown) => void;
}

/**
 * The main-thread side: sends each enqueue to the worker and answers it when the worker does.
 * After a failure of the worker itself (not of a request), `failed` is set, calls waiting get
 * `QueueUnavailableError`, and the queue goes back to enqueueing on its own connection.
 */
export class SqliteEnqueuer {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  failed = false;
  /** The worker's de-duplication index, as of its last message (undefined until it has loaded). */
  dedupIndex: DedupIndexSize | undefined;

  constructor(file: string, busyTimeoutMs: number, sql: EnqueueSql, onFailure: () => void) {
    this.worker = new Worker(workerSource(), {
      eval: true,
      workerData: { driver: sqliteDriverPath(), path: file, busyTimeoutMs, sql },
    });
    // Held only while answers are due: an idle worker never keeps the process alive.
    this.worker.unref();
    this.worker.on('message', (message: { answers: { id: number; result?: EnqueueResult; error?: string; code?: string }[]; dedup: [number, number] }) => {
      this.dedupIndex = { keys: message.dedup[0], bytes: message.dedup[1] };
      for (const a of message.answers) {
        const waiter = this.waiting.get(a.id);
        if (waiter === undefined) continue;
        this.waiting.delete(a.id);
        if (a.result !== undefined) waiter.resolve(a.result);
        else waiter.reject(new QueueUnavailableError(`SQLite queue: enqueue failed${a.code ? ` (${a.code})` : ''}: ${a.error}`));
      }
      if (this.waiting.size === 0) this.worker.unref();
    });
    const fail = (err: unknown): void => {
      if (this.failed) return;
      this.failed = true;
      const error = new QueueUnavailableError(`SQLite queue: enqueue worker failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
      onFailure();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
  }

  /** Commits one ingest request's events (see `Queue.enqueue`). */
  enqueue(project: string, events: IngestEvent[] | PackedEvents, now: number, window: number): Promise<EnqueueResult> {
    const packed = isPackedEvents(events) ? events : packEvents(events);
    const id = this.nextId++;
    return new Promise<EnqueueResult>((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      // Moved, not copied: the caller is done with its rows once they are handed to the queue
      // (a failed worker fails the request; it is never enqueued again from these rows).
      const { lengths, bytes, text } = packed;
      this.worker.postMessage({ id, project, now, window, lengths, bytes, text }, packedTransferList(packed));
    });
  }

  /** Resolves once every enqueue sent has been answered and the worker has closed its connection. */
  async stop(): Promise<void> {
    if (this.failed) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.failed = true; // its exit is expected from here on
    this.worker.ref();
    this.worker.postMessage('stop');
    await exited;
    // Answered before the worker closed; anything left was never committed.
    const error = new QueueUnavailableError('SQLite queue: enqueue worker stopped before answering');
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
