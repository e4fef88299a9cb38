/**
 * Crash safety DURING ingestion (SPEC §6 at-least-once): several senders keep posting `/batch`
 * requests (every event with its own insert_id) to the built `serve` while it is `kill -9`ed
 * mid-stream. A request is acknowledged only by a 200; the others got an error, a reset or a
 * refused connection. After a restart on the same SQLite file and a drain, every event of every
 * acknowledged request must be in the ledger (delivered to Extole or dead-lettered; nothing left
 * pending). Events of failed requests may or may not have been committed; senders retry them the
 * way an SDK would, and the duplicates that can cause are counted, not failed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { TEST_ENV, WEB_KEY } from '../server/helpers.js';
import { crashTestStage, drainQueue, spawnServe, type ServeProcess } from '../server/cli-helpers.js';
import { SqliteQueue } from '../../src/queue/sqlite.js';

interface BatchRequest {
  ids: string[];
  body: string;
}

/** POST one `/batch`; true only for a 200 (anything else, or a network error, is not an ack). */
async function postBatch(url: string, request: BatchRequest): Promise<boolean> {
  try {
    const res = await fetch(`${url}/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request.body });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

describe('serve survives kill -9 in the middle of ingestion', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('keeps every event of every 200-acknowledged request across a crash during /batch requests', { timeout: 60_000 }, async () => {
    const { extole, dir } = await crashTestStage(cleanups);
    const env = TEST_ENV as Record<string, string>;

    let serve: ServeProcess = await spawnServe(['--port', '0'], { cwd: dir, env });
    cleanups.push(() => serve.child.kill('SIGKILL'));
    const firstUrl = serve.url;

    // 6 senders, 25 events per request, each sender posting back to back until its first
    // failure (the kill): some requests are in flight when the process dies.
    const SENDERS = 6;
    const BATCH = 25;
    let nextRequest = 0;
    const acked: BatchRequest[] = [];
    const failed: BatchRequest[] = [];
    const makeRequest = (): BatchRequest => {
      const n = nextRequest++;
      const events = Array.from({ length: BATCH }, (_, i) => ({
        event_type: 'Order Completed',
        user_id: `ingest${n}-${i}@example.com`,
        insert_id: `ingest-${n}-${i}`,
        event_properties: { revenue: i },
      }));
      return { ids: events.map((e) => e.insert_id), body: JSON.stringify({ api_key: WEB_KEY, events }) };
    };
    const sender = async (): Promise<void> => {
      for (;;) {
        const request = makeRequest();
        if (await postBatch(firstUrl, request)) acked.push(request);
        else {
          failed.push(request);
          return;
        }
      }
    };
    const senders = Promise.all(Array.from({ length: SENDERS }, () => sender()));

    // Kill -9 while the senders are still posting (they never pause), once enough were acked.
    const deadline = Date.now() + 20_000;
    while (acked.length < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    expect(acked.length).toBeGreaterThanOrEqual(40);
    serve.child.kill('SIGKILL');
    await serve.exited;
    await senders;
    // Every sender stopped on a failure: at least one per sender, and the acked set is frozen.
    expect(failed.length).toBe(SENDERS);
    const ackedIds = acked.flatMap((r) => r.ids);
    const failedIds = new Set(failed.flatMap((r) => r.ids));

    // Restart on the same queue file; rows leased at the kill come back after their lease (2 s).
    serve = await spawnServe(['--port', '0'], { cwd: dir, env });
    const afterRestart = await drainQueue(serve.url, 'referrals');
    expect(afterRestart.pending + afterRestart.leased).toBe(0);
    // Events of failed requests that were committed anyway (the crash cut off the 200): allowed.
    const failedButDelivered = [...failedIds].filter((id) => extole.received.has(id)).length;

    // The senders retry their failed requests against the new process, as an SDK would.
    let retriedAcked = 0;
    for (const request of failed) if (await postBatch(serve.url, request)) retriedAcked++;
    expect(retriedAcked).toBe(failed.length);
    await drainQueue(serve.url, 'referrals');
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);

    // Ledger, read from the queue file itself once the server is gone.
    const queue = new SqliteQueue({ path: path.join(dir, 'queue.db') });
    await queue.open();
    let deadLettered: Set<string>;
    let pending: number;
    try {
      const stats = (await queue.stats(Date.now())).referrals ?? { pending: 0, leased: 0, deadLetters: 0 };
      pending = stats.pending + stats.leased;
      deadLettered = new Set((await queue.listDeadLetters()).map((l) => l.insertId ?? ''));
    } finally {
      await queue.close();
    }
    expect(pending).toBe(0);
    // acked ⊆ delivered ∪ dead-lettered ∪ pending (pending is empty now).
    const lost = ackedIds.filter((id) => !extole.received.has(id) && !deadLettered.has(id));
    expect(lost).toEqual([]);
    // The retried requests were acked too, so their events are in the ledger as well.
    const lostRetried = [...failedIds].filter((id) => !extole.received.has(id) && !deadLettered.has(id));
    expect(lostRetried).toEqual([]);
    // Nothing reached Extole that no sender sent.
    const sent = new Set([...ackedIds, ...failedIds]);
    expect([...extole.received.keys()].filter((id) => !sent.has(id))).toEqual([]);

    const duplicates = [...extole.received.values()].reduce((n, c) => n + (c - 1), 0);
    console.log(
      `crash-during-ingest test: ${acked.length} requests acked (${ackedIds.length} events), ${failed.length} failed at the kill ` +
        `(${failedIds.size} events, ${failedButDelivered} delivered before any retry; all retried and acked), delivered ${extole.received.size} distinct, ` +
        `${deadLettered.size} dead-lettered, ${duplicates} duplicate deliveries`,
    );
  });
});
