/**
 * One behaviour suite for every Queue driver (SPEC §7). Each driver's test file calls
 * `runQueueConformance` with a factory for a fresh, empty, opened store. Time is always
 * injected (`now`), never waited for.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetterInput, IngestEvent, Queue, QueueItem } from '../../src/queue/types.js';
import { packEvents } from '../../src/queue/packed.js';

export interface QueueHarness {
  /** An opened queue on a fresh, empty store. */
  queue: Queue;
  /** Closes everything and removes the store. */
  cleanup(): Promise<void>;
  /**
   * Another opened connection to the SAME store (a second server or process). Without it the
   * concurrency cases share `queue` (still concurrent calls, one connection).
   */
  connect?(): Promise<Queue>;
}

const T0 = 1_700_000_000_000;
const LEASE = 30_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
const opts = (now: number, dedupWindowMs = WEEK) => ({ now, dedupWindowMs });

/** An event with one delivery per destination; the body names the event so order is visible. */
function ev(insertId: string | null, destinations: string[] = ['d1'], label = insertId ?? 'anon'): IngestEvent {
  return {
    insertId,
    event: JSON.stringify({ event_type: 'Order Completed', insert_id: insertId, label }),
    deliveries: destinations.map((destination) => ({
      destination,
      path: '/v6/async-events',
      body: JSON.stringify({ event_name: 'order_completed', data: { label, destination } }),
    })),
  };
}

const labelOf = (item: QueueItem): string => (JSON.parse(item.body) as { data: { label: string } }).data.label;

function deadInput(overrides: Partial<DeadLetterInput> = {}): DeadLetterInput {
  return {
    reason: 'rejected',
    httpStatus: 400,
    extoleCode: 'missing_event_name',
    extoleMessage: 'The event name is missing',
    attempts: 2,
    firstAttemptAt: T0 + 100,
    lastAttemptAt: T0 + 2_000,
    configRevision: 'abc123+sha256:0f0f',
    request: JSON.stringify({
      method: 'POST',
      url: 'https://events.extole.io/v6/async-events',
      headers: { authorization: 'Bearer ***' },
      body: { event_name: '' },
    }),
    ...overrides,
  };
}

/**
 * Registers the conformance cases for one driver.
 * @param name driver name used in the test titles
 * @param makeQueue factory for a fresh, opened, empty store (called before every case)
 */
