import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import ts from 'typescript';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QueueUnavailableError } from '../../src/errors.js';
import { SQLITE_MIGRATIONS, SQLITE_STATS_SQL, SqliteQueue } from '../../src/queue/sqlite.js';
import { runQueueConformance } from './conformance.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const T0 = 1_700_000_000_000;
const temps: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'extole-queue-'));
  temps.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function opened(file: string): Promise<SqliteQueue> {
  const queue = new SqliteQueue({ path: file });
  await queue.open();
  return queue;
}

/** A fresh file at schema `version`, as that release left it, and a connection to fill it (close it before opening the queue). */
function fileAtVersion(version: number): { file: string; old: Database.Database } {
  const file = path.join(tempDir(), 'q.db');
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  for (const sql of SQLITE_MIGRATIONS.slice(0, version)) old.exec(sql);
  old.pragma(`user_version = ${version}`);
  return { file, old };
}

/** A queue on a fresh file, and a second connection that takes its write lock as another process would. */
async function queueAndLocker(busyTimeoutMs: number): Promise<{ file: string; queue: SqliteQueue; locker: Database.Database }> {
  const file = path.join(tempDir(), 'q.db');
  const queue = new SqliteQueue({ path: file, busyTimeoutMs });
  await queue.open();
  return { file, queue, locker: new Database(file) };
}

/** One event for destination `d1`; `body` is its Extole request JSON (any value, to make the insert fail). */
const event = (id: string | null, body: unknown = JSON.stringify({ event_name: id })) => ({
  insertId: id,
  event: JSON.stringify({ insert_id: id }),
  deliveries: [{ destination: 'd1', path: '/v6/async-events', body: body as string }],
});

