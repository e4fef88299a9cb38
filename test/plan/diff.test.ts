import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExtoleRequest } from '../../src/compile/types.js';
import { changeDiffLines, deepEqual, outcomeChanged, projectsForEvent, readEventFile, requestFieldChanges } from '../../src/plan/index.js';
import type { PlanOutcome } from '../../src/plan/index.js';

function request(data: Record<string, unknown>, url = 'https://events.extole.io/v6/async-events'): ExtoleRequest {
  return {
    method: 'POST',
    url,
    path: new URL(url).pathname,
    headers: { authorization: 'Bearer ***', 'content-type': 'application/json', 'user-agent': 'extole-stream/test' },
    body: { event_name: 'conversion', event_time: '2024-11-27T09:33:20.000Z', data },
  };
}
const send = (data: Record<string, unknown>, url?: string): PlanOutcome => ({ outcome: 'send', request: request(data, url) });

describe('outcome comparison', () => {
  it('deepEqual ignores key order but not types', () => {
    expect(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(deepEqual({ a: 42 }, { a: '42' })).toBe(false);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });

  it('counts send↔drop, another reason, another body or URL as changed; a new message alone is not', () => {
    expect(outcomeChanged(send({ a: 1 }), send({ a: 1 }))).toBe(false);
    expect(outcomeChanged(send({ a: 1 }), send({ a: '1' }))).toBe(true);
    expect(outcomeChanged(send({ a: 1 }), send({ a: 1 }, 'https://events.extole.io/v6/events'))).toBe(true);
    expect(outcomeChanged(send({}), { outcome: 'drop', reason: 'no_identity' })).toBe(true);
    expect(outcomeChanged({ outcome: 'drop', reason: 'no_identity' }, { outcome: 'drop', reason: 'event_not_selected' })).toBe(true);
    expect(
      outcomeChanged({ outcome: 'drop', reason: 'mapping_error', message: 'a' }, { outcome: 'drop', reason: 'mapping_error', message: 'b' }),
    ).toBe(false);
    // A side without the destination sends nothing: only a send on the other side is a change.
    expect(outcomeChanged(null, send({}))).toBe(true);
    expect(outcomeChanged(null, { outcome: 'drop', reason: 'event_not_selected' })).toBe(false);
    expect(outcomeChanged(send({}), null)).toBe(true);
  });

  it('lists request fields that changed, were added or removed, with readable paths', () => {
    const changes = requestFieldChanges(
      request({ revenue: 42, gone: true, tags: ['a'] }),
      request({ revenue: '42', 'odd.key': 1, tags: ['a', 'b'] }),
    );
    expect(changes).toEqual([
      { path: 'data.revenue', kind: 'changed', before: 42, after: '42' },
      { path: 'data["odd.key"]', kind: 'added', after: 1 },
      { path: 'data.tags[1]', kind: 'added', after: 'b' },
      { path: 'data.gone', kind: 'removed', before: true },
    ]);
  });

  it('renders a decision change as diff lines: the old decision short, the new request in full', () => {
    const lines = changeDiffLines({
      destination: 'd',
      insertId: 'i',
      project: 'p',
      origin: 'o',
      before: { outcome: 'drop', reason: 'event_not_selected' },
      after: send({ revenue: 5 }),
    });
    expect(lines.map((l) => `${l.mark} ${l.text}`)).toEqual([
      '- drop(event_not_selected)',
      '+ send POST https://events.extole.io/v6/async-events',
      '+   event_name: "conversion"',
      '+   event_time: "2024-11-27T09:33:20.000Z"',
      '+   data.revenue: 5',
    ]);
  });
});

describe('plan events', () => {
  it('reads JSON lines and JSON arrays, naming bad lines', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-events-'));
    try {
      writeFileSync(path.join(dir, 'a.jsonl'), '{"event_type":"A"}\n\n{"event_type":"B"}\n');
      writeFileSync(path.join(dir, 'b.json'), ' [{"event_type":"C"}]');
      writeFileSync(path.join(dir, 'bad.jsonl'), '{"event_type":"A"}\n{oops\n');
      writeFileSync(path.join(dir, 'scalar.jsonl'), '42\n');
      expect((await readEventFile(path.join(dir, 'a.jsonl'), dir)).map((e) => e.origin)).toEqual(['a.jsonl:1', 'a.jsonl:3']);
      expect(await readEventFile(path.join(dir, 'b.json'), dir)).toEqual([{ raw: { event_type: 'C' }, origin: 'b.json[0]' }]);
      await expect(readEventFile(path.join(dir, 'bad.jsonl'), dir)).rejects.toMatchObject({ code: 'ES_PLAN_EVENTS', message: expect.stringContaining('bad.jsonl:2') });
      await expect(readEventFile(path.join(dir, 'scalar.jsonl'), dir)).rejects.toMatchObject({ code: 'ES_PLAN_EVENTS' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('assigns a recorded event to a project by Amplitude app id, then by file or folder name, else to all', () => {
    const projects = [
      { key: 'web-prod', amplitudeProjectId: 1 },
      { key: 'ios-prod', amplitudeProjectId: 2 },
    ];
    expect(projectsForEvent({ app: 2 }, 'samples/web-prod.jsonl', projects)).toEqual(['ios-prod']);
    expect(projectsForEvent({}, 'samples/web-prod.jsonl', projects)).toEqual(['web-prod']);
    expect(projectsForEvent({}, 'samples/ios-prod/2024-11.jsonl.gz', projects)).toEqual(['ios-prod']);
    expect(projectsForEvent({ app: 99 }, 'samples/events.jsonl', projects)).toEqual(['web-prod', 'ios-prod']);
  });
});
