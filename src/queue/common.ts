/** Helpers shared by the queue drivers. */
import { randomBytes } from 'node:crypto';
import type { QueueItem } from './types.js';

/** What a settle call (`complete`, `retry`, `release`, `deadLetter`) needs from a claimed item. */
export type SettleRef = Pick<QueueItem, 'id' | 'leaseToken'>;

/**
 * A fresh lease token: 128 random bits. Every claim gets a new one, so a worker whose lease
 * expired and was taken over can no longer settle the row (its token no longer matches).
 */
export function newLeaseToken(): string {
  return randomBytes(16).toString('hex');
}

/** Queue and dead-letter ids are positive integers written in decimal (bigint-safe strings). */
export function isQueueId(id: unknown): id is string {
  return typeof id === 'string' && /^[1-9][0-9]{0,17}$/.test(id);
}