runQueueConformance('sqlite (file)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'extole-queue-'));
  // A folder that does not exist yet: open() creates it.
  const file = path.join(dir, 'state', 'queue.db');
  const queue = await opened(file);
  return {
    queue,
    connect: () => opened(file),
    async cleanup() {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

runQueueConformance('sqlite (:memory:)', async () => {
  const queue = await opened(':memory:');
  return { queue, cleanup: () => queue.close() };
});

describe('SqliteQueue on a file', () => {
  it('uses WAL and keeps its data across close and reopen (migrations run once)', async () => {
    const file = path.join(tempDir(), 'q.db');
    const a = await opened(file);
    await a.enqueue('web', [event('x')], { now: T0, dedupWindowMs: 1000 });
    await a.close();
    await a.close(); // idempotent

    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
    raw.close();

    const b = await opened(file);
    expect((await b.claim('d1', 10, T0, 1000)).map((i) => i.insertId)).toEqual(['x']);
    expect((await b.enqueue('web', [event('x')], { now: T0 + 1, dedupWindowMs: 1000 })).duplicates).toBe(1);
    await b.close();
  });

  it('two instances on one file interoperate', async () => {
    const file = path.join(tempDir(), 'q.db');
    const server = await opened(file);
    const cli = await opened(file); // e.g. `replay` or `dlq` next to a running server
    try {
      await cli.enqueue('web', [event('r1'), event('r2')], { now: T0, dedupWindowMs: 60_000 });
      expect((await server.enqueue('web', [event('r1')], { now: T0 + 1, dedupWindowMs: 60_000 })).duplicates).toBe(1);
      const items = await server.claim('d1', 10, T0, 30_000);
      expect(items.map((i) => i.insertId)).toEqual(['r1', 'r2']);
      expect(await cli.claim('d1', 10, T0, 30_000)).toEqual([]);
      expect(await server.complete(items[0]!)).toBe(true);
      expect(
        await server.deadLetter(items[1]!, {
          reason: 'rejected',
          httpStatus: 400,
          extoleCode: 'event_blocked',
          extoleMessage: 'blocked',
          attempts: 1,
          firstAttemptAt: T0,
          lastAttemptAt: T0,
          configRevision: 'rev',
          request: '{}',
        }),
      ).toBe(true);
      expect(await cli.stats(T0)).toEqual({ d1: { pending: 0, leased: 0, deadLetters: 1, oldestEnqueuedAt: null } });
      expect((await cli.listDeadLetters({ destination: 'd1' })).map((d) => d.insertId)).toEqual(['r2']);
      expect(await cli.deleteDeadLetters({ reason: 'rejected' })).toBe(1);
      expect(await server.listDeadLetters()).toEqual([]);
    } finally {
      await server.close();
      await cli.close();
    }
  });

  it('answers QueueUnavailableError when the store cannot be used', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'not-a-folder'), 'x');
    const bad = new SqliteQueue({ path: path.join(dir, 'not-a-folder', 'q.db') });
    await expect(bad.open()).rejects.toBeInstanceOf(QueueUnavailableError);

    const garbage = path.join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not a SQLite database, just text that is long enough '.repeat(100));
    await expect(new SqliteQueue({ path: garbage }).open()).rejects.toMatchObject({ code: 'ES_QUEUE_UNAVAILABLE' });

    const never = new SqliteQueue({ path: path.join(dir, 'never.db') });
    await expect(never.stats(T0)).rejects.toMatchObject({ code: 'ES_QUEUE_UNAVAILABLE' });
  });

  it('migrates a version-1 file: leases move out of the rows and stay in force; the old columns are gone', async () => {
    // A file as the previous release left it: one row leased until T0 + 60 s, one whose lease
    // expired at T0 - 1, one never leased.
    const { file, old } = fileAtVersion(1);
    const insert = old.prepare(
      `INSERT INTO deliveries (destination, project, insert_id, path, body, event, enqueued_at, run_at, lease_token, lease_until)
       VALUES ('d1', 'web', ?, '/v6/async-events', '{}', '{}', ?, ?, ?, ?)`,
    );
    const live = Number(insert.run('live', T0, T0, 'old-live', T0 + 60_000).lastInsertRowid);
    insert.run('expired', T0 + 1, T0 + 1, 'old-expired', T0 - 1);
    insert.run('free', T0 + 2, T0 + 2, null, null);
    old.close();

    const queue = await opened(file);
    try {
      expect(await queue.stats(T0 + 10)).toEqual({ d1: { pending: 2, leased: 1, deadLetters: 0, oldestEnqueuedAt: T0 } });
      // The live lease holds: only the other two are claimed, in run_at order.
      const claimed = await queue.claim('d1', 10, T0 + 10, 1000);
      expect(claimed.map((i) => i.insertId)).toEqual(['expired', 'free']);
      // The expired lease was taken over: its old token no longer settles the row.
      expect(await queue.complete({ id: claimed[0]!.id, leaseToken: 'old-expired' })).toBe(false);
      // The live lease's holder (a server that was running across the upgrade) still settles its row.
      expect(await queue.complete({ id: String(live), leaseToken: 'old-live' })).toBe(true);
      expect(await queue.complete(claimed[0]!)).toBe(true);
      expect(await queue.stats(T0 + 10)).toEqual({ d1: { pending: 0, leased: 1, deadLetters: 0, oldestEnqueuedAt: T0 + 2 } });
    } finally {
      await queue.close();
    }
    const raw = new Database(file, { readonly: true });
    const columns = raw.prepare("SELECT name FROM pragma_table_info('deliveries')").pluck().all();
    expect(columns).not.toContain('lease_token');
    expect(columns).not.toContain('lease_until');
    // A server of the old version still on this file fails loudly instead of leasing on its own.
    expect(() => raw.prepare('SELECT id FROM deliveries WHERE lease_token IS NULL')).toThrow(/no such column/);
    raw.close();
  });


  it('migrates a version-3 file: stats counts from the claim index, never reading a delivery row whole', async () => {
    const { file, old } = fileAtVersion(3);
    const insert = old.prepare(
      `INSERT INTO deliveries (destination, project, insert_id, path, body, event, enqueued_at, run_at) VALUES (?, 'web', ?, '/p', '{}', '{}', ?, ?)`,
    );
    // Enqueued out of time order on purpose: the oldest is the smallest enqueued_at, not the first id.
    insert.run('d1', 'a', T0 + 5, T0 + 5);
    insert.run('d1', 'b', T0 + 1, T0 + 50);
    insert.run('d2', 'c', T0 + 9, T0 + 9);
    old.close();

    const queue = await opened(file);
    try {
      const [leased] = await queue.claim('d1', 1, T0 + 10, 60_000);
      expect(leased!.insertId).toBe('a');
      expect(await queue.stats(T0 + 10)).toEqual({
        d1: { pending: 1, leased: 1, deadLetters: 0, oldestEnqueuedAt: T0 + 1 },
        d2: { pending: 1, leased: 0, deadLetters: 0, oldestEnqueuedAt: T0 + 9 },
      });
      // Once its lease has expired, the row counts as pending again.
      expect((await queue.stats(T0 + 120_000))['d1']).toMatchObject({ pending: 2, leased: 0 });
    } finally {
      await queue.close();
    }
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT name FROM pragma_index_info('deliveries_due')").pluck().all()).toEqual(['destination', 'run_at', 'id', 'enqueued_at']);
    const plan = (sql: string, ...params: unknown[]) => (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
    expect(plan(SQLITE_STATS_SQL.queued)).toEqual(['SCAN deliveries USING COVERING INDEX deliveries_due']);
    // The leases table is scanned, each lease's row found by its id.
    expect(plan(SQLITE_STATS_SQL.leased, T0)).toEqual([expect.stringMatching(/^SCAN l\b/), expect.stringMatching(/^SEARCH d USING INTEGER PRIMARY KEY/), 'USE TEMP B-TREE FOR GROUP BY']);
    raw.close();
  });

  it('migrates a version-4 file: dead letters are counted by triggers, exactly, and stats never scans them', async () => {
    const { file, old } = fileAtVersion(4);
    const insertDead = old.prepare(
      `INSERT INTO dead_letters (id, destination, project, event, request, reason, attempts, first_attempt_at, last_attempt_at, config_revision, created_at)
       VALUES (?, ?, 'web', '{}', '{}', 'rejected', 1, ?, ?, 'rev', ?)`,
    );
    for (const [id, destination] of [[1001, 'd1'], [1002, 'd1'], [1003, 'd1'], [1004, 'd2'], [1005, 'd2']] as const) insertDead.run(id, destination, T0, T0, T0);
    old.close();

    const queue = await opened(file);
    try {
      // The counts start from what the file held.
      expect(await queue.stats(T0)).toEqual({
        d1: { pending: 0, leased: 0, deadLetters: 3, oldestEnqueuedAt: null },
        d2: { pending: 0, leased: 0, deadLetters: 2, oldestEnqueuedAt: null },
      });
      // A move to the dead letters counts; a refused one (lease lost) does not.
      await queue.enqueue('web', [event('a'), event('b')], { now: T0, dedupWindowMs: 0 });
      const [a, b] = await queue.claim('d1', 2, T0, 60_000);
      const dead = { reason: 'rejected' as const, httpStatus: 400, extoleCode: 'x', extoleMessage: 'no', attempts: 1, firstAttemptAt: T0, lastAttemptAt: T0, configRevision: 'rev', request: '{}' };
      expect(await queue.deadLetter(a!, dead)).toBe(true);
      expect(await queue.deadLetter({ id: b!.id, leaseToken: 'not-the-lease' }, dead)).toBe(false);
      expect((await queue.stats(T0))['d1']).toMatchObject({ leased: 1, deadLetters: 4 });
      // Purged: a destination left with nothing is no longer listed.
      expect(await queue.deleteDeadLetters({ destination: 'd2' })).toBe(2);
      expect(Object.keys(await queue.stats(T0))).toEqual(['d1']);
      // Another connection's writes count too (a `dlq` run beside the server).
      const other = new Database(file);
      other.prepare('DELETE FROM dead_letters WHERE id = 1001').run();
      other.close();
      expect((await queue.stats(T0))['d1']!.deadLetters).toBe(3);
    } finally {
      await queue.close();
    }
    const raw = new Database(file, { readonly: true });
    const counted = raw.prepare('SELECT destination, dead FROM dead_letter_counts WHERE dead > 0 ORDER BY destination').all();
    expect(counted).toEqual(raw.prepare('SELECT destination, COUNT(*) AS dead FROM dead_letters GROUP BY destination ORDER BY destination').all());
    const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${SQLITE_STATS_SQL.dead}`).all() as { detail: string }[]).map((r) => r.detail);
    expect(plan).toEqual([expect.stringMatching(/^SCAN dead_letter_counts\b/)]);
    raw.close();
  });

  it('fails fast with QueueUnavailableError (SQLITE_BUSY) while another process holds the write lock', async () => {
    const { queue, locker } = await queueAndLocker(50);
    try {
      locker.prepare('BEGIN IMMEDIATE').run();
      const err = await queue.enqueue('web', [event('x')], { now: T0, dedupWindowMs: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect((err as QueueUnavailableError).message).toContain('SQLITE_BUSY');
      locker.prepare('ROLLBACK').run();
      // Nothing half-written; once the lock is gone the same call succeeds.
      expect((await queue.enqueue('web', [event('x')], { now: T0, dedupWindowMs: 0 })).deliveries).toBe(1);
      expect(await queue.claim('d1', 10, T0, 1000)).toHaveLength(1);
    } finally {
      locker.close();
      await queue.close();
    }
  });

  it('several processes enqueue and consume one file: every row exactly once, de-duplication shared', async () => {
    const dir = tempDir();
    const build = path.join(dir, 'build');
    // Compile the driver (and what it imports) for plain Node child processes.
    for (const rel of ['src/errors.ts', 'src/queue/types.ts', 'src/queue/common.ts', 'src/queue/sqlite-dedup.ts', 'src/queue/packed.ts', 'src/queue/sqlite-enqueuer.ts', 'src/queue/sqlite.ts']) {
      const out = ts.transpileModule(readFileSync(path.join(repoRoot, rel), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      }).outputText;
      const target = path.join(build, rel.replace(/\.ts$/, '.js'));
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, out);
    }
    writeFileSync(path.join(build, 'package.json'), '{"type":"module"}');
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(build, 'node_modules'), 'dir');
    writeFileSync(
      path.join(build, 'worker.js'),
      `import { SqliteQueue } from './src/queue/sqlite.js';
const [file, who] = process.argv.slice(2);
const q = new SqliteQueue({ path: file });
await q.open();
const ev = (id, label) => ({ insertId: id, event: '{}', deliveries: [{ destination: 'd1', path: '/p', body: label }] });
const shared = Array.from({ length: 40 }, (_, i) => ev('shared-' + i, 'shared-' + i));
const own = Array.from({ length: 40 }, (_, i) => ev(null, who + '-' + i));
const r1 = await q.enqueue('web', shared.slice(0, 20).concat(own.slice(0, 20)), { now: ${T0}, dedupWindowMs: 60000 });
const done = [];
let lost = 0;
const drain = async () => {
  for (;;) {
    const batch = await q.claim('d1', 5, ${T0}, 60000);
    if (batch.length === 0) return;
    for (const item of batch) (await q.complete(item)) ? done.push(item.body) : lost++;
  }
};
await drain();
const r2 = await q.enqueue('web', shared.slice(20).concat(own.slice(20)), { now: ${T0}, dedupWindowMs: 60000 });
await drain();
await q.close();
process.stdout.write(JSON.stringify({ accepted: r1.accepted + r2.accepted, done, lost }));
`,
    );
    const file = path.join(dir, 'shared.db');
    await (await opened(file)).close();

    const run = (who: string) =>
      new Promise<{ accepted: number; done: string[]; lost: number }>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(build, 'worker.js'), file, who], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c));
        child.stderr.on('data', (c: Buffer) => (err += c));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker ${who} exited ${code}: ${err}`))));
      });
    const results = await Promise.all(['w1', 'w2', 'w3'].map(run));

    const done = results.flatMap((r) => r.done);
    expect(results.map((r) => r.lost)).toEqual([0, 0, 0]);
    // 3 × 40 own rows + the 40 shared insert_ids accepted once across all processes.
    expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(3 * 40 + 40);
    expect(done).toHaveLength(160);
    expect(new Set(done).size).toBe(160);
    const check = await opened(file);
    expect(await check.stats(T0)).toEqual({});
    await check.close();
  });
});

