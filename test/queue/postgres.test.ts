import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, QueueUnavailableError } from '../../src/errors.js';
import { PostgresQueue } from '../../src/queue/postgres.js';
import { describeSkippedWithoutPostgres, dropSchema, TEST_PG_URL as URL, testPostgresUnreachable, uniqueSchemaName } from '../support/postgres.js';
import { runQueueConformance } from './conformance.js';

/** Every schema of this run starts with `es_test_`; each case gets its own and drops it. */
const nextSchema = () => uniqueSchemaName('es_test');

async function opened(schema: string, poolSize = 4): Promise<PostgresQueue> {
  const queue = new PostgresQueue({ url: URL, schema, poolSize });
  await queue.open();
  return queue;
}

const unreachable = await testPostgresUnreachable();
describeSkippedWithoutPostgres('PostgresQueue', unreachable);

if (!unreachable) {
  runQueueConformance('postgres', async () => {
    const schema = nextSchema();
    const queue = await opened(schema);
    return {
      queue,
      connect: () => opened(schema, 2),
      async cleanup() {
        await queue.close();
        await dropSchema(schema);
      },
    };
  });

  describe('PostgresQueue', () => {
    const schemas: string[] = [];
    afterAll(async () => {
      for (const s of schemas) await dropSchema(s);
    });

    /** Runs `fn` on a queue over a fresh schema (dropped after the run), closing the queue after it. */
    async function withFreshQueue(fn: (q: PostgresQueue) => Promise<void>): Promise<void> {
      const schema = nextSchema();
      schemas.push(schema);
      const q = await opened(schema);
      try {
        await fn(q);
      } finally {
        await q.close();
      }
    }

    it('three servers opening a fresh schema at once migrate it exactly once', async () => {
      const schema = nextSchema();
      schemas.push(schema);
      const queues = [1, 2, 3].map(() => new PostgresQueue({ url: URL, schema, poolSize: 2 }));
      try {
        await Promise.all(queues.map((q) => q.open()));
        const client = new pg.Client({ connectionString: URL });
        await client.connect();
        const rows = (await client.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`)).rows;
        await client.end();
        expect(rows).toEqual([{ version: 1 }]);
        // All three work on the same tables.
        await queues[0]!.enqueue('web', [{ insertId: 'x', event: '{}', deliveries: [{ destination: 'd1', path: '/p', body: '{}' }] }], {
          now: 1,
          dedupWindowMs: 10,
        });
        expect((await queues[1]!.claim('d1', 5, 1, 10)).map((i) => i.insertId)).toEqual(['x']);
        expect((await queues[2]!.stats(1))['d1']!.leased).toBe(1);
        // Re-opening an up-to-date schema is a no-op.
        const again = await opened(schema, 1);
        await again.close();
      } finally {
        for (const q of queues) await q.close();
      }
    });

    it('tells listeners on other servers which destinations got rows (LISTEN/NOTIFY)', async () => {
      const schema = nextSchema();
      schemas.push(schema);
      const sender = new PostgresQueue({ url: URL, schema, poolSize: 2, notifyIntervalMs: 0 });
      const peer = new PostgresQueue({ url: URL, schema, poolSize: 2 });
      const other = new PostgresQueue({ url: URL, schema: nextSchema(), poolSize: 1 }); // another schema hears nothing
      schemas.push(other.schema);
      await Promise.all([sender.open(), peer.open(), other.open()]);
      try {
        const heard: string[] = [];
        const removedHeard: string[] = [];
        const otherHeard: string[] = [];
        let arrived: () => void = () => {};
        peer.onEnqueued(() => {
          throw new Error('a failing listener does not stop the others');
        });
        const removed = peer.onEnqueued((d) => removedHeard.push(d));
        peer.onEnqueued((d) => {
          heard.push(d);
          if (heard.length >= 2) arrived();
        });
        removed();
        other.onEnqueued((d) => otherHeard.push(d));
        await Promise.all([peer.listening(), other.listening()]);
        const both = new Promise<void>((resolve) => (arrived = resolve));
        await sender.enqueue(
          'web',
          [
            { insertId: 'n1', event: '{}', deliveries: [{ destination: 'd1', path: '/p', body: '{}' }, { destination: 'd2', path: '/p', body: '{}' }] },
            { insertId: 'n2', event: '{}', deliveries: [{ destination: 'd1', path: '/p', body: '{}' }] },
          ],
          { now: 1, dedupWindowMs: 10 },
        );
        await both;
        expect(heard.sort()).toEqual(['d1', 'd2']);
        // Listeners run together on each notice: the removed one would have heard it by now.
        expect(removedHeard).toEqual([]);
        // A request that enqueues nothing (all duplicates) sends no notice; the next one does.
        await sender.enqueue('web', [{ insertId: 'n1', event: '{}', deliveries: [{ destination: 'd3', path: '/p', body: '{}' }] }], {
          now: 2,
          dedupWindowMs: 10,
        });
        const third = new Promise<void>((resolve) => (arrived = resolve));
        await sender.enqueue('web', [{ insertId: 'n3', event: '{}', deliveries: [{ destination: 'd4', path: '/p', body: '{}' }] }], {
          now: 3,
          dedupWindowMs: 10,
        });
        await third;
        expect(heard.sort()).toEqual(['d1', 'd2', 'd4']);
        // The other schema's listener shares the database but not the channel: notices arrive in
        // commit order, so a leak of the earlier ones would be in otherHeard before 'mine'.
        const otherSender = await opened(other.schema, 1);
        const otherArrived = new Promise<void>((resolve) => other.onEnqueued(() => resolve()));
        await otherSender.enqueue('web', [{ insertId: null, event: '{}', deliveries: [{ destination: 'mine', path: '/p', body: '{}' }] }], {
          now: 1,
          dedupWindowMs: 0,
        });
        await otherArrived;
        await otherSender.close();
        expect(otherHeard).toEqual(['mine']);
      } finally {
        await Promise.all([sender.close(), peer.close(), other.close()]);
      }
    });

    it('returns ids as strings and times as numbers, beyond 32 bits', async () => {
      await withFreshQueue(async (q) => {
        const now = 8_640_000_000_000; // far beyond int4, still a safe integer
        await q.enqueue('web', [{ insertId: null, event: '{}', deliveries: [{ destination: 'd1', path: '/p', body: '{}' }] }], {
          now,
          dedupWindowMs: 0,
        });
        const [item] = await q.claim('d1', 1, now, 1000);
        expect(typeof item!.id).toBe('string');
        expect(item!.enqueuedAt).toBe(now);
        expect(item!.leaseUntil).toBe(now + 1000);
        expect((await q.stats(now))['d1']).toEqual({ pending: 0, leased: 1, deadLetters: 0, oldestEnqueuedAt: now });
      });
    });

    it('commits enqueues synchronously and lease bookkeeping asynchronously', async () => {
      await withFreshQueue(async (q) => {
        // The pools are private; the split is what guarantees a 200 means a flushed commit.
        const pools = q as unknown as { pool: pg.Pool; settlePool: pg.Pool };
        const setting = async (pool: pg.Pool) => (await pool.query<{ s: string }>("SELECT current_setting('synchronous_commit') AS s")).rows[0]!.s;
        expect(await setting(pools.settlePool)).toBe('off');
        const server = await setting(pools.pool);
        expect(server).not.toBe('off'); // the server's default (on here): enqueue waits for the flush
      });
    });

    it('retries and dead letters made together go to the database as one statement each', async () => {
      await withFreshQueue(async (q) => {
        const T0 = 1_700_000_000_000;
        await q.enqueue('web', Array.from({ length: 40 }, (_, i) => ({ insertId: `s${i}`, event: '{}', deliveries: [{ destination: 'd1', path: '/p', body: '{}' }] })), {
          now: T0,
          dedupWindowMs: 0,
        });
        const items = await q.claim('d1', 40, T0, 60_000);
        // The settle pool is private; counting its queries is what shows the batching.
        const settlePool = (q as unknown as { settlePool: pg.Pool }).settlePool;
        const sent: string[] = [];
        const query = settlePool.query.bind(settlePool) as (...args: unknown[]) => Promise<unknown>;
        (settlePool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
          sent.push(String(args[0]).trim().split(/\s+/)[0]!);
          return query(...args);
        };
        const dead = { reason: 'rejected' as const, httpStatus: 400, extoleCode: 'x', extoleMessage: 'no', attempts: 1, firstAttemptAt: T0, lastAttemptAt: T0, configRevision: 'rev', request: '{}' };
        const answers = await Promise.all([
          ...items.slice(0, 20).map((item) => q.retry(item, T0 + 1000, { at: T0, status: 503, error: 'HTTP 503' })),
          ...items.slice(20).map((item) => q.deadLetter(item, dead)),
        ]);
        expect(answers.every((a) => a === true)).toBe(true);
        // One UPDATE for the 20 retries, one WITH … DELETE … INSERT for the 20 dead letters.
        expect(sent.sort()).toEqual(['UPDATE', 'WITH']);
      });
    });

    it('validates the schema name before it reaches SQL', () => {
      for (const bad of ['Public', 'a-b', 'x"; DROP TABLE y; --', '', '1abc', 'a'.repeat(64)]) {
        expect(() => new PostgresQueue({ url: URL, schema: bad })).toThrow(ConfigError);
      }
      expect(new PostgresQueue({ url: URL }).schema).toBe('extole_stream');
    });

    it('wraps connection failures in QueueUnavailableError without echoing the URL', async () => {
      // Port 1 on loopback: refused at once.
      const q = new PostgresQueue({ url: 'postgres://postgres:s3cret-pw@127.0.0.1:1/test', schema: nextSchema(), connectTimeoutMs: 2_000 });
      const err = await q.open().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect((err as Error).message).not.toContain('s3cret-pw');
      await expect(q.enqueue('web', [], { now: 1, dedupWindowMs: 0 })).rejects.toMatchObject({ code: 'ES_QUEUE_UNAVAILABLE' });
      await q.close();
    });
  });
}
