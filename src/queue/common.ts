/** Helpers shared by the queue drivers. */
import { randomUUID } from 'node:crypto';
import { QueueUnavailableError } from '../errors.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterInput, QueueItem } from './types.js';

/** What a settle call (`complete`, `retry`, `release`, `deadLetter`) needs from a claimed item. */
export type SettleRef = Pick<QueueItem, 'id' | 'leaseToken'>;

/**
 * A fresh lease token: a v4 UUID (122 random bits). Every claim gets a new one, so a worker whose
 * lease expired and was taken over can no longer settle the row (its token no longer matches).
 * Node draws UUIDs from a cached block of random bytes (about 0.1 µs each here), where
 * `randomBytes(16)` calls into OpenSSL every time (1.7 µs, more under load); a server claims
 * hundreds of times a second.
 */
export function newLeaseToken(): string {
  return randomUUID();
}

/** Queue and dead-letter ids are positive integers written in decimal (bigint-safe strings). */
export function isQueueId(id: unknown): id is string {
  return typeof id === 'string' && /^[1-9][0-9]{0,17}$/.test(id);
}

/**
 * A `deliveries` row as a driver reads it. `Int` is how the driver returns the BIGINT columns
 * (ids, times): pg as decimal strings, better-sqlite3 as numbers.
 */
export interface DeliveryRowOf<Int extends number | string> {
  id: Int;
  destination: string;
  project: string;
  insert_id: string | null;
  path: string;
  body: string;
  event: string;
  attempts: number;
  enqueued_at: Int;
  run_at: Int;
  first_attempt_at: Int | null;
  lease_token: string;
  lease_until: Int;
}

/** A `dead_letters` row as a driver reads it (`Int` as in {@link DeliveryRowOf}). */
export interface DeadLetterRowOf<Int extends number | string> {
  id: Int;
  destination: string;
  project: string;
  insert_id: string | null;
  event: string;
  request: string;
  reason: DeadLetter['reason'];
  http_status: number | null;
  extole_code: string | null;
  extole_message: string | null;
  attempts: number;
  first_attempt_at: Int;
  last_attempt_at: Int;
  config_revision: string;
  created_at: Int;
}

/** A claimed `deliveries` row as the {@link QueueItem} callers get (id as a string, times as numbers). */
export function toQueueItem(row: DeliveryRowOf<number | string>): QueueItem {
  return {
    id: String(row.id),
    destination: row.destination,
    project: row.project,
    insertId: row.insert_id,
    path: row.path,
    body: row.body,
    event: row.event,
    attempts: Number(row.attempts),
    enqueuedAt: Number(row.enqueued_at),
    firstAttemptAt: row.first_attempt_at === null ? null : Number(row.first_attempt_at),
    leaseToken: row.lease_token,
    leaseUntil: Number(row.lease_until),
  };
}

/** A `dead_letters` row as the {@link DeadLetter} callers get (id as a string, times as numbers). */
export function toDeadLetter(row: DeadLetterRowOf<number | string>): DeadLetter {
  return {
    id: String(row.id),
    destination: row.destination,
    project: row.project,
    insertId: row.insert_id,
    event: row.event,
    request: row.request,
    reason: row.reason,
    httpStatus: row.http_status,
    extoleCode: row.extole_code,
    extoleMessage: row.extole_message,
    attempts: Number(row.attempts),
    firstAttemptAt: Number(row.first_attempt_at),
    lastAttemptAt: Number(row.last_attempt_at),
    configRevision: row.config_revision,
    createdAt: Number(row.created_at),
  };
}

/**
 * The values of a new `dead_letters` row that come from `dead`, in column order: request,
 * reason, http_status, extole_code, extole_message, attempts, first_attempt_at,
 * last_attempt_at, config_revision, created_at. (id, destination, project, insert_id and event
 * come from the deliveries row it replaces.)
 */
export function deadLetterValues(
  dead: DeadLetterInput,
  createdAt: number,
): [string, DeadLetter['reason'], number | null, string | null, string | null, number, number, number, string, number] {
  return [
    dead.request,
    dead.reason,
    dead.httpStatus,
    dead.extoleCode,
    dead.extoleMessage,
    Math.trunc(dead.attempts),
    Math.trunc(dead.firstAttemptAt),
    Math.trunc(dead.lastAttemptAt),
    dead.configRevision,
    createdAt,
  ];
}

/** ` LIMIT n` for a dead-letter listing with `filter.limit`, else nothing. */
export function deadLetterLimitSql(filter: DeadLetterFilter): string {
  return filter.limit !== undefined && filter.limit >= 0 ? ` LIMIT ${Math.trunc(filter.limit)}` : '';
}

/**
 * Wraps a driver failure as `<driver>: <op> failed (<code>): <message>`. The message carries the
 * driver's text and error code, never a connection URL (neither pg's nor SQLite's messages
 * include it). A QueueUnavailableError passes through unchanged.
 */
export function queueUnavailable(driver: string, op: string, err: unknown): QueueUnavailableError {
  if (err instanceof QueueUnavailableError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? ` (${(err as { code: string }).code})` : '';
  const message = err instanceof Error ? err.message : String(err);
  return new QueueUnavailableError(`${driver}: ${op} failed${code}: ${message}`, { cause: err });
}
