/**
 * Wake-ups across servers: a DeliveryManager on one PostgreSQL connection delivers rows another
 * server enqueued, although its idle poll is an hour away and nobody calls `wake()` on it: only
 * the queue's enqueue notice (LISTEN/NOTIFY, `Queue.onEnqueued`) can start it. After `stop()` it
 * no longer listens.
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (db `test`, user `postgres`); skipped with a reason when
 * unreachable, failing when CI=true. Its schema is dropped afterwards.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DeliveryManager } from '../../src/delivery/manager.js';
import { Metrics } from '../../src/metrics.js';
import { PostgresQueue } from '../../src/queue/postgres.js';
import { describeSkippedWithoutPostgres, dropSchema, TEST_PG_URL as DATABASE_URL, testPostgresUnreachable, uniqueSchemaName } from '../support/postgres.js';

const SCHEMA = uniqueSchemaName('es_e2e_notify');

const unreachable = await testPostgresUnreachable();

describe.skipIf(unreachable !== undefined)('delivery wakes on rows another server enqueued', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await dropSchema(SCHEMA);
  });

  it('claims at once on an enqueue notice, and stops listening on stop()', async () => {
    const bodies: string[] = [];
    let arrived: () => void = () => {};
    const extole = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"event_id":"1"}');
        arrived();
      });
    });
    await new Promise<void>((resolve) => extole.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => (extole.closeAllConnections(), extole.close(() => resolve()))));

    const sender = new PostgresQueue({ url: DATABASE_URL, schema: SCHEMA, poolSize: 2 }); // "server A": ingests only
    const receiver = new PostgresQueue({ url: DATABASE_URL, schema: SCHEMA, poolSize: 2 }); // "server B": delivers
    await sender.open();
    await receiver.open();
    cleanups.push(() => sender.close(), () => receiver.close());

    const manager = new DeliveryManager({
      queue: receiver,
      metrics: new Metrics(),
      logger: pino({ level: 'silent' }),
      leaseMs: 30_000,
      configRevision: 'rev-notify',
      destinations: [
        {
          name: 'referrals',
          baseUrl: `http://127.0.0.1:${(extole.address() as AddressInfo).port}`,
          accessToken: 'notify-test-token',
          delivery: { concurrency: 2, timeout: '2s' },
        },
      ],
      idlePollMs: 3_600_000, // an hour: only a notice can make it claim within this test
    });
    // Count the receiver's claims: the worker's first claim finds nothing, then it sleeps.
    let claims = 0;
    const claim = receiver.claim.bind(receiver);
    receiver.claim = async (...args) => {
      const items = await claim(...args);
      claims++;
      return items;
    };
    manager.start();
    cleanups.push(() => manager.stop());
    await receiver.listening();
    await expect.poll(() => claims, { timeout: 10_000 }).toBe(1);
    expect(bodies).toEqual([]);

    const delivered = new Promise<void>((resolve) => (arrived = resolve));
    const body = JSON.stringify({ event_name: 'order_completed', data: { email: 'ann@example.com' } });
    await sender.enqueue('web', [{ insertId: 'n-1', event: '{}', deliveries: [{ destination: 'referrals', path: '/v6/async-events', body }] }], {
      now: Date.now(),
      dedupWindowMs: 0,
    });
    await delivered;
    expect(bodies).toEqual([body]);
    expect(claims).toBeGreaterThanOrEqual(2); // woken, not started late
    await expect.poll(async () => (await receiver.stats(Date.now()))['referrals'], { timeout: 10_000 }).toBeUndefined();

    // Stopped: the manager's listener is gone, so the queue closed its LISTEN connection.
    await manager.stop();
    const listeners = (receiver as unknown as { enqueueListeners: Set<unknown> }).enqueueListeners;
    expect(listeners.size).toBe(0);
  });
});

describeSkippedWithoutPostgres('delivery wakes on rows another server enqueued', unreachable);
