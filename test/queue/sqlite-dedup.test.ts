import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueUnavailableError } from '../../src/errors.js';
import { SqliteDedup } from '../../src/queue/sqlite-dedup.js';
import { SQLITE_MIGRATIONS, SqliteQueue } from '../../src/queue/sqlite.js';

const T0 = 1_700_000_000_000;
const WEEK = 7 * 24 * 3600 * 1000;
const temps: string[] = [];

function tempFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'extole-dedup-'));
  temps.push(dir);
  return path.join(dir, 'q.db');
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const event = (id: string | null, body = 'ok') => ({ insertId: id, event: '{}', deliveries: [{ destination: 'd1', path: '/p', body }] });

async function opened(file: string): Promise<SqliteQueue> {
  const queue = new SqliteQueue({ path: file });
  await queue.open();
  return queue;
}

/** A connection to a file with the current schema, for driving `SqliteDedup` directly. */
async function schemaDb(): Promise<Database.Database> {
  const file = tempFile();
  await (await opened(file)).close();
  return new Database(file);
}

describe('SqliteDedup', () => {
  it('agrees with a plain map of the old upsert semantics over random requests, rollbacks, prunes and restarts', async () => {
    const db = await schemaDb();
    try {
      // Few distinct keys (repeats) and many (index rebuilds past 716 slots) in the same runs.
      const key = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3000 })).map((n) => `k${n}`);
      const op = fc.oneof(
        { weight: 6, arbitrary: fc.record({ kind: fc.constant('request' as const), keys: fc.array(key, { minLength: 1, maxLength: 60 }), project: fc.constantFrom('web', 'ios'), fails: fc.boolean(), advance: fc.integer({ min: 0, max: 400 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('prune' as const), age: fc.integer({ min: 0, max: 1000 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('groupFails' as const), keys: fc.array(key, { minLength: 1, maxLength: 20 }) }) },
      );
      await fc.assert(
        fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 1500 }), (ops, window) => {
          db.exec('DELETE FROM dedup_log; UPDATE dedup_pruned SET pruned_before = -9007199254740991');
          // The model: project \0 insert_id → first_seen, as the old `dedup` table held it.
          const model = new Map<string, number>();
          let dedup = new SqliteDedup(db);
          dedup.catchUp();
          let now = 1_000_000;
          const claimAll = (project: string, keys: string[]) => keys.map((k) => dedup.claim(project, k, now, now - window));
          for (const o of ops) {
            if (o.kind === 'request') {
              now += o.advance;
              db.prepare('BEGIN IMMEDIATE').run();
              dedup.beginGroup();
              dedup.beginRequest();
              db.prepare('SAVEPOINT request').run();
              const got = claimAll(o.project, o.keys);
              if (o.fails) {
                db.prepare('ROLLBACK TO request').run();
                dedup.rollbackRequest();
              }
              db.prepare('RELEASE request').run();
              db.prepare('COMMIT').run();
              dedup.commit();
              const staged = new Map(model);
              const want = o.keys.map((k) => {
                const id = `${o.project}\u0000${k}`;
                const seen = staged.get(id);
                if (seen !== undefined && seen > now - window) return false;
                staged.set(id, now);
                return true;
              });
              expect(got).toEqual(want);
              if (!o.fails) for (const [k, v] of staged) model.set(k, v);
            } else if (o.kind === 'groupFails') {
              db.prepare('BEGIN IMMEDIATE').run();
              dedup.beginGroup();
              dedup.beginRequest();
              claimAll('web', o.keys);
              db.prepare('ROLLBACK').run();
              dedup.rollback();
            } else if (o.kind === 'prune') {
              // What SqliteQueue.pruneDedup does, on the same connection.
              const before = now - o.age;
              db.prepare('UPDATE dedup_pruned SET pruned_before = max(pruned_before, ?)').run(before);
              for (const [k, v] of model) if (v < before) model.delete(k);
            } else {
              dedup = new SqliteDedup(db);
              dedup.catchUp();
            }
          }
        }),
        { numRuns: 400 },
      );
    } finally {
      db.close();
    }
  });

  it("does not skip another writer's row that reuses the sequence number of a request it rolled back", async () => {
    const a = await schemaDb();
    const b = new Database(a.name);
    try {
      const mine = new SqliteDedup(a);
      const theirs = new SqliteDedup(b);
      a.prepare('BEGIN IMMEDIATE').run();
      mine.beginGroup();
      mine.beginRequest();
      expect(mine.claim('web', 'kept', 1000, 0)).toBe(true);
      mine.beginRequest();
      a.prepare('SAVEPOINT request').run();
      expect(mine.claim('web', 'rolled-back', 1000, 0)).toBe(true);
      a.prepare('ROLLBACK TO request').run();
      a.prepare('RELEASE request').run();
      mine.rollbackRequest();
      a.prepare('COMMIT').run();
      mine.commit();
      // The other connection's next row takes the rolled-back row's sequence number.
      b.prepare('BEGIN IMMEDIATE').run();
      theirs.beginGroup();
      theirs.beginRequest();
      expect(theirs.claim('web', 'theirs', 1001, 0)).toBe(true);
      b.prepare('COMMIT').run();
      theirs.commit();
      a.prepare('BEGIN IMMEDIATE').run();
      mine.beginGroup();
      mine.beginRequest();
      expect([mine.claim('web', 'theirs', 1002, 0), mine.claim('web', 'kept', 1002, 0), mine.claim('web', 'rolled-back', 1002, 0)]).toEqual([false, false, true]);
      a.prepare('COMMIT').run();
      mine.commit();
    } finally {
      b.close();
      a.close();
    }
  });

  it('drops expired keys when it grows, and sizes its table for what is left', async () => {
    const db = await schemaDb();
    try {
      const dedup = new SqliteDedup(db);
      const claimMany = (prefix: string, n: number, now: number, cutoff: number) =>
        db.transaction(() => {
          dedup.beginGroup();
          dedup.beginRequest();
          const accepted = Array.from({ length: n }, (_, i) => dedup.claim('web', `${prefix}${i}`, now, cutoff)).filter(Boolean).length;
          return accepted;
        })();
      expect(claimMany('a', 5000, 1000, 0)).toBe(5000);
      dedup.commit();
      expect(dedup.size).toBe(5000);
      expect(dedup.bytes).toBe(8192 * 16); // at most 70% full, half full after each growth
      expect(claimMany('a', 5000, 1001, 0)).toBe(0); // every one a duplicate
      dedup.commit();
      // Past the window of the first 5,000: the next growth drops them.
      expect(claimMany('b', 5000, 5000, 2000)).toBe(5000);
      dedup.commit();
      expect(dedup.size).toBeLessThan(8000);
      expect(claimMany('b', 5000, 5001, 2000)).toBe(0);
      dedup.commit();
      // The log holds every claim; a new index built from it decides the same.
      expect(db.prepare('SELECT count(*) FROM dedup_log').pluck().get()).toBe(10_000);
      const again = new SqliteDedup(db);
      again.catchUp();
      const check = db.transaction(() => {
        again.beginGroup();
        again.beginRequest();
        return [again.claim('web', 'b42', 5002, 2000), again.claim('web', 'a42', 5002, 2000)];
      })();
      again.commit();
      expect(check).toEqual([false, true]);
    } finally {
      db.close();
    }
  });
});

