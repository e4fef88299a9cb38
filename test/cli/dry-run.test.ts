import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { dryRun, formatOutcomeLine } from '../../src/cli/dry-run.js';
import { compileDestination } from '../../src/compile/transformer.js';
import type { Transformer } from '../../src/compile/types.js';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT } from './helpers.js';

class Collector extends Writable {
  text = '';
  constructor(private readonly slow = false) {
    super({ highWaterMark: 16 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.text += chunk.toString('utf8');
    if (this.slow) setImmediate(done);
    else done();
  }
}

async function exampleTransformers(): Promise<Transformer[]> {
  const config = await loadConfig({ cwd: REPO_ROOT, env: {} });
  return [...config.destinations]
    .sort((x, y) => x.name.localeCompare(y.name))
    .map((d) => compileDestination({ name: d.name, definition: d.definition }));
}

describe('formatOutcomeLine', () => {
  it('writes the SPEC §4 shapes, keys in order, the body as sent', () => {
    const send = formatOutcomeLine('referrals', 'web-prod', 'i-1', {
      outcome: 'send',
      bodyJson: '{"event_name":"conversion","event_time":"t","data":{"a":1}}',
      request: {
        method: 'POST',
        url: 'https://events.extole.io/v6/async-events',
        path: '/v6/async-events',
        headers: { authorization: 'Bearer ***', 'content-type': 'application/json', 'user-agent': 'extole-stream/1' },
        body: { event_name: 'conversion', event_time: 't', data: { a: 1 } },
      },
    });
    expect(send).toBe(
      '{"destination":"referrals","project":"web-prod","insert_id":"i-1","outcome":"send","request":{"method":"POST",' +
        '"url":"https://events.extole.io/v6/async-events","headers":{"authorization":"Bearer ***","content-type":"application/json",' +
        '"user-agent":"extole-stream/1"},"body":{"event_name":"conversion","event_time":"t","data":{"a":1}}}}',
    );
    expect(Object.keys(JSON.parse(send) as object)).toEqual(['destination', 'project', 'insert_id', 'outcome', 'request']);
    expect(formatOutcomeLine('d', 'p', null, { outcome: 'drop', reason: 'no_identity' })).toBe(
      '{"destination":"d","project":"p","insert_id":null,"outcome":"drop","reason":"no_identity"}',
    );
    expect(formatOutcomeLine('d', 'p', 'x', { outcome: 'drop', reason: 'mapping_error', message: 'bad "x"' })).toBe(
      '{"destination":"d","project":"p","insert_id":"x","outcome":"drop","reason":"mapping_error","message":"bad \\"x\\""}',
    );
  });
});

describe('dryRun', () => {
  it('writes one line per event and destination, in input order, destinations in the given order', async () => {
    const transformers = await exampleTransformers();
    const file = path.join(REPO_ROOT, 'samples/http-v2.jsonl');
    const events = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { insert_id: string });
    const out = new Collector();
    const err = new Collector();
    const summary = await dryRun(createReadStream(file), { transformers, project: 'web-prod', source: 'x', out, err });
    expect(err.text).toBe('');
    const lines = out.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(summary).toMatchObject({ events: events.length, lines: events.length * 3, errors: 0 });
    expect(lines).toHaveLength(events.length * 3);
    lines.forEach((line, i) => {
      expect(line.destination).toBe(['loyalty-challenges', 'referrals', 'vip-surprise'][i % 3]);
      expect(line.insert_id).toBe(events[Math.floor(i / 3)]!.insert_id);
      expect(line.project).toBe('web-prod');
    });
    const sends = lines.filter((l) => l.outcome === 'send');
    expect(sends.length).toBe(summary.sent);
    expect(sends.length).toBeGreaterThan(3);
    for (const s of sends) {
      const request = s.request as { headers: Record<string, string> };
      expect(Object.keys(request)).toEqual(['method', 'url', 'headers', 'body']);
      expect(request.headers.authorization).toBe('Bearer ***');
    }
  });

  it('waits for a slow reader and keeps every line in order', async () => {
    const transformers = await exampleTransformers();
    const event = (i: number) => JSON.stringify({ event_type: 'Sign Up', user_id: `user${i}@example.com`, insert_id: `id-${i}`, time: i });
    const input = Readable.from([Array.from({ length: 3000 }, (_, i) => event(i)).join('\n')]);
    const out = new Collector(true);
    const listeners = (): number[] => ['drain', 'close', 'error', 'finish'].map((e) => out.listenerCount(e));
    const before = listeners();
    const drains = { count: 0 };
    out.on('drain', () => drains.count++);
    await dryRun(input, { transformers: [transformers[1]!], project: 'web-prod', source: 'x', out, err: new Collector() });
    const ids = out.text.trim().split('\n').map((l) => (JSON.parse(l) as { insert_id: string }).insert_id);
    expect(ids).toEqual(Array.from({ length: 3000 }, (_, i) => `id-${i}`));
    // It waited for the reader many times, and every wait took its listeners with it.
    expect(drains.count).toBeGreaterThan(10);
    out.removeAllListeners('drain');
    expect(listeners()).toEqual(before);
  });

  it('writes long and non-ASCII lines whole and redacted, however they fall across output chunks', async () => {
    const referrals = (await exampleTransformers())[1]!;
    // 40 short lines, then a line that does not fit what is left of the chunk, short ones, a line
    // longer than a whole chunk (1.5 MB), and a short one after it.
    const sizes = [...Array.from({ length: 40 }, () => 3), 27_000, 3, 3, 250_000, 3];
    const events = sizes.map((n, i) => ({
      event_type: 'Order Completed',
      user_id: `zoë${i}@example.com`,
      insert_id: `id-${i}`,
      time: i,
      event_properties: { revenue: 1, order_id: `${'é😀'.repeat(n)} secret-value` },
    }));
    const redact = (t: string): string => t.split('secret-value').join('***');
    const out = new Collector(true);
    const err = new Collector();
    const input = Readable.from([events.map((e) => JSON.stringify(e)).join('\n')]);
    await dryRun(input, { transformers: [referrals], project: 'web-prod', source: 'x', out, err, redact });
    expect(err.text).toBe('');
    expect(out.text.endsWith('\n')).toBe(true);
    const lines = out.text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as { insert_id: string; outcome: string; request: { body: { data: { order_id: string; email: string } } } });
    expect(lines.map((l) => l.insert_id)).toEqual(events.map((e) => e.insert_id));
    lines.forEach((line, i) => {
      expect(line.outcome).toBe('send');
      expect(line.request.body.data.order_id).toBe(`${'é😀'.repeat(sizes[i]!)} ***`);
      expect(line.request.body.data.email).toBe(`zoë${i}@example.com`);
    });
    expect(out.text.includes('secret-value')).toBe(false);
  });

  it('stops quietly when the reader goes away', async () => {
    const transformers = await exampleTransformers();
    const out = new PassThrough({ highWaterMark: 16 });
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ event_type: 'Sign Up', user_id: `u${i}@example.com` }));
    setImmediate(() => out.destroy());
    const summary = await dryRun(Readable.from([lines.join('\n')]), { transformers, project: 'web-prod', source: 'x', out, err: new Collector() });
    expect(summary.events).toBeLessThan(20_000);
  });

  it('checks ids as the endpoint of the event\'s shape would: HTTP V2 at least 5 characters, Export any length', async () => {
    const transformers = await exampleTransformers();
    const out = new Collector();
    const err = new Collector();
    const lines = [
      { event_type: 'Sign Up', user_id: 'ann@' }, // HTTP V2: /2/httpapi refuses ids under 5 characters
      { event_type: 'Sign Up', user_id: 'a@bc', event_time: '2024-11-27 09:33:20.000000' }, // Export, as /webhook and replay take it
      { event_type: 'Sign Up', user_id: 'b@cd', $insert_id: 'exp-1' }, // Export too
    ];
    const summary = await dryRun(Readable.from([lines.map((l) => JSON.stringify(l)).join('\n')]), {
      transformers: [transformers[1]!],
      project: 'web-prod',
      source: 'events.jsonl',
      out,
      err,
      now: () => 0,
    });
    expect(err.text).toBe('events.jsonl:1: not a valid Amplitude event: invalid user_id\n');
    expect(summary).toMatchObject({ events: 2, errors: 1, lines: 2 });
    expect(out.text.trim().split('\n').map((l) => (JSON.parse(l) as { insert_id: string | null }).insert_id)).toEqual([null, 'exp-1']);
  });

  it('reports unusable items as SOURCE:LINE and redacts what it writes', async () => {
    const transformers = await exampleTransformers();
    const out = new Collector();
    const err = new Collector();
    const input = Readable.from(['{"event_type":"Sign Up","user_id":"sekrit@example.com"}\nnope sekrit\n{"user_id":"abcdef"}\n']);
    const summary = await dryRun(input, {
      transformers: [transformers[1]!],
      project: 'web-prod',
      source: 'events.jsonl',
      out,
      err,
      redact: (t) => t.split('sekrit').join('***'),
      now: () => 0,
    });
    expect(summary).toMatchObject({ events: 1, errors: 2, sent: 1 });
    expect(err.text).toMatch(/^events\.jsonl:2: invalid JSON: /);
    expect(err.text).toContain('events.jsonl:3: not a valid Amplitude event: missing event_type\n');
    expect(out.text + err.text).not.toContain('sekrit');
    expect(out.text).toContain('"event_time":"1970-01-01T00:00:00.000Z"');
  });
});
