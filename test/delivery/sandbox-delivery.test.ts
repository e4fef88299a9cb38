/**
 * End to end between our two halves: DeliveryManager → the local Extole sandbox (which checks
 * each body against schemas/extole-event-request.schema.json), with throttling and the
 * blocked-email hook, over the real SQLite queue.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/extole/sandbox.js';
import { harness, metricValue, TOKEN, type Harness } from './helpers.js';

let h: Harness | undefined;
let sandbox: Sandbox | undefined;
afterEach(async () => {
  await h?.close();
  await sandbox?.close();
  h = sandbox = undefined;
});

describe('delivery to the sandbox', () => {
  it('delivers valid events through 429s, dead-letters the blocked one, never leaks the token', async () => {
    const lines: string[] = [];
    sandbox = await startSandbox({ throttle: 0.3, log: (l) => lines.push(l) });
    h = await harness({ baseUrl: sandbox.url, delivery: { concurrency: 4 } });
    h.manager.start();
    await h.enqueue(10);
    await h.enqueue(1, { email: 'mallory@blocked.example' });
    await h.driveUntil(async () => (await h!.queued()) === 0);

    const statuses = sandbox.received.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(await metricValue(h.metrics.deliveredEvents)).toBe(10);
    const dead = await h.queue.listDeadLetters();
    expect(dead.map((d) => [d.reason, d.httpStatus, d.extoleCode])).toEqual([['rejected', 400, 'event_blocked']]);
    expect(sandbox.received.every((r) => r.headers.authorization === 'Bearer ***')).toBe(true);
    expect(JSON.stringify(sandbox.received) + lines.join('\n') + h.logLines.join('\n')).not.toContain(TOKEN);
  });
});
