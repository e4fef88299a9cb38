/**
 * src/bin's hard-exit fallback (SPEC §5: exit within 30 s of SIGTERM/SIGINT), with an injected
 * exit and a short timeout. The built CLI is exercised in test/e2e/serve-stop.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { describeResources, HARD_EXIT_MS, hardExitOnStop, hardExitTimeout } from '../../src/bin/hard-exit.js';

function harness(timeoutMs = 5) {
  const exits: number[] = [];
  let text = '';
  let exited: () => void = () => {};
  const done = new Promise<void>((r) => (exited = r));
  const listener = hardExitOnStop({
    timeoutMs,
    exit: (code) => {
      exits.push(code);
      exited();
    },
    write: (t) => (text += t),
    activeResources: () => ['TCPSocketWrap', 'Timeout', 'TCPSocketWrap'],
  });
  return { listener, exits, text: () => text, done };
}

describe('hardExitOnStop', () => {
  it('exits 0 when the shutdown finished cleanly but something still holds the process', async () => {
    const h = harness();
    h.listener.requested('SIGTERM');
    h.listener.finished(true);
    await h.done;
    expect(h.exits).toEqual([0]);
    expect(h.text()).toContain('after SIGTERM and the shutdown finished; exiting with code 0. Still open: TCPSocketWrap ×2, Timeout ×1');
  });

  it('exits 2 when the shutdown had not finished, or the queue did not close', async () => {
    const stuck = harness();
    stuck.listener.requested('SIGINT');
    await stuck.done;
    expect(stuck.exits).toEqual([2]);
    expect(stuck.text()).toContain('after SIGINT and the shutdown has not finished; exiting with code 2');

    const unclean = harness();
    unclean.listener.requested('SIGTERM');
    unclean.listener.finished(false);
    await unclean.done;
    expect(unclean.exits).toEqual([2]);
    expect(unclean.text()).toContain('the queue did not close in time');
  });

  it('arms once: a second signal does not restart the clock', async () => {
    const h = harness(20);
    h.listener.requested('SIGTERM');
    h.listener.requested('SIGINT');
    await h.done;
    await new Promise((r) => setTimeout(r, 40));
    expect(h.exits).toEqual([2]);
    expect(h.text()).toContain('after SIGTERM');
  });

  it('does nothing until a stop is requested, and can be cancelled', async () => {
    const idle = harness(1);
    const cancelled = harness(1);
    cancelled.listener.requested('SIGTERM');
    cancelled.listener.cancel();
    await new Promise((r) => setTimeout(r, 30));
    expect(idle.exits).toEqual([]);
    expect(cancelled.exits).toEqual([]);
  });
});

describe('hard-exit helpers', () => {
  it('describes open resources by kind', () => {
    expect(describeResources([])).toBe('nothing');
    expect(describeResources(['FSReqCallback', 'Timeout', 'Timeout'])).toBe('FSReqCallback ×1, Timeout ×2');
  });

  it('reads EXTOLE_STREAM_HARD_EXIT_MS within 1 … 30 000 ms, else 30 s', () => {
    expect(HARD_EXIT_MS).toBe(30_000);
    expect(hardExitTimeout({})).toBe(30_000);
    expect(hardExitTimeout({ EXTOLE_STREAM_HARD_EXIT_MS: '1500' })).toBe(1500);
    for (const bad of ['0', '60000', '-1', '1.5', 'soon', '']) expect(hardExitTimeout({ EXTOLE_STREAM_HARD_EXIT_MS: bad })).toBe(30_000);
  });
});
