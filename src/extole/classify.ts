/**
 * What a send result means for the queued event (SPEC §6). Pure: no I/O, the time is passed in.
 *
 * - 2xx → delivered.
 * - 429, 408, 5xx except 501, network errors, timeouts → retry (a `Retry-After` pauses the whole
 *   destination; capped at 300 s).
 * - 401, 403 → pause the destination on a token alarm; the event is not charged an attempt.
 * - 400, 402, 415, 501 and every other 4xx → reject: dead letter with Extole's code and message.
 * - Anything else (1xx, 3xx: Extole never sends them, a proxy or a wrong base_url might) → retry,
 *   so nothing is lost to a transient misconfiguration; `max_attempts` + `max_age` still bound it.
 */
import type { SendResult } from './client.js';

/** Longest pause a `Retry-After` can impose (SPEC §6). */
export const MAX_RETRY_AFTER_MS = 300_000;

export type Classification =
  | { action: 'delivered'; status: number }
  | {
      action: 'retry';
      /** HTTP status, or null for a network error or timeout. */
      status: number | null;
      /** ms to pause the whole destination (from Retry-After), or null. */
      retryAfterMs: number | null;
      /** True for 429: the adaptive concurrency limit is cut. */
      throttled: boolean;
      /** Short description for the queue's attempt log (never contains the token). */
      error: string;
    }
  | { action: 'pause-auth'; status: number; extoleCode: string | null; extoleMessage: string | null; error: string }
  | { action: 'reject'; status: number; extoleCode: string | null; extoleMessage: string | null; error: string };

/** Classify one send result at time `now` (epoch ms; used for HTTP-date Retry-After). */
export function classify(result: SendResult, now: number): Classification {
  if (result.kind === 'timeout') {
    return { action: 'retry', status: null, retryAfterMs: null, throttled: false, error: `timeout: ${result.message}` };
  }
  if (result.kind === 'network-error') {
    return {
      action: 'retry',
      status: null,
      retryAfterMs: null,
      throttled: false,
      error: `network error ${result.code}: ${result.message}`,
    };
  }
  const { status, extoleCode, extoleMessage } = result;
  const describe = `HTTP ${status}${extoleCode ? ` ${extoleCode}` : ''}${extoleMessage ? `: ${extoleMessage}` : ''}`;
  if (status >= 200 && status < 300) return { action: 'delivered', status };
  if (status === 401 || status === 403) {
    return { action: 'pause-auth', status, extoleCode, extoleMessage, error: describe };
  }
  const retryable = status === 429 || status === 408 || (status >= 500 && status !== 501) || status < 200 || (status >= 300 && status < 400);
  if (retryable) {
    const retryAfterMs = result.retryAfter === null ? null : parseRetryAfter(result.retryAfter, now);
    return { action: 'retry', status, retryAfterMs, throttled: status === 429, error: describe };
  }
  // 400, 402, 415, 501 and every other 4xx: Extole will answer the same again.
  return { action: 'reject', status, extoleCode, extoleMessage, error: describe };
}

/**
 * Milliseconds to wait from a `Retry-After` value: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to `now`, capped at 300 s. A date in the past is 0.
 * Returns null for a value that is neither (the header is then ignored).
 */
export function parseRetryAfter(value: string, now: number): number | null {
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // Only date-looking values: Date.parse accepts odd inputs like "1" or "-5".
  if (!/[a-z]/i.test(text) || !/[0-9]{4}/.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}