export function runQueueConformance(name: string, makeQueue: () => Promise<QueueHarness>): void {
  describe(`Queue conformance: ${name}`, () => {
    let h: QueueHarness;
    let q: Queue;
    const extra: Queue[] = [];

    /** Another connection to the store (closed after the case), or the same queue. */
    async function another(): Promise<Queue> {
      if (!h.connect) return q;
      const other = await h.connect();
      extra.push(other);
      return other;
    }

    /** Every row of `destination` claimable far in the future (leases long expired). */
    async function drainLater(destination = 'd1'): Promise<QueueItem[]> {
      return q.claim(destination, 10_000, T0 + 365 * DAY, LEASE);
    }

    beforeEach(async () => {
      h = await makeQueue();
      q = h.queue;
    });

    afterEach(async () => {
      for (const other of extra.splice(0)) await other.close();
      await h.cleanup();
    });

    it('takes packed events (as the ingest worker thread sends them) exactly as events, repeats included', async () => {
      const r1 = await q.enqueue('web', packEvents([ev('p1'), ev(null, ['d1', 'd2'], 'anon-p'), ev('p2', [])]), opts(T0));
      expect(r1).toEqual({ accepted: 3, duplicates: 0, deliveries: 3 });
      const r2 = await q.enqueue('web', packEvents([ev('p1'), ev('p3')]), opts(T0));
      expect(r2).toEqual({ accepted: 1, duplicates: 1, deliveries: 1, duplicateIndexes: [0] });
      const items = await q.claim('d1', 10, T0, LEASE);
      expect(items.map(labelOf)).toEqual(['p1', 'anon-p', 'p3']);
      expect(items[1]).toMatchObject({ insertId: null, event: ev(null, ['d1', 'd2'], 'anon-p').event });
      expect((await q.claim('d2', 10, T0, LEASE)).map(labelOf)).toEqual(['anon-p']);
    });

    it('keeps non-ASCII text exact through packed events, before and after its first claim', async () => {
      // SQLite commits on its own connection until the first claim, then on its enqueue worker:
      // both paths, with text that packs as UTF-8 bytes and text that cannot (a lone surrogate).
      const texts = ['Zürich 😀 Łódź ✓', 'ascii only', 'lone \ud800 surrogate'];
      const eventOf = (id: string, text: string): IngestEvent => ({
        insertId: id,
        event: JSON.stringify({ event_type: 'Order Completed', city: text }),
        deliveries: [{ destination: 'd1', path: '/v6/events', body: `{"data":{"label":"${id}","city":"${text}"}}` }],
      });
      const before = texts.map((t, i) => eventOf(`before-${i}-${t}`, t));
      await q.enqueue('web', packEvents([before[0]!, before[1]!]), opts(T0));
      // Accepted, not taken for a repeat of itself (PostgreSQL gives the key back as U+FFFD).
      expect(await q.enqueue('web', packEvents([before[2]!]), opts(T0))).toEqual({ accepted: 1, duplicates: 0, deliveries: 1 });
      const first = await q.claim('d1', 10, T0, LEASE);
      const after = texts.map((t, i) => eventOf(`after-${i}-${t}`, t));
      await q.enqueue('web', packEvents([after[0]!, after[1]!]), opts(T0));
      expect(await q.enqueue('web', packEvents([after[2]!]), opts(T0))).toEqual({ accepted: 1, duplicates: 0, deliveries: 1 });
      const second = await q.claim('d1', 10, T0, LEASE);
      const seen = (items: QueueItem[]) => items.map((item) => ({ insertId: item.insertId, event: item.event, body: item.body }));
      const sent = (events: IngestEvent[]) => events.map((e) => ({ insertId: e.insertId, event: e.event, body: e.deliveries[0]!.body }));
      // Well-formed text comes back exactly as it was sent.
      expect(seen(first).slice(0, 2)).toEqual(sent(before).slice(0, 2));
      expect(seen(second).slice(0, 2)).toEqual(sent(after).slice(0, 2));
      // A lone surrogate cannot be stored as UTF-8 (each driver replaces it in its own way), but
      // both commit paths store the same thing.
      expect(seen(second)[2]).toEqual({ ...seen(first)[2]!, insertId: seen(first)[2]!.insertId!.replace('before', 'after'), body: seen(first)[2]!.body.replace('before', 'after') });
    });

    it('reports its driver name', () => {
      expect(['sqlite', 'postgres']).toContain(q.driver);
    });

    it('claims by run_at, then enqueue order, with every field filled in', async () => {
      const r1 = await q.enqueue('web', [ev('a1'), ev('a2'), ev('a3', ['d1', 'd2'])], opts(T0));
      expect(r1).toEqual({ accepted: 3, duplicates: 0, deliveries: 4 });
      await q.enqueue('web', [ev('early')], opts(T0 - 1_000));
      await q.enqueue('ios', [ev('a4')], opts(T0));

      const items = await q.claim('d1', 10, T0, LEASE);
      expect(items.map(labelOf)).toEqual(['early', 'a1', 'a2', 'a3', 'a4']);
      const a1 = items[1]!;
      expect(a1).toMatchObject({
        destination: 'd1',
        project: 'web',
        insertId: 'a1',
        path: '/v6/async-events',
        event: ev('a1').event,
        body: ev('a1').deliveries[0]!.body,
        attempts: 0,
        enqueuedAt: T0,
        firstAttemptAt: null,
        leaseUntil: T0 + LEASE,
      });
      expect(typeof a1.id).toBe('string');
      expect(a1.id).toMatch(/^[0-9]+$/);
      expect(a1.leaseToken.length).toBeGreaterThanOrEqual(16);
      expect(items[4]!.project).toBe('ios');
      expect(new Set(items.map((i) => i.id)).size).toBe(5);

      // A retry scheduled earlier than the others moves that row to the front.
      expect(await q.retry(items[1]!, T0 - 2_000, { at: T0 + 5, status: 503, error: 'HTTP 503' })).toBe(true);
      expect(await q.release([items[0]!, ...items.slice(2)])).toBeUndefined();
      const again = await q.claim('d1', 10, T0, LEASE);
      expect(again.map(labelOf)).toEqual(['a1', 'early', 'a2', 'a3', 'a4']);
      // All released to the same run_at: ties fall back to enqueue order ('early' came 4th).
      await q.release(again, T0 + 20);
      expect(await q.claim('d1', 10, T0 + 19, LEASE)).toEqual([]);
      expect((await q.claim('d1', 10, T0 + 20, LEASE)).map(labelOf)).toEqual(['a1', 'a2', 'a3', 'early', 'a4']);

      // The other destination's rows are separate.
      expect((await q.claim('d2', 10, T0, LEASE)).map(labelOf)).toEqual(['a3']);
      expect(await q.claim('nope', 10, T0, LEASE)).toEqual([]);
    });

    it('an empty enqueue commits nothing and claims of nothing are empty', async () => {
      expect(await q.enqueue('web', [], opts(T0))).toEqual({ accepted: 0, duplicates: 0, deliveries: 0 });
      expect(await q.claim('d1', 10, T0, LEASE)).toEqual([]);
      expect(await q.stats(T0)).toEqual({});
    });

    it('claims at most `limit` rows, and nothing scheduled for later', async () => {
      await q.enqueue('web', ['1', '2', '3', '4', '5'].map((id) => ev(id)), opts(T0));
      expect(await q.claim('d1', 5, T0 - 1, LEASE)).toEqual([]);
      expect((await q.claim('d1', 2, T0, LEASE)).map(labelOf)).toEqual(['1', '2']);
      expect((await q.claim('d1', 2, T0, LEASE)).map(labelOf)).toEqual(['3', '4']);
      expect((await q.claim('d1', 2, T0, LEASE)).map(labelOf)).toEqual(['5']);
      expect(await q.claim('d1', 2, T0, LEASE)).toEqual([]);
      expect(await q.claim('d1', 0, T0 + 10 * LEASE, LEASE)).toEqual([]);
    });

    it('never hands out a row under a live lease', async () => {
      await q.enqueue('web', [ev('x'), ev('y')], opts(T0));
      const first = await q.claim('d1', 10, T0, LEASE);
      expect(first).toHaveLength(2);
      expect(await q.claim('d1', 10, T0, LEASE)).toEqual([]);
      expect(await q.claim('d1', 10, T0 + LEASE - 1, LEASE)).toEqual([]);
      const other = await another();
      expect(await other.claim('d1', 10, T0 + LEASE - 1, LEASE)).toEqual([]);
    });

    it('redelivers after the lease expires, with a new token', async () => {
      await q.enqueue('web', [ev('x')], opts(T0));
      const [first] = await q.claim('d1', 10, T0, LEASE);
      const [second] = await q.claim('d1', 10, T0 + LEASE, 5_000);
      expect(second).toBeDefined();
      expect(second!.id).toBe(first!.id);
      expect(second!.leaseToken).not.toBe(first!.leaseToken);
      expect(second!.leaseUntil).toBe(T0 + LEASE + 5_000);
      expect(second!.attempts).toBe(0);
    });

    it('fences settle calls: a stale token changes nothing', async () => {
      await q.enqueue('web', [ev('x'), ev('y')], opts(T0));
      const stale = await q.claim('d1', 10, T0, LEASE);
      const fresh = await q.claim('d1', 10, T0 + LEASE, LEASE);
      expect(fresh).toHaveLength(2);
      const [sx, sy] = stale;
      expect(await q.complete(sx!)).toBe(false);
      expect(await q.retry(sx!, T0, { at: T0 + 1, status: 500, error: 'boom' })).toBe(false);
      expect(await q.deadLetter(sy!, deadInput())).toBe(false);
      await q.release(stale, T0);
      // Unknown or malformed ids are simply not found.
      expect(await q.complete({ id: '999999999', leaseToken: fresh[0]!.leaseToken })).toBe(false);
      expect(await q.complete({ id: 'not-an-id', leaseToken: fresh[0]!.leaseToken })).toBe(false);
      expect(await q.complete({ id: fresh[0]!.id, leaseToken: '' })).toBe(false);

      // Nothing moved: both rows still leased by the fresh holder, no attempts, no dead letters.
      expect(await q.stats(T0 + LEASE)).toEqual({
        d1: { pending: 0, leased: 2, deadLetters: 0, oldestEnqueuedAt: T0 },
      });
      expect(await q.listDeadLetters()).toEqual([]);
      expect(await q.complete(fresh[0]!)).toBe(true);
      expect(await q.complete(fresh[0]!)).toBe(false); // settled once only
      expect(await q.retry(fresh[1]!, T0 + LEASE + 1, { at: T0 + LEASE, status: 500, error: 'x' })).toBe(true);
      const [redo] = await drainLater();
      expect(redo!.id).toBe(fresh[1]!.id);
      expect(redo!.attempts).toBe(1); // the stale retry did not count
    });

    it('completeMany settles a batch in one call, fenced per row, answers in input order', async () => {
      expect(typeof q.completeMany).toBe('function'); // both drivers implement the optional method
      const completeMany = q.completeMany!.bind(q);
      expect(await completeMany([])).toEqual([]);
      await q.enqueue('web', ['a', 'b', 'c', 'd', 'e'].map((id) => ev(id, ['d1', 'd2'])), opts(T0));
      const stale = await q.claim('d1', 2, T0, LEASE); // a, b: their lease runs out and moves on
      const retaken = await q.claim('d1', 2, T0 + LEASE, LEASE); // a, b again, new tokens
      const rest = await q.claim('d1', 10, T0 + LEASE, LEASE); // c, d, e
      expect(retaken.map(labelOf)).toEqual(['a', 'b']);
      expect(rest.map(labelOf)).toEqual(['c', 'd', 'e']);
      const [c, d, e] = rest;
      const answers = await completeMany([
        stale[0]!, // stale token: false
        c!,
        { id: 'not-an-id', leaseToken: c!.leaseToken }, // malformed: false
        retaken[1]!,
        c!, // named twice: only the first mention owns it
        e!,
        { id: '999999999', leaseToken: e!.leaseToken }, // unknown: false
      ]);
      expect(answers).toEqual([false, true, false, true, false, true, false]);
      // d and retaken a are still leased; nothing else of d1 is left; d2 untouched.
      expect(await q.stats(T0 + LEASE)).toEqual({
        d1: { pending: 0, leased: 2, deadLetters: 0, oldestEnqueuedAt: T0 },
        d2: { pending: 5, leased: 0, deadLetters: 0, oldestEnqueuedAt: T0 },
      });
      expect(await completeMany([d!, retaken[0]!, stale[1]!])).toEqual([true, true, false]);
      expect(await completeMany([d!])).toEqual([false]); // settled once only
      expect(await drainLater('d1')).toEqual([]);
      expect(await drainLater('d2')).toHaveLength(5);
    });

    it('many concurrent completes each get their own row\'s answer', async () => {
      await q.enqueue('web', Array.from({ length: 60 }, (_, i) => ev(`m${i}`)), opts(T0));
      const stale = await q.claim('d1', 30, T0, LEASE); // m0..m29, lease lost below
      const fresh = await q.claim('d1', 100, T0 + LEASE, LEASE); // all 60, new tokens
      expect(fresh).toHaveLength(60);
      // Fire everything at once (delivery settles this way): 30 stale, 60 fresh, 10 repeated.
      const calls = [...stale, ...fresh, ...fresh.slice(50)];
      const answers = await Promise.all(calls.map((item) => q.complete(item)));
      expect(answers.slice(0, 30).every((a) => a === false)).toBe(true);
      expect(answers.slice(30, 90).every((a) => a === true)).toBe(true);
      expect(answers.slice(90).every((a) => a === false)).toBe(true);
      expect(await q.stats(T0 + LEASE)).toEqual({});
    });

    it('concurrent completes of one claim whose lease moved on for some of its rows: each row answered for itself', async () => {
      await q.enqueue('web', ['p', 'q', 'r', 's', 't'].map((id) => ev(id)), opts(T0));
      const first = await q.claim('d1', 5, T0, LEASE); // p…t, one token
      expect(first.map(labelOf)).toEqual(['p', 'q', 'r', 's', 't']);
      await q.release([first[1]!, first[3]!], T0); // q and s go back…
      const second = await q.claim('d1', 5, T0, LEASE); // …and are taken by another claim
      expect(second.map(labelOf)).toEqual(['q', 's']);
      const answers = await Promise.all([...first, first[0]!].map((item) => q.complete(item)));
      expect(answers).toEqual([true, false, true, false, true, false]);
      // The other claim still holds q and s.
      expect(await q.stats(T0)).toEqual({ d1: { pending: 0, leased: 2, deadLetters: 0, oldestEnqueuedAt: T0 } });
      expect(await Promise.all(second.map((item) => q.complete(item)))).toEqual([true, true]);
      expect(await q.stats(T0)).toEqual({});
    });

    it('many concurrent retries and dead letters each get their own row\'s answer', async () => {
      await q.enqueue('web', Array.from({ length: 60 }, (_, i) => ev(`r${i}`)), opts(T0));
      const stale = await q.claim('d1', 30, T0, LEASE); // r0..r29, lease lost below
      const fresh = await q.claim('d1', 100, T0 + LEASE, LEASE); // all 60, new tokens
      expect(fresh).toHaveLength(60);
      const retried = fresh.slice(0, 30);
      const dead = fresh.slice(30);
      // Fired at once, as delivery settles: stale tokens, fresh ones, and repeats of both kinds.
      const answers = await Promise.all([
        ...stale.map((item) => q.retry(item, T0 + LEASE + 5_000, { at: T0 + LEASE, status: 503, error: 'HTTP 503' })),
        ...stale.map((item) => q.deadLetter(item, deadInput())),
        ...retried.map((item) => q.retry(item, T0 + LEASE + 5_000, { at: T0 + LEASE + 1, status: 429, error: 'HTTP 429' })),
        ...dead.map((item, i) => q.deadLetter(item, deadInput({ httpStatus: 400 + (i % 3), attempts: 1 + i }))),
        ...retried.slice(0, 5).map((item) => q.retry(item, T0, { at: T0, status: 500, error: 'again' })),
        ...dead.slice(0, 5).map((item) => q.deadLetter(item, deadInput())),
      ]);
      expect(answers.slice(0, 60).every((a) => a === false)).toBe(true);
      expect(answers.slice(60, 120).every((a) => a === true)).toBe(true);
      expect(answers.slice(120).every((a) => a === false)).toBe(true);
      expect(await q.stats(T0 + LEASE)).toEqual({ d1: { pending: 30, leased: 0, deadLetters: 30, oldestEnqueuedAt: T0 } });
      // Each row got its own values.
      const letters = await q.listDeadLetters({ destination: 'd1' });
      expect(letters.map((l) => [l.id, l.httpStatus, l.attempts])).toEqual(dead.map((item, i) => [item.id, 400 + (i % 3), 1 + i]));
      expect(await q.claim('d1', 100, T0 + LEASE + 4_999, LEASE)).toEqual([]);
      const again = await q.claim('d1', 100, T0 + LEASE + 5_000, LEASE);
      expect(again.map((item) => [item.id, item.attempts, item.firstAttemptAt])).toEqual(retried.map((item) => [item.id, 1, T0 + LEASE + 1]));
    });

    it('schedules retries, counts attempts and keeps the first attempt time', async () => {
      await q.enqueue('web', [ev('x')], opts(T0));
      const [c1] = await q.claim('d1', 1, T0, LEASE);
      expect(await q.retry(c1!, T0 + 5_000, { at: T0 + 100, status: 503, error: 'HTTP 503' })).toBe(true);
      expect(await q.stats(T0 + 200)).toEqual({ d1: { pending: 1, leased: 0, deadLetters: 0, oldestEnqueuedAt: T0 } });
      expect(await q.claim('d1', 1, T0 + 4_999, LEASE)).toEqual([]);
      const [c2] = await q.claim('d1', 1, T0 + 5_000, LEASE);
      expect(c2).toMatchObject({ id: c1!.id, attempts: 1, firstAttemptAt: T0 + 100, enqueuedAt: T0 });
      expect(await q.retry(c2!, T0 + 20_000, { at: T0 + 5_100, status: null, error: 'ECONNRESET' })).toBe(true);
      const [c3] = await q.claim('d1', 1, T0 + 20_000, LEASE);
      expect(c3).toMatchObject({ id: c1!.id, attempts: 2, firstAttemptAt: T0 + 100 });
    });

    it('release gives a row back without counting an attempt', async () => {
      await q.enqueue('web', [ev('x'), ev('y')], opts(T0));
      const claimed = await q.claim('d1', 10, T0, LEASE);
      await q.release([claimed[0]!]);
      const [again] = await q.claim('d1', 10, T0, LEASE);
      expect(again).toMatchObject({ id: claimed[0]!.id, attempts: 0, firstAttemptAt: null });
      // Released with a later run_at: not due until then.
      await q.release([again!, claimed[1]!], T0 + 60_000);
      expect(await q.claim('d1', 10, T0 + 59_999, LEASE)).toEqual([]);
      expect((await q.claim('d1', 10, T0 + 60_000, LEASE)).map(labelOf)).toEqual(['x', 'y']);
      await q.release([]);
    });

    it('moves a row to the dead letters atomically, every field kept', async () => {
      const event = ev('dl-1', ['d1', 'd2']);
      await q.enqueue('web', [event], opts(T0));
      const [item] = await q.claim('d1', 1, T0, LEASE);
      const input = deadInput({ httpStatus: null, extoleCode: null, extoleMessage: null, reason: 'expired', attempts: 10 });
      const before = Date.now();
      expect(await q.deadLetter(item!, input)).toBe(true);
      expect(await q.deadLetter(item!, input)).toBe(false);
      expect(await q.complete(item!)).toBe(false);

      const dead = await q.getDeadLetter(item!.id);
      expect(dead).toEqual({
        ...input,
        id: item!.id,
        destination: 'd1',
        project: 'web',
        insertId: 'dl-1',
        event: event.event,
        createdAt: expect.any(Number),
      });
      expect(dead!.createdAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(await drainLater('d1')).toEqual([]);
      // The other destination's delivery of the same event is untouched.
      expect(await drainLater('d2')).toHaveLength(1);

      const [other] = await (async () => {
        await q.enqueue('web', [ev('dl-2')], opts(T0));
        return q.claim('d1', 1, T0, LEASE);
      })();
      const full = deadInput();
      expect(await q.deadLetter(other!, full)).toBe(true);
      expect(await q.getDeadLetter(other!.id)).toMatchObject({ ...full, insertId: 'dl-2', project: 'web' });
    });

    it('lists, gets and deletes dead letters by destination, reason, ids and limit', async () => {
      const plan: Array<[string, 'rejected' | 'expired']> = [
        ['d1', 'rejected'],
        ['d1', 'expired'],
        ['d2', 'rejected'],
        ['d1', 'rejected'],
        ['d2', 'expired'],
      ];
      const ids: string[] = [];
      for (const [i, [destination, reason]] of plan.entries()) {
        await q.enqueue('web', [ev(`k${i}`, [destination])], opts(T0 + i));
        const [item] = await q.claim(destination, 1, T0 + i, LEASE);
        expect(await q.deadLetter(item!, deadInput({ reason }))).toBe(true);
        ids.push(item!.id);
      }
      const idsOf = (list: { id: string }[]) => list.map((d) => d.id);
      expect(idsOf(await q.listDeadLetters())).toEqual(ids);
      expect(idsOf(await q.listDeadLetters({ destination: 'd1' }))).toEqual([ids[0], ids[1], ids[3]]);
      expect(idsOf(await q.listDeadLetters({ reason: 'expired' }))).toEqual([ids[1], ids[4]]);
      expect(idsOf(await q.listDeadLetters({ destination: 'd2', reason: 'rejected' }))).toEqual([ids[2]]);
      expect(idsOf(await q.listDeadLetters({ ids: [ids[4]!, ids[0]!, 'junk'] }))).toEqual([ids[0], ids[4]]);
      expect(idsOf(await q.listDeadLetters({ ids: [] }))).toEqual([]);
      expect(idsOf(await q.listDeadLetters({ limit: 2 }))).toEqual([ids[0], ids[1]]);
      expect(idsOf(await q.listDeadLetters({ destination: 'd1', limit: 2 }))).toEqual([ids[0], ids[1]]);
      // afterId: the paging cursor, combined with the other filters.
      expect(idsOf(await q.listDeadLetters({ afterId: ids[1] }))).toEqual([ids[2], ids[3], ids[4]]);
      expect(idsOf(await q.listDeadLetters({ destination: 'd1', afterId: ids[0], limit: 1 }))).toEqual([ids[1]]);
      expect(idsOf(await q.listDeadLetters({ reason: 'rejected', afterId: ids[2] }))).toEqual([ids[3]]);
      expect(idsOf(await q.listDeadLetters({ afterId: ids[4] }))).toEqual([]);
      expect(idsOf(await q.listDeadLetters({ afterId: 'junk' }))).toEqual([]);
      expect(await q.deleteDeadLetters({ afterId: ids[4] })).toBe(0);
      expect(await q.getDeadLetter('999999999')).toBeNull();
      expect(await q.getDeadLetter('nope')).toBeNull();
      expect((await q.getDeadLetter(ids[2]!))!.insertId).toBe('k2');

      expect((await q.stats(T0))['d1']!.deadLetters).toBe(3);
      expect(await q.deleteDeadLetters({ ids: [] })).toBe(0);
      expect(await q.deleteDeadLetters({ destination: 'd1', reason: 'rejected', limit: 1 })).toBe(1);
      expect(idsOf(await q.listDeadLetters())).toEqual([ids[1], ids[2], ids[3], ids[4]]);
      expect(await q.deleteDeadLetters({ ids: [ids[4]!] })).toBe(1);
      expect(await q.deleteDeadLetters({ reason: 'rejected' })).toBe(2);
      expect(idsOf(await q.listDeadLetters())).toEqual([ids[1]]);
      expect(await q.deleteDeadLetters()).toBe(1);
      expect(await q.listDeadLetters()).toEqual([]);
      expect(await q.stats(T0)).toEqual({});
    });

    describe('de-duplication', () => {
      it('drops repeats inside one request', async () => {
        const r = await q.enqueue('web', [ev('x', ['d1', 'd2']), ev('x', ['d1', 'd2']), ev('y'), ev('x')], opts(T0));
        // Which events were repeats, too: the 2nd and 4th (indexes into the request).
        expect(r).toEqual({ accepted: 2, duplicates: 2, deliveries: 3, duplicateIndexes: [1, 3] });
        expect((await q.claim('d1', 10, T0, LEASE)).map((i) => i.insertId)).toEqual(['x', 'y']);
      });

      it('names the repeats in input order, whether seen in an earlier request or earlier in this one', async () => {
        await q.enqueue('web', [ev('a'), ev('b')], opts(T0));
        const r = await q.enqueue('web', [ev('c'), ev('c'), ev('b'), ev('d'), ev('a'), ev('d')], opts(T0 + 1));
        expect(r).toEqual({ accepted: 2, duplicates: 4, deliveries: 2, duplicateIndexes: [1, 2, 4, 5] });
      });

      it('drops repeats across requests within the window', async () => {
        await q.enqueue('web', [ev('x')], opts(T0));
        expect(await q.enqueue('web', [ev('x'), ev('z')], opts(T0 + WEEK - 1))).toEqual({
          accepted: 1,
          duplicates: 1,
          deliveries: 1,
          duplicateIndexes: [0],
        });
        // A repeat is remembered even after the first delivery is gone.
        const items = await q.claim('d1', 10, T0 + WEEK, LEASE);
        for (const item of items) expect(await q.complete(item)).toBe(true);
        expect((await q.enqueue('web', [ev('z')], opts(T0 + WEEK))).duplicates).toBe(1);
      });

      it('accepts an insert_id again once its window has passed, and restarts the window', async () => {
        await q.enqueue('web', [ev('x')], opts(T0, DAY));
        expect((await q.enqueue('web', [ev('x')], opts(T0 + DAY, DAY))).accepted).toBe(1);
        expect((await q.enqueue('web', [ev('x')], opts(T0 + DAY + 1, DAY))).duplicates).toBe(1);
        expect((await q.enqueue('web', [ev('x')], opts(T0 + 2 * DAY - 1, DAY))).duplicates).toBe(1);
        expect((await q.enqueue('web', [ev('x')], opts(T0 + 2 * DAY, DAY))).accepted).toBe(1);
        expect(await drainLater()).toHaveLength(3);
      });

      it('keeps projects apart', async () => {
        expect((await q.enqueue('web', [ev('x')], opts(T0))).accepted).toBe(1);
        expect((await q.enqueue('ios', [ev('x')], opts(T0))).accepted).toBe(1);
        expect((await q.enqueue('ios', [ev('x')], opts(T0))).duplicates).toBe(1);
        expect((await drainLater()).map((i) => i.project)).toEqual(['web', 'ios']);
      });

      it('never de-duplicates a null insert_id, and a zero window disables it', async () => {
        expect(await q.enqueue('web', [ev(null), ev(null)], opts(T0))).toEqual({ accepted: 2, duplicates: 0, deliveries: 2 });
        expect((await q.enqueue('web', [ev(null)], opts(T0))).accepted).toBe(1);
        expect(await q.enqueue('web', [ev('x'), ev('x')], opts(T0, 0))).toEqual({ accepted: 2, duplicates: 0, deliveries: 2 });
        const items = await drainLater();
        expect(items).toHaveLength(5);
        expect(items[0]!.insertId).toBeNull();
      });

      it('counts events with no deliveries as accepted, and remembers their insert_id', async () => {
        const none: IngestEvent = { insertId: 'dropped-everywhere', event: '{}', deliveries: [] };
        expect(await q.enqueue('web', [none, ev('x')], opts(T0))).toEqual({ accepted: 2, duplicates: 0, deliveries: 1 });
        expect(await q.enqueue('web', [none], opts(T0 + 1))).toEqual({ accepted: 0, duplicates: 1, deliveries: 0, duplicateIndexes: [0] });
        expect(await q.enqueue('web', [{ insertId: null, event: '{}', deliveries: [] }], opts(T0))).toEqual({
          accepted: 1,
          duplicates: 0,
          deliveries: 0,
        });
      });

      it('concurrent requests with overlapping insert_ids accept each one exactly once', async () => {
        const senders = [q, await another(), await another()];
        const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
        // Each sender sends every key, in a different order, in two requests, all at once.
        const results = await Promise.all(
          senders.flatMap((sender, n) => {
            const mine = n % 2 === 0 ? keys : [...keys].reverse();
            return [mine.slice(0, 15), mine.slice(15)].map((part) => sender.enqueue('web', part.map((k) => ev(k)), opts(T0 + n)));
          }),
        );
        expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(30);
        expect(results.reduce((sum, r) => sum + r.duplicates, 0)).toBe(60);
        const items = await drainLater();
        expect(items.map((i) => i.insertId).sort()).toEqual([...keys].sort());
      });

      it('pruneDedup forgets insert_ids first seen before the cut-off', async () => {
        await q.enqueue('web', [ev('old')], opts(T0));
        await q.enqueue('web', [ev('new')], opts(T0 + 10));
        expect(await q.pruneDedup(T0 + 5)).toBe(1);
        expect(await q.pruneDedup(T0 + 5)).toBe(0);
        expect((await q.enqueue('web', [ev('old')], opts(T0 + 20))).accepted).toBe(1);
        expect((await q.enqueue('web', [ev('new')], opts(T0 + 20))).duplicates).toBe(1);
      });
    });

    it('reports stats per destination', async () => {
      await q.enqueue('web', [ev('a', ['d1', 'd2']), ev('b', ['d1'])], opts(T0));
      await q.enqueue('web', [ev('c', ['d1'])], opts(T0 + 50));
      const [leased] = await q.claim('d1', 1, T0 + 100, LEASE);
      const [dead] = await q.claim('d2', 1, T0 + 100, LEASE);
      await q.deadLetter(dead!, deadInput());
      expect(await q.stats(T0 + 100)).toEqual({
        d1: { pending: 2, leased: 1, deadLetters: 0, oldestEnqueuedAt: T0 },
        d2: { pending: 0, leased: 0, deadLetters: 1, oldestEnqueuedAt: null },
      });
      // An expired lease counts as pending again.
      expect((await q.stats(T0 + 100 + LEASE))['d1']).toEqual({ pending: 3, leased: 0, deadLetters: 0, oldestEnqueuedAt: T0 });
      expect(await q.complete(leased!)).toBe(true);
      expect((await q.stats(T0 + 100))['d1']).toEqual({ pending: 2, leased: 0, deadLetters: 0, oldestEnqueuedAt: T0 });
    });

    it('concurrent consumers deliver every row exactly once', async () => {
      const total = 240;
      const events = Array.from({ length: total / 2 }, (_, i) => ev(`c${i}`, ['d1']));
      await q.enqueue('web', events.slice(0, 60), opts(T0));
      await q.enqueue('web', events.slice(60), opts(T0));
      await q.enqueue('web', Array.from({ length: total / 2 }, (_, i) => ev(null, ['d1'], `n${i}`)), opts(T0));
      const consumers = [q, await another(), await another(), await another()];
      const delivered: string[] = [];
      let lost = 0;
      await Promise.all(
        consumers.map(async (consumer, n) => {
          for (;;) {
            const batch = await consumer.claim('d1', 7, T0 + n, LEASE);
            if (batch.length === 0) return;
            for (const item of batch) {
              if (await consumer.complete(item)) delivered.push(item.id);
              else lost++;
            }
          }
        }),
      );
      expect(lost).toBe(0);
      expect(delivered).toHaveLength(total);
      expect(new Set(delivered).size).toBe(total);
      expect(await drainLater()).toEqual([]);
    });

    it('a consumer that dies mid-lease loses its rows to another after the lease', async () => {
      await q.enqueue('web', [ev('a'), ev('b'), ev('c')], opts(T0));
      const crashed = await another();
      const abandoned = await crashed.claim('d1', 10, T0, LEASE);
      expect(abandoned).toHaveLength(3);
      expect(await q.claim('d1', 10, T0 + LEASE - 1, LEASE)).toEqual([]);
      const taken = await q.claim('d1', 10, T0 + LEASE, LEASE);
      expect(taken.map(labelOf)).toEqual(['a', 'b', 'c']);
      for (const item of taken) expect(await q.complete(item)).toBe(true);
      // The "crashed" worker wakes up late: its settles are refused.
      expect(await crashed.complete(abandoned[0]!)).toBe(false);
      expect(await crashed.deadLetter(abandoned[1]!, deadInput())).toBe(false);
      expect(await q.stats(T0 + LEASE)).toEqual({});
      expect(await q.listDeadLetters()).toEqual([]);
    });

    it('stores event and body text byte for byte, __proto__ keys included', async () => {
      const event =
        '{"__proto__":{"polluted":true},  "constructor":{"prototype":{"x":1}},"event_type":"Ünïcode ✓ 😀","n":1.50,"big":12345678901234567890}';
      const body = '{ "__proto__" : { "isAdmin": true }, "event_name":"x\\u0000y" }';
      await q.enqueue('web', [{ insertId: '__proto__', event, deliveries: [{ destination: '__proto__', path: '/v6/events', body }] }], opts(T0));
      const [item] = await q.claim('__proto__', 1, T0, LEASE);
      expect(item!.event).toBe(event);
      expect(item!.body).toBe(body);
      expect(item!.insertId).toBe('__proto__');
      const stats = await q.stats(T0);
      expect(Object.keys(stats)).toEqual(['__proto__']);
      expect(stats['__proto__']!.leased).toBe(1);
      expect(await q.deadLetter(item!, deadInput({ request: body }))).toBe(true);
      const dead = await q.getDeadLetter(item!.id);
      expect(dead!.event).toBe(event);
      expect(dead!.request).toBe(body);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
    });

    it('claims without the event when asked, every other column intact, the dead letter still holding it', async () => {
      const event = '{"event_type":"Order Completed","n":1}';
      const body = '{"event_name":"conversion"}';
      await q.enqueue('web', [{ insertId: 'no-event', event, deliveries: [{ destination: 'referrals', path: '/v6/events', body }] }], opts(T0));
      const [item] = await q.claim('referrals', 5, T0, LEASE, { event: false });
      expect(item).toMatchObject({ destination: 'referrals', project: 'web', insertId: 'no-event', path: '/v6/events', body, attempts: 0, enqueuedAt: T0 });
      // A hint: SQLite leaves the event out, PostgreSQL returns it anyway.
      if (q.driver === 'sqlite') expect(item!.event).toBeUndefined();
      else expect(item!.event).toBe(event);
      expect(await q.deadLetter(item!, deadInput({ request: body }))).toBe(true);
      expect((await q.getDeadLetter(item!.id))!.event).toBe(event);

      await q.enqueue('web', [{ insertId: 'with-event', event, deliveries: [{ destination: 'referrals', path: '/v6/events', body }] }], opts(T0));
      const [withEvent] = await q.claim('referrals', 5, T0, LEASE, { event: true });
      expect(withEvent!.event).toBe(event);
    });

    it('rejects calls after close with QueueUnavailableError', async () => {
      const other = await another();
      if (other === q) return expect(q.driver).toBeDefined(); // single-connection harness: cleanup covers close
      await other.close();
      await expect(other.enqueue('web', [ev('x')], opts(T0))).rejects.toMatchObject({ code: 'ES_QUEUE_UNAVAILABLE' });
      await expect(other.claim('d1', 1, T0, LEASE)).rejects.toMatchObject({ code: 'ES_QUEUE_UNAVAILABLE' });
      await expect(other.complete({ id: '1', leaseToken: 'x' })).rejects.toMatchObject({ code: 'ES_QUEUE_UNAVAILABLE' });
      await expect(other.completeMany!([{ id: '1', leaseToken: 'x' }])).rejects.toMatchObject({ code: 'ES_QUEUE_UNAVAILABLE' });
      // The store itself is fine: nothing was written by the failed call.
      expect(await q.claim('d1', 1, T0, LEASE)).toEqual([]);
    });
  });
}
