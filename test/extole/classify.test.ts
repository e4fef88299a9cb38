import { describe, expect, it } from 'vitest';
import type { SendResult } from '../../src/extole/client.js';
import { classify, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../src/extole/classify.js';

const now = Date.parse('2024-11-27T09:33:20.000Z');

function response(status: number, extra: Partial<Extract<SendResult, { kind: 'response' }>> = {}): SendResult {
  return { kind: 'response', status, extoleCode: null, extoleMessage: null, retryAfter: null, body: '', ...extra };
}

describe('classify (SPEC §6)', () => {
  it.each([200, 201, 202, 204])('%i → delivered', (status) => {
    expect(classify(response(status), now).action).toBe('delivered');
  });

  it.each([429, 408, 500, 502, 503, 504, 599])('%i → retry', (status) => {
    const c = classify(response(status), now);
    expect(c.action).toBe('retry');
    if (c.action === 'retry') expect(c.throttled).toBe(status === 429);
  });

  it.each([401, 403])('%i → pause-auth', (status) => {
    expect(classify(response(status, { extoleCode: 'access_denied' }), now)).toMatchObject({
      action: 'pause-auth',
      status,
      extoleCode: 'access_denied',
    });
  });

  it.each([400, 402, 404, 409, 413, 415, 422, 501])('%i → reject with the Extole code', (status) => {
    const c = classify(response(status, { extoleCode: 'event_blocked', extoleMessage: 'Blocked' }), now);
    expect(c).toMatchObject({ action: 'reject', status, extoleCode: 'event_blocked', extoleMessage: 'Blocked' });
  });

  it('network errors and timeouts → retry without a status', () => {
    expect(classify({ kind: 'network-error', code: 'ECONNRESET', message: 'socket hang up' }, now)).toMatchObject({
      action: 'retry',
      status: null,
    });
    expect(classify({ kind: 'timeout', message: 'slow' }, now)).toMatchObject({ action: 'retry', status: null });
  });

  it('carries Retry-After on retryable answers', () => {
    expect(classify(response(429, { retryAfter: '2' }), now)).toMatchObject({ action: 'retry', retryAfterMs: 2000 });
    expect(classify(response(503, { retryAfter: 'Wed, 27 Nov 2024 09:33:50 GMT' }), now)).toMatchObject({
      retryAfterMs: 30_000,
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });
  it('reads an HTTP-date relative to now; a past date is 0', () => {
    expect(parseRetryAfter('Wed, 27 Nov 2024 09:33:30 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 27 Nov 2024 09:00:00 GMT', now)).toBe(0);
  });
  it('caps at 300 s', () => {
    expect(parseRetryAfter('86400', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Thu, 28 Nov 2024 09:33:20 GMT', now)).toBe(300_000);
  });
  it('ignores garbage', () => {
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
    expect(parseRetryAfter('1.5', now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
  });
});
