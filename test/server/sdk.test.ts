/**
 * The real Amplitude Node SDK against our server: events arrive at (a fake) Extole with exactly
 * the bodies the transformer gives, and the SDK's own retry logic copes with our 413 and 503.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance } from '@amplitude/analytics-node';
import { createQueue } from '../../src/queue/index.js';
import type { Queue } from '../../src/queue/types.js';
import { QueueUnavailableError } from '../../src/errors.js';
import { normalizeEvent } from '../../src/events/normalize.js';
import type { Outcome } from '../../src/compile/types.js';
import { WEB_KEY, makeConfigDir, referralsYaml, removeDir, startFakeExtole, startServer, waitFor, type FakeExtole, type RunningServer } from './helpers.js';

describe('Amplitude Node SDK → extole-stream → Extole', () => {
  let fake: FakeExtole;
  let s: RunningServer;
  const control = { failEnqueues: 0, enqueueCalls: 0 };

  beforeAll(async () => {
    fake = await startFakeExtole();
    const dir = makeConfigDir({
      baseUrl: fake.url,
      server: ['limits: { httpapi_bytes: 4KB }'],
      destinations: { referrals: referralsYaml(fake.url) },
    });
    s = await startServer(dir, {
      queueFactory: (loaded) => {
        const real = createQueue(loaded);
        return new Proxy(real, {
          get(target, prop, receiver) {
            if (prop === 'enqueue') {
              return async (...args: Parameters<Queue['enqueue']>) => {
                control.enqueueCalls++;
                if (control.failEnqueues > 0) {
                  control.failEnqueues--;
                  throw new QueueUnavailableError('SQLite queue: enqueue failed (SQLITE_BUSY): database is locked');
                }
                return target.enqueue(...args);
              };
            }
            const v = Reflect.get(target, prop, receiver) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    });
  });
  afterAll(async () => {
    await s.close();
    await fake.close();
    removeDir(s.dir);
  });

  function sdk(flushQueueSize = 30) {
    const client = createInstance();
    client.init(WEB_KEY, { serverUrl: `${s.url}/2/httpapi`, flushIntervalMillis: 20, flushQueueSize, logLevel: 0 });
    return client;
  }

  async function expectedBody(event: Record<string, unknown>): Promise<unknown> {
    const transformer = s.runtime.active.transformers[0]!;
    const outcome = (await transformer.transform(normalizeEvent(event), 'web')) as Outcome;
    if (outcome.outcome !== 'send') throw new Error(`transformer dropped the event: ${outcome.reason}`);
    return JSON.parse(outcome.bodyJson);
  }

  function deliveredFor(insertId: string) {
    return fake.bodies.filter((b) => (b.data as Record<string, unknown>).partner_conversion_id === insertId);
  }

  it('delivers what the SDK sends, with exactly the transformer\'s bodies', async () => {
    const client = sdk();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        client.track('Order Completed', { revenue: i, coupon: `C${i}` }, { user_id: `buyer${i}@example.com`, device_id: `device-${i}` }).promise,
      ),
    );
    expect(results.map((r) => r.code)).toEqual(Array(12).fill(200));
    for (const r of results) {
      const insertId = r.event.insert_id!;
      await waitFor(() => deliveredFor(insertId).length === 1, 10_000, `delivery of ${insertId}`);
      expect(deliveredFor(insertId)[0]).toEqual(await expectedBody(r.event as unknown as Record<string, unknown>));
    }
  });

  it('splits its batch after our 413 and loses nothing', async () => {
    const client = sdk(10);
    const callsBefore = control.enqueueCalls;
    // 10 events of ~600 bytes: one batch is over the 4 KB limit, half a batch is under it.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.track('Big Event', { blob: 'x'.repeat(500), i }, { user_id: `big${i}@example.com` }).promise),
    );
    expect(results.map((r) => r.code)).toEqual(Array(10).fill(200));
    // Without the 413 the SDK would have sent one batch (one commit); split, it took several.
    expect(control.enqueueCalls - callsBefore).toBeGreaterThanOrEqual(2);
    for (const r of results) await waitFor(() => deliveredFor(r.event.insert_id!).length === 1, 10_000, 'delivery after 413');
  });

  it('retries after our 503 (queue unavailable) and loses nothing', async () => {
    const client = sdk();
    control.failEnqueues = 2;
    const callsBefore = control.enqueueCalls;
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => client.track('Sign Up', { i }, { user_id: `retry${i}@example.com` }).promise),
    );
    expect(results.map((r) => r.code)).toEqual(Array(5).fill(200));
    // Two refused commits, then the one that stuck.
    expect(control.enqueueCalls - callsBefore).toBeGreaterThanOrEqual(3);
    for (const r of results) await waitFor(() => deliveredFor(r.event.insert_id!).length === 1, 10_000, 'delivery after 503');
  });
});