describe('SqliteQueue de-duplication log', () => {
  it('migrates the keys of a version-2 `dedup` table into the log, and drops the table', async () => {
    const file = tempFile();
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(SQLITE_MIGRATIONS[0]!);
    old.exec(SQLITE_MIGRATIONS[1]!);
    old.pragma('user_version = 2');
    old.prepare("INSERT INTO dedup (project, insert_id, first_seen) VALUES ('web', 'seen', ?), ('ios', 'seen', ?)").run(T0, T0 - WEEK);
    old.close();

    const queue = await opened(file);
    try {
      const r = await queue.enqueue('web', [event('seen'), event('fresh')], { now: T0 + 1, dedupWindowMs: WEEK });
      expect(r).toMatchObject({ accepted: 1, duplicates: 1, duplicateIndexes: [0] });
      // ios/seen was first seen a week before: outside the window.
      expect((await queue.enqueue('ios', [event('seen')], { now: T0 + 1, dedupWindowMs: WEEK })).accepted).toBe(1);
    } finally {
      await queue.close();
    }
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'dedup'").get()).toBeUndefined();
    expect(raw.prepare('SELECT project, insert_id FROM dedup_log ORDER BY seq').raw().all()).toEqual([
      ['ios', 'seen'],
      ['web', 'seen'],
      ['web', 'fresh'],
      ['ios', 'seen'],
    ]);
    raw.close();
  });

  for (const where of ['this connection', 'the enqueue worker']) {
    it(`a request that fails is not remembered: sent again, its events are accepted (${where})`, async () => {
      const file = tempFile();
      const queue = await opened(file);
      const raw = new Database(file);
      try {
        raw.exec("CREATE TRIGGER boom BEFORE INSERT ON deliveries WHEN NEW.body = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
        // The first claim starts the worker; before it, enqueues commit on the queue's own connection.
        if (where === 'the enqueue worker') expect(await queue.claim('d1', 1, T0, 1000)).toEqual([]);
        const options = { now: T0, dedupWindowMs: WEEK };
        // Two requests in one group commit: the failing one rolls back alone.
        const [failed, other] = await Promise.allSettled([
          queue.enqueue('web', [event('a'), event('b', 'boom')], options),
          queue.enqueue('web', [event('c')], options),
        ]);
        expect(failed.status === 'rejected' && failed.reason).toBeInstanceOf(QueueUnavailableError);
        expect(other.status === 'fulfilled' && other.value.accepted).toBe(1);
        raw.exec('DROP TRIGGER boom');
        expect(await queue.enqueue('web', [event('a'), event('b'), event('c')], options)).toMatchObject({ accepted: 2, duplicates: 1, duplicateIndexes: [2] });
        expect((await queue.enqueue('web', [event('a'), event('b')], options)).duplicates).toBe(2);
      } finally {
        raw.close();
        await queue.close();
      }
    });
  }

  it('reports the size of the index that enqueues: its own connection, then the enqueue worker', async () => {
    const queue = await opened(tempFile());
    try {
      expect(queue.dedupIndex()).toBeUndefined(); // nothing enqueued, nothing loaded
      await queue.enqueue('web', [event('a'), event('b'), event(null)], { now: T0, dedupWindowMs: WEEK });
      expect(queue.dedupIndex()).toEqual({ keys: 2, bytes: 1024 * 16 });
      expect(await queue.claim('d1', 10, T0, 1000)).toHaveLength(3); // starts the worker, which loads the log
      await queue.enqueue('web', [event('c')], { now: T0, dedupWindowMs: WEEK });
      expect(queue.dedupIndex()).toEqual({ keys: 3, bytes: 1024 * 16 });
    } finally {
      await queue.close();
    }
  });

  it('a prune on one connection is honoured by the index of another, and of its enqueue worker', async () => {
    const file = tempFile();
    const server = await opened(file);
    const admin = await opened(file);
    try {
      expect(await server.claim('d1', 1, T0, 1000)).toEqual([]); // the server enqueues through its worker
      const options = (now: number) => ({ now, dedupWindowMs: WEEK });
      await server.enqueue('web', [event('old')], options(T0));
      await admin.enqueue('web', [event('new')], options(T0 + 10));
      expect((await server.enqueue('web', [event('new')], options(T0 + 11))).duplicates).toBe(1);
      expect(await admin.pruneDedup(T0 + 5)).toBe(1);
      expect(await server.enqueue('web', [event('old'), event('new')], options(T0 + 20))).toMatchObject({ accepted: 1, duplicates: 1, duplicateIndexes: [1] });
      expect((await admin.enqueue('web', [event('old')], options(T0 + 21))).duplicates).toBe(1);
      // Everything pruned: the newest row stays, so sequence numbers never go back.
      expect(await admin.pruneDedup(T0 + WEEK)).toBe(1);
      const raw = new Database(file, { readonly: true });
      expect(raw.prepare('SELECT insert_id FROM dedup_log').pluck().all()).toEqual(['old']);
      raw.close();
      expect((await server.enqueue('web', [event('old')], options(T0 + 30))).accepted).toBe(1);
    } finally {
      await admin.close();
      await server.close();
    }
  });
});
