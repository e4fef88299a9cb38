import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flatRows, flattenEvents, ingestEventsOf, packEvents, unpackEvents } from '../../src/queue/packed.js';
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
        expect(unpackEvents(packed.lengths, packed.text)).toEqual(flattenEvents(events));
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
    const { lengths, text } = packEvents(events);
    expect(unpackEvents(lengths, text)).toEqual([[null, '{}'], ['', '', 'd', '/p', 'é😀']]);
  });
});
