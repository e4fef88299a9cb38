/**
 * A request's rows in the forms they take between threads. The ingest worker packs them, the
 * event loop hands the packed form to the SQLite enqueue worker as it is, and only a queue that
 * commits on the event loop (SQLite without its worker, PostgreSQL) unpacks them. They cross
 * thread boundaries as two moved ArrayBuffers; 100 events as objects cost the event loop about
 * 2.4 µs each to receive (measured on the 2-core VM).
 */
import type { IngestEvent } from './types.js';

/**
 * One event as the worker gets it: `[insertId, eventJson, destination, path, body, …]`, one
 * triple per delivery. Arrays of strings copy to a worker faster than objects.
 */
export type FlatEvent = (string | null)[];

/**
 * A request's events as the worker gets them: every string of every event (insert_id, event
 * JSON, then destination, path and body per delivery) concatenated, and their lengths (in UTF-16
 * code units) in `lengths`: per event, the number of deliveries, then each string's length (-1
 * for a null insert_id).
 *
 * The concatenation travels as UTF-8 `bytes` in an ArrayBuffer of its own, which is moved from
 * thread to thread rather than copied: from the ingest worker to the event loop, and on to the
 * SQLite enqueue worker, the event loop never copies or decodes it. As a string it was copied at
 * each hop, and a single non-ASCII character made V8 hold the whole request as two-byte text:
 * relaying a 73k-character request cost the event loop 30–73 µs as one-byte text, 240 µs as
 * two-byte text, and 23 µs (57 µs with non-ASCII) as bytes (measured on the 2-core VM). Text
 * that is not well-formed UTF-16 (a lone surrogate, which UTF-8 cannot carry) stays a string
 * (`text`), so every string arrives exactly as it left.
 */
export interface PackedEvents {
  lengths: Int32Array;
  /** The concatenated strings as UTF-8, in an ArrayBuffer of their own (transferable); or `text`. */
  bytes?: Uint8Array;
  /** The concatenated strings, when they are not well-formed UTF-16; otherwise undefined. */
  text?: string;
  /** Number of events. */
  count: number;
}

/** Packs `events` for the worker (see `PackedEvents`). */
export function packEvents(events: IngestEvent[]): PackedEvents {
  let count = 0;
  for (const e of events) count += 3 + 3 * e.deliveries.length;
  const lengths = new Int32Array(count);
  const parts: string[] = [];
  let k = 0;
  for (const e of events) {
    lengths[k++] = e.deliveries.length;
    if (e.insertId === null) lengths[k++] = -1;
    else {
      lengths[k++] = e.insertId.length;
      parts.push(e.insertId);
    }
    lengths[k++] = e.event.length;
    parts.push(e.event);
    for (const d of e.deliveries) {
      lengths[k++] = d.destination.length;
      lengths[k++] = d.path.length;
      lengths[k++] = d.body.length;
      parts.push(d.destination, d.path, d.body);
    }
  }
  const text = parts.join('');
  if (!(text as unknown as { isWellFormed(): boolean }).isWellFormed()) return { lengths, text, count: events.length };
  const encoded = Buffer.from(text, 'utf8');
  // Small strings come from Buffer's shared pool: copied into a buffer of their own, so that moving
  // it cannot take the pool along.
  const bytes = encoded.byteOffset === 0 && encoded.buffer.byteLength === encoded.byteLength ? encoded : new Uint8Array(encoded);
  return { lengths, bytes, count: events.length };
}

/** The concatenated strings of `packed`, decoded if they came as bytes. Self-contained: the worker runs its source. */
export function packedText(packed: PackedEvents): string {
  if (packed.text !== undefined) return packed.text;
  const bytes = packed.bytes!;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** The ArrayBuffers of `packed` that can move to another thread (the sender must not use `packed` after). */
export function packedTransferList(packed: PackedEvents): ArrayBuffer[] {
  const list = [packed.lengths.buffer as ArrayBuffer];
  if (packed.bytes !== undefined) list.push(packed.bytes.buffer as ArrayBuffer);
  return list;
}

/** The events `packEvents` packed, in the form `enqueueFlatRows` takes. Self-contained: the worker runs its source. */
export function unpackEvents(lengths: Int32Array, text: string): FlatEvent[] {
  const events: FlatEvent[] = [];
  let at = 0;
  let k = 0;
  const take = (n: number): string => text.slice(at, (at += n));
  while (k < lengths.length) {
    const deliveries = lengths[k++]!;
    const idLength = lengths[k++]!;
    const row: FlatEvent = [idLength < 0 ? null : take(idLength)];
    row.push(take(lengths[k++]!));
    for (let d = 0; d < deliveries; d++) row.push(take(lengths[k++]!), take(lengths[k++]!), take(lengths[k++]!));
    events.push(row);
  }
  return events;
}

/** `events` in the form `enqueueFlatRows` takes. */
export function flattenEvents(events: IngestEvent[]): FlatEvent[] {
  const flat: FlatEvent[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const row: FlatEvent = [e.insertId, e.event];
    for (const d of e.deliveries) row.push(d.destination, d.path, d.body);
    flat[i] = row;
  }
  return flat;
}

/** True for the packed form of `enqueue`'s rows. */
export function isPackedEvents(rows: IngestEvent[] | PackedEvents): rows is PackedEvents {
  return !Array.isArray(rows);
}

/** Rows in the form `enqueueFlatRows` takes, packed or not. */
export function flatRows(rows: IngestEvent[] | PackedEvents): FlatEvent[] {
  return isPackedEvents(rows) ? unpackEvents(rows.lengths, packedText(rows)) : flattenEvents(rows);
}

/** Rows as `IngestEvent`s, packed or not. */
export function ingestEventsOf(rows: IngestEvent[] | PackedEvents): IngestEvent[] {
  if (!isPackedEvents(rows)) return rows;
  return unpackEvents(rows.lengths, packedText(rows)).map((row) => {
    const deliveries: IngestEvent['deliveries'] = [];
    for (let i = 2; i + 2 < row.length; i += 3) deliveries.push({ destination: row[i]!, path: row[i + 1]!, body: row[i + 2]! });
    return { insertId: row[0] ?? null, event: row[1]!, deliveries };
  });
}