/**
 * A second connection to empty the WAL between measurements. The queue's checkpoint worker
 * (started by the first claim) may be checkpointing at that moment.
 */
function truncatingConnection(file: string): Database.Database {
  const raw = new Database(file);
  raw.pragma('busy_timeout = 5000');
  return raw;
}

function truncateWal(raw: Database.Database): void {
  // busy = 1: the checkpoint could not finish and the WAL still holds earlier frames. SQLite
  // answers that at once, without the busy timeout, while another connection checkpoints: retry.
  let result: { busy: number; log: number } | undefined;
  for (let attempt = 0; attempt < 200; attempt++) {
    [result] = raw.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[];
    if (result!.busy === 0) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  expect(result).toMatchObject({ busy: 0, log: 0 });
}

describe('SqliteQueue claim sizes', () => {
  it('a claim of each size from 1 to 300 (past the per-size statement cache) takes exactly that many rows, oldest first', async () => {
    const queue = await opened(path.join(tempDir(), 'q.db'));
    const total = (300 * 301) / 2;
    const ids = Array.from({ length: total }, (_, i) => `e${i}`);
    await queue.enqueue('web', ids.map((id) => event(id)), { now: T0, dedupWindowMs: 0 });
    let next = 0;
    for (let size = 1; size <= 300; size++) {
      const items = await queue.claim('d1', size, T0, 60_000);
      expect(items.map((item) => item.insertId)).toEqual(ids.slice(next, next + size));
      next += size;
    }
    expect(await queue.claim('d1', 5, T0, 60_000)).toEqual([]);
    await queue.close();
  });
});

describe('SqliteQueue group commit (one transaction per event-loop turn)', () => {
  /** A queue file with `n` rows enqueued and claimed, and a second connection to empty its WAL. */
  async function claimedRows(n: number) {
    const file = path.join(tempDir(), 'q.db');
    const queue = await opened(file);
    const ids = Array.from({ length: n }, (_, i) => `e${i}`);
    await queue.enqueue('web', ids.map((id) => event(id)), { now: T0, dedupWindowMs: 0 });
    const items = await queue.claim('d1', n, T0, 60_000);
    return { file, queue, items, raw: truncatingConnection(file) };
  }

  it('settles made in one turn share one commit: the WAL grows by a few pages, not one commit per row', async () => {
    const { file, queue, items, raw } = await claimedRows(60);
    const walBytes = (): number => statSync(`${file}-wal`).size;
    const checkpoint = (): void => truncateWal(raw);

    checkpoint();
    // 30 one by one, each awaited: one commit each.
    for (const item of items.slice(0, 30)) expect(await queue.complete(item)).toBe(true);
    const oneByOne = walBytes();
    checkpoint();
    // 30 in the same turn: one commit for all.
    const answers = await Promise.all(items.slice(30).map((item) => queue.complete(item)));
    const together = walBytes();
    raw.close();

    expect(answers).toEqual(new Array(30).fill(true));
    expect(oneByOne).toBeGreaterThanOrEqual(30 * 4096);
    expect(together).toBeLessThan(8 * 4096);
    expect(await queue.stats(T0)).toEqual({});
    await queue.close();
  });

  it('settles made in different turns a moment apart also share one commit (they wait a few ms for company)', async () => {
    const { file, queue, items, raw } = await claimedRows(30);
    truncateWal(raw);
    // Each complete in its own event-loop turn, as responses from Extole arrive.
    const answers: Promise<boolean>[] = [];
    for (const item of items) {
      answers.push(queue.complete(item));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all(answers)).toEqual(new Array(30).fill(true));
    // One commit per turn would write at least one page per row.
    expect(statSync(`${file}-wal`).size).toBeLessThan(8 * 4096);
    raw.close();
    expect(await queue.stats(T0)).toEqual({});
    await queue.close();
  });

  it('dead letters made in one turn share one commit with the settles; each caller gets its own answer', async () => {
    const { file, queue, items, raw } = await claimedRows(40);
    truncateWal(raw);
    const dead = (at: number) => ({
      reason: 'rejected' as const,
      httpStatus: 400,
      extoleCode: 'invalid_event',
      extoleMessage: 'no',
      attempts: 1,
      firstAttemptAt: at,
      lastAttemptAt: at,
      configRevision: 'rev',
      request: '{"method":"POST"}',
    });
    const [first, ...rest] = items;
    const answers = await Promise.all([
      ...rest.slice(0, 30).map((item) => queue.deadLetter(item, dead(T0))),
      ...rest.slice(30).map((item) => queue.complete(item)),
      queue.deadLetter({ id: first!.id, leaseToken: 'not-the-lease' }, dead(T0)),
    ]);
    // One commit for 39 rows: a commit per dead letter writes several pages each.
    expect(statSync(`${file}-wal`).size).toBeLessThan(24 * 4096);
    raw.close();
    expect(answers).toEqual([...new Array(39).fill(true), false]);
    const letters = await queue.listDeadLetters({ destination: 'd1' });
    expect(letters.map((l) => l.id)).toEqual(rest.slice(0, 30).map((i) => i.id));
    expect(letters[0]).toMatchObject({ reason: 'rejected', httpStatus: 400, extoleCode: 'invalid_event', attempts: 1, insertId: rest[0]!.insertId });
    // The row with the wrong token is still there, under its lease.
    expect(await queue.stats(T0)).toEqual({ d1: { pending: 0, leased: 1, deadLetters: 30, oldestEnqueuedAt: T0 } });
    await queue.close();
  });

  it('pruneDedup deletes a large log in chunks, serving the event loop in between, and keeps the newest row', async () => {
    const file = path.join(tempDir(), 'q.db');
    const queue = await opened(file);
    const raw = new Database(file);
    const insert = raw.prepare('INSERT INTO dedup_log (project, insert_id, first_seen) VALUES (?, ?, ?)');
    raw.transaction(() => {
      for (let i = 0; i < 50_000; i++) insert.run('web', `k${i}`, T0 + i);
    })();
    const count = () => raw.prepare('SELECT count(*) FROM dedup_log').pluck().get() as number;
    let turns = 0;
    let pruning = true;
    const spin = (): void => {
      turns++;
      if (pruning) setImmediate(spin);
    };
    setImmediate(spin);
    const deleted = await queue.pruneDedup(T0 + 45_000);
    pruning = false;
    expect(deleted).toBe(45_000);
    // At 20,000 rows a chunk: three deletes, each in its own turn.
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(count()).toBe(5_000);
    expect(raw.prepare('SELECT min(first_seen) FROM dedup_log').pluck().get()).toBe(T0 + 45_000);
    // Everything older than the whole log: all but the newest row go (seq never goes back).
    expect(await queue.pruneDedup(T0 + 1_000_000)).toBe(4_999);
    expect(raw.prepare('SELECT first_seen FROM dedup_log').pluck().all()).toEqual([T0 + 49_999]);
    expect(await queue.pruneDedup(T0 + 1_000_000)).toBe(0);
    raw.close();
    await queue.close();
  });

  it('a failing request in the batch rolls back alone; the others commit', async () => {
    const queue = await opened(path.join(tempDir(), 'q.db'));
    const opts = { now: T0, dedupWindowMs: 60_000 };
    // The second request's second event cannot be stored (a body that is not text).
    const [good, bad, alsoGood] = await Promise.allSettled([
      queue.enqueue('web', [event('a')], opts),
      queue.enqueue('web', [event('b'), event('c', { not: 'text' })], opts),
      queue.enqueue('web', [event('d')], opts),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: { accepted: 1, duplicates: 0, deliveries: 1 } });
    expect(alsoGood).toEqual({ status: 'fulfilled', value: { accepted: 1, duplicates: 0, deliveries: 1 } });
    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(QueueUnavailableError);
    expect((await queue.claim('d1', 10, T0, 1000)).map((i) => i.insertId)).toEqual(['a', 'd']);
    // 'b' was rolled back with its request, de-duplication record included.
    expect((await queue.enqueue('web', [event('b')], opts)).accepted).toBe(1);
    await queue.close();
  });

  it('calls take effect in call order: a claim sees a retry made just before it, not yet awaited', async () => {
    const queue = await opened(':memory:');
    await queue.enqueue('web', [event('a')], { now: T0, dedupWindowMs: 0 });
    const [item] = await queue.claim('d1', 1, T0, 60_000);
    const retried = queue.retry(item!, T0, { at: T0, status: 503, error: 'HTTP 503' });
    const again = await queue.claim('d1', 1, T0, 60_000);
    expect(await retried).toBe(true);
    expect(again.map((i) => [i.insertId, i.attempts])).toEqual([['a', 1]]);
    await queue.close();
  });

  it('close() commits what was already asked, then rejects new calls', async () => {
    const file = path.join(tempDir(), 'q.db');
    const queue = await opened(file);
    await queue.enqueue('web', [event('a'), event('b')], { now: T0, dedupWindowMs: 0 });
    const [a, b] = await queue.claim('d1', 2, T0, 60_000);
    const completed = queue.complete(a!);
    const enqueued = queue.enqueue('web', [event('c')], { now: T0, dedupWindowMs: 0 });
    await queue.close();
    expect(await completed).toBe(true);
    expect((await enqueued).deliveries).toBe(1);
    await expect(queue.complete(b!)).rejects.toBeInstanceOf(QueueUnavailableError);
    const reopened = await opened(file);
    expect((await reopened.claim('d1', 10, T0 + 120_000, 1000)).map((i) => i.insertId)).toEqual(['b', 'c']);
    await reopened.close();
  });
});

describe('SqliteQueue enqueue durability (fsync of the WAL off the event loop)', () => {
  /** An fsync the test finishes by hand; records what was synced. */
  function manualFsync() {
    const calls: { target: string; finish: (err?: Error) => void }[] = [];
    const fsync = (target: string) =>
      new Promise<void>((resolve, reject) => calls.push({ target, finish: (err) => (err ? reject(err) : resolve()) }));
    return { calls, fsync };
  }
  const turn = () => new Promise<void>((r) => setImmediate(r));

  it('answers an enqueue only after an fsync of the WAL that started after its commit; requests meanwhile share the next one', async () => {
    const file = path.join(tempDir(), 'q.db');
    const sync = manualFsync();
    const queue = new SqliteQueue({ path: file, fsync: sync.fsync });
    await queue.open();
    let firstDone = false;
    const first = queue.enqueue('web', [event('a')], { now: T0, dedupWindowMs: 0 }).then((r) => ((firstDone = true), r));
    await turn();
    await turn();
    expect(sync.calls.map((c) => c.target)).toEqual([`${file}-wal`]);
    expect(firstDone).toBe(false);
    // Two more requests commit while that fsync runs: they must wait for a later one.
    const second = queue.enqueue('web', [event('b')], { now: T0, dedupWindowMs: 0 });
    await turn();
    const third = queue.enqueue('web', [event('c')], { now: T0, dedupWindowMs: 0 });
    await turn();
    sync.calls[0]!.finish();
    await turn();
    // The folder too, once (a new WAL file is a new directory entry).
    expect(sync.calls.map((c) => c.target)).toEqual([`${file}-wal`, path.dirname(file)]);
    expect(firstDone).toBe(false);
    sync.calls[1]!.finish();
    expect((await first).accepted).toBe(1);
    await turn();
    // Then one fsync for both waiting requests.
    expect(sync.calls).toHaveLength(3);
    expect(sync.calls[2]!.target).toBe(`${file}-wal`);
    sync.calls[2]!.finish();
    expect([(await second).accepted, (await third).accepted]).toEqual([1, 1]);
    await queue.close();
  });

  it('a failed fsync fails the enqueue with QueueUnavailableError; settles do not wait for it', async () => {
    const sync = manualFsync();
    const queue = new SqliteQueue({ path: path.join(tempDir(), 'q.db'), fsync: sync.fsync });
    await queue.open();
    const failing = queue.enqueue('web', [event('a')], { now: T0, dedupWindowMs: 0 });
    await turn();
    await turn();
    sync.calls[0]!.finish(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(failing).rejects.toBeInstanceOf(QueueUnavailableError);
    const [item] = await queue.claim('d1', 1, T0, 1000);
    expect(await queue.complete(item!)).toBe(true);
    expect(sync.calls).toHaveLength(1);
    await queue.close();
  });

  it(':memory: has no WAL: enqueue commits with synchronous=FULL and syncs nothing itself', async () => {
    const sync = manualFsync();
    const queue = new SqliteQueue({ path: ':memory:', fsync: sync.fsync });
    await queue.open();
    expect((await queue.enqueue('web', [event('a')], { now: T0, dedupWindowMs: 0 })).accepted).toBe(1);
    expect(sync.calls).toHaveLength(0);
    await queue.close();
  });
});

describe('SqliteQueue enqueue worker (a server: enqueues commit off the event loop once it claims)', () => {
  const ticking = () => {
    const clock = { ticks: 0, timer: setInterval(() => clock.ticks++, 5) };
    return clock;
  };

  it('after the first claim, an enqueue waiting for another connection’s lock leaves the event loop free', async () => {
    const { queue, locker } = await queueAndLocker(3000);
    try {
      await queue.claim('d1', 1, T0, 1000);
      locker.prepare('BEGIN IMMEDIATE').run();
      const clock = ticking();
      const pending = queue.enqueue('web', [event('w1'), event('w2')], { now: T0, dedupWindowMs: 60_000 });
      await sleep(200);
      const ticksWhileLocked = clock.ticks;
      locker.prepare('ROLLBACK').run();
      const result = await pending;
      clearInterval(clock.timer);
      // On the event loop the enqueue would sit in SQLite's busy wait: no tick, and this test's
      // ROLLBACK could not run before the busy timeout.
      expect(ticksWhileLocked).toBeGreaterThanOrEqual(10);
      expect(result).toEqual({ accepted: 2, duplicates: 0, deliveries: 2 });
      expect((await queue.claim('d1', 10, T0, 1000)).map((i) => i.insertId)).toEqual(['w1', 'w2']);
    } finally {
      locker.close();
      await queue.close();
    }
  });

  it('meanwhile claims and settles wait for the lock without blocking the event loop, and give up after busyTimeoutMs', async () => {
    const { queue, locker } = await queueAndLocker(400);
    try {
      await queue.enqueue('web', [event('s1'), event('s2'), event('s3')], { now: T0, dedupWindowMs: 0 });
      const [first] = await queue.claim('d1', 1, T0, 60_000);
      locker.prepare('BEGIN IMMEDIATE').run();
      const clock = ticking();
      const claimed = queue.claim('d1', 1, T0, 60_000);
      const completed = queue.complete(first!);
      await sleep(150);
      const ticksWhileLocked = clock.ticks;
      locker.prepare('ROLLBACK').run();
      expect((await claimed).map((i) => i.insertId)).toEqual(['s2']);
      expect(await completed).toBe(true);
      expect(ticksWhileLocked).toBeGreaterThanOrEqual(10);

      // A lock held past busyTimeoutMs: the claim fails as a blocking wait would, the loop still ran.
      locker.prepare('BEGIN IMMEDIATE').run();
      const started = Date.now();
      const ticksBefore = clock.ticks;
      const err = await queue.claim('d1', 1, T0, 60_000).catch((e: unknown) => e);
      clearInterval(clock.timer);
      locker.prepare('ROLLBACK').run();
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect((err as Error).message).toContain('SQLITE_BUSY');
      expect(Date.now() - started).toBeGreaterThanOrEqual(380);
      expect(clock.ticks - ticksBefore).toBeGreaterThanOrEqual(20);
      // Nothing was lost: the row is still there for the next claim.
      expect((await queue.claim('d1', 5, T0, 60_000)).map((i) => i.insertId)).toEqual(['s3']);
    } finally {
      locker.close();
      await queue.close();
    }
  });

  it('if the worker dies, enqueues go back to the event loop, de-duplication intact', async () => {
    const file = path.join(tempDir(), 'q.db');
    const queue = await opened(file);
    const options = { now: T0, dedupWindowMs: 60_000 };
    try {
      await queue.claim('d1', 1, T0, 1000);
      expect(await queue.enqueue('web', [event('before')], options)).toMatchObject({ accepted: 1 });
      // Fault injection: end the worker as a crash would (its handle is private on purpose).
      const { enqueuer } = queue as unknown as { enqueuer: { worker: { terminate(): Promise<number> }; failed: boolean } };
      await enqueuer.worker.terminate();
      await vi.waitFor(() => expect(enqueuer.failed).toBe(true));
      expect(await queue.enqueue('web', [event('after'), event('before')], options)).toEqual({
        accepted: 1,
        duplicates: 1,
        duplicateIndexes: [1],
        deliveries: 1,
      });
      expect((await queue.claim('d1', 10, T0, 1000)).map((i) => i.insertId)).toEqual(['before', 'after']);
    } finally {
      await queue.close();
    }
  });

  it('shares de-duplication with enqueues made before it started, and close() answers what was sent to it', async () => {
    const file = path.join(tempDir(), 'q.db');
    const queue = await opened(file);
    const options = { now: T0, dedupWindowMs: 60_000 };
    expect(await queue.enqueue('web', [event('a')], options)).toEqual({ accepted: 1, duplicates: 0, deliveries: 1 }); // on the event loop
    await queue.claim('d1', 10, T0, 1000); // the worker starts
    expect(await queue.enqueue('web', [event('b'), event('a'), event('b')], options)).toEqual({
      accepted: 1,
      duplicates: 2,
      duplicateIndexes: [1, 2],
      deliveries: 1,
    });
    const unanswered = queue.enqueue('web', [event('c')], options);
    await queue.close();
    await expect(unanswered).resolves.toEqual({ accepted: 1, duplicates: 0, deliveries: 1 });

    const reopened = await opened(file);
    try {
      expect((await reopened.claim('d1', 10, T0, 1000)).map((i) => i.insertId)).toEqual(['b', 'c']);
    } finally {
      await reopened.close();
    }
  });
});

describe('SqliteQueue checkpoints', () => {
  it('once delivery claims, a worker thread copies the WAL into the database file (no commit does it)', async () => {
    const file = path.join(tempDir(), 'q.db');
    const queue = await opened(file);
    const body = JSON.stringify({ pad: 'x'.repeat(2000) });
    const events = Array.from({ length: 200 }, (_, i) => ({ insertId: `e${i}`, event: '{}', deliveries: [{ destination: 'd1', path: '/p', body }] }));
    await queue.enqueue('web', events, { now: T0, dedupWindowMs: 0 });
    // ~100 pages: far under SQLite's own auto-checkpoint (1000), so only the worker can move them.
    const before = statSync(file).size;
    expect(before).toBeLessThan(100_000);
    await queue.claim('d1', 1, T0, 60_000);
    const deadline = Date.now() + 10_000;
    while (statSync(file).size < 400_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(file).size).toBeGreaterThanOrEqual(400_000);
    await queue.close();
  });

  it('once delivery claims, stats counts on the checkpoint worker’s connection (the event loop turns meanwhile) and falls back when it is gone', async () => {
    const file = path.join(tempDir(), 'q.db');
    const queue = await opened(file);
    const reader = await opened(file); // never claims: counts on its own connection, on the event loop
    try {
      const events = (destination: string, n: number, from: number) =>
        Array.from({ length: n }, (_, i) => ({ insertId: `${destination}-${from + i}`, event: '{}', deliveries: [{ destination, path: '/p', body: '{}' }] }));
      await queue.enqueue('web', events('d1', 30, 0), { now: T0, dedupWindowMs: 0 });
      await queue.enqueue('web', events('d2', 5, 0), { now: T0 + 7, dedupWindowMs: 0 });
      const dead = { reason: 'rejected' as const, httpStatus: 400, extoleCode: 'x', extoleMessage: 'no', attempts: 1, firstAttemptAt: T0, lastAttemptAt: T0, configRevision: 'rev', request: '{}' };
      const claimed = await queue.claim('d1', 4, T0, 60_000); // starts the checkpoint worker
      expect(await queue.deadLetter(claimed[0]!, dead)).toBe(true);
      // Not awaited: stats still sees it (calls take effect in call order).
      void queue.complete(claimed[1]!);

      let turns = 0;
      let spinning = true;
      const spin = (): void => {
        if (!spinning) return;
        turns++;
        setImmediate(spin);
      };
      setImmediate(spin);
      const counted = await queue.stats(T0 + 10);
      spinning = false;
      // Counted here, the answer would be ready before any other callback could run.
      expect(turns).toBeGreaterThan(0);
      const expected = {
        d1: { pending: 26, leased: 2, deadLetters: 1, oldestEnqueuedAt: T0 },
        d2: { pending: 5, leased: 0, deadLetters: 0, oldestEnqueuedAt: T0 + 7 },
      };
      expect(counted).toEqual(expected);
      expect(await reader.stats(T0 + 10)).toEqual(expected);

      // The worker goes away while asked: the call is answered all the same, on the event loop.
      const worker = (queue as unknown as { checkpointer: { terminate(): Promise<number> } }).checkpointer;
      const asked = queue.stats(T0 + 10);
      void worker.terminate();
      expect(await asked).toEqual(expected);
      expect(await queue.stats(T0 + 10)).toEqual(expected);
    } finally {
      await reader.close();
      await queue.close();
    }
  });
});
