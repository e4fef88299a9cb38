import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { flatRows, flattenEvents, ingestEventsOf, packEvents, packedText, packedTransferList, unpackEvents, type PackedEvents } from '../../src/queue/packed.js';
import type { IngestEvent } from '../../src/queue/types.js';

describe('packEvents / unpackEvents (what the enqueue worker and the event loop receive)', () => {
  it('give back every string of every event, in the form enqueueFlatRows takes', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const event: fc.Arbitrary<IngestEvent> = fc.record({
      insertId: fc.option(text, { nil: null }),
      event: text,
      deliveries: fc.array(fc.record({ destination: text, path: text, body: text }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 20 }), (events) => {
        const packed = packEvents(events);
        expect(packed.count).toBe(events.length);
        // Bytes whenever the text can be UTF-8 (no lone surrogate), in an ArrayBuffer of their own.
        const wellFormed = events.every((e) =>
          [e.insertId ?? '', e.event, ...e.deliveries.flatMap((d) => [d.destination, d.path, d.body])].every((t) => (t as unknown as { isWellFormed(): boolean }).isWellFormed()),
        );
        expect(packed.bytes !== undefined).toBe(wellFormed);
        expect(packed.text !== undefined).toBe(!wellFormed);
        if (packed.bytes) expect([packed.bytes.byteOffset, packed.bytes.buffer.byteLength]).toEqual([0, packed.bytes.byteLength]);
        expect(unpackEvents(packed.lengths, packedText(packed))).toEqual(flattenEvents(events));
        // What a queue that commits on the event loop gets back (PostgreSQL, SQLite without its worker).
        expect(ingestEventsOf(packed)).toEqual(events);
        expect(flatRows(packed)).toEqual(flatRows(events));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a null insert_id apart from an empty one', () => {
    const events: IngestEvent[] = [
      { insertId: null, event: '{}', deliveries: [] },
      { insertId: '', event: '', deliveries: [{ destination: 'd', path: '/p', body: 'é😀' }] },
    ];
    const packed = packEvents(events);
    expect(unpackEvents(packed.lengths, packedText(packed))).toEqual([[null, '{}'], ['', '', 'd', '/p', 'é😀']]);
  });

  it('move to another thread without a copy, and arrive whole, non-ASCII and lone surrogates included', async () => {
    const cases: IngestEvent[][] = [
      [{ insertId: 'a-1', event: '{"city":"Zürich","emoji":"😀"}', deliveries: [{ destination: 'd', path: '/v6/events', body: '{"name":"Łódź ✓"}' }] }],
      // A lone surrogate cannot be UTF-8: that request travels as a string.
      [{ insertId: 'lone-\ud800', event: '{}', deliveries: [{ destination: 'd', path: '/p', body: 'x\udc00y' }] }],
      [{ insertId: null, event: 'x'.repeat(10_000), deliveries: [] }],
    ];
    for (const [i, events] of cases.entries()) {
      const packed = packEvents(events);
      expect(packed.text !== undefined, `case ${i} travels as a string`).toBe(i === 1);
      const { port1, port2 } = new MessageChannel();
      const received = new Promise<PackedEvents>((resolve) => port2.once('message', resolve));
      port1.postMessage(packed, packedTransferList(packed));
      const got = await received;
      port1.close();
      // Moved: the sender's buffers are detached.
      expect(packed.lengths.byteLength).toBe(0);
      if (packed.bytes) expect(packed.bytes.byteLength).toBe(0);
      expect(ingestEventsOf(got)).toEqual(events);
    }
  });
});
