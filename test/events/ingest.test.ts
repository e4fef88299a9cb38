import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExportEventTime } from '../../src/events/fields.js';
import { ingestEvent } from '../../src/events/ingest.js';
import { normalizeEvent } from '../../src/events/normalize.js';
import { validateIngestEvent } from '../../src/events/validate.js';

const NOW = 1_732_700_000_000;

/** What ingestEvent must give: validateIngestEvent, then normalizeEvent when nothing is wrong. */
function reference(raw: unknown, minIdLength?: number): unknown {
  const problems = validateIngestEvent(raw, { minIdLength });
  if (problems.missing.length > 0 || problems.invalid.length > 0) return { problems };
  return { event: normalizeEvent(raw as Record<string, unknown>, { now: NOW }) };
}

function ingested(raw: unknown, minIdLength?: number): unknown {
  const result = ingestEvent(raw, { minIdLength, now: () => NOW });
  return result.problems !== undefined ? { problems: result.problems } : { event: result.event };
}

/** Same value and the same key order (the body's key order follows it). */
function expectSame(raw: unknown, minIdLength?: number): void {
  const want = reference(raw, minIdLength);
  const got = ingested(raw, minIdLength);
  expect(got).toEqual(want);
  expect(JSON.stringify(got)).toBe(JSON.stringify(want));
}

const anyValue = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('', 'ann@example.com', 'device-12345', '2024-11-27 12:20:44.583000', '2024-02-30 00:00:00', '0099-01-01 00:00:00'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant({ a: 1 }),
  fc.constant([1, 2]),
);
const FIELDS = [
  'event_type', 'user_id', 'device_id', 'time', 'insert_id', 'event_properties', 'user_properties', 'groups',
  'platform', 'revenue', 'quantity', 'session_id', 'event_time', '$insert_id', 'ip_address', 'ip', 'version_name',
  'app_version', 'device_carrier', 'carrier', 'amplitude_id', 'unknown', '__proto__', 'constructor',
];
const rawEvent = fc
  .array(fc.tuple(fc.constantFrom(...FIELDS), anyValue), { maxLength: 14 })
  .map((pairs) => {
    const raw: Record<string, unknown> = {};
    for (const [key, value] of pairs) Object.defineProperty(raw, key, { value, enumerable: true, writable: true, configurable: true });
    return raw;
  });

describe('ingestEvent: validateIngestEvent + normalizeEvent in one pass', () => {
  it('gives exactly what the two steps give, for generated events of both shapes', () => {
    fc.assert(
      fc.property(rawEvent, fc.constantFrom(undefined, 1, 5, 12), (raw, minIdLength) => {
        expectSame(raw, minIdLength);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on fixed cases: valid HTTP V2, valid Export, problems, non-objects', () => {
    const cases: unknown[] = [
      { event_type: 'Order Completed', user_id: 'ann@example.com', time: 1_732_700_000_123, insert_id: 'o-1', event_properties: { revenue: 42 } },
      { event_type: 'Sign Up', user_id: 'bob@example.com', event_time: '2024-11-27 12:20:44.583000', $insert_id: 'x', ip_address: '1.2.3.4', device_carrier: 'T' },
      { event_type: 'Sign Up', user_id: 'bob@example.com', event_time: null, insert_id: 'x' },
      { event_type: 'Sign Up', device_id: 'device-1', event_time: 'yesterday' },
      { event_type: '', user_id: 'abc', device_id: 7, time: 'now', event_properties: [] },
      { user_id: null, device_id: null },
      null,
      'event',
      [{ event_type: 'a' }],
      JSON.parse('{"event_type":"a","user_id":"ann@example.com","__proto__":{"polluted":true}}'),
    ];
    for (const raw of cases) expectSame(raw);
    expect(ingestEvent({ event_type: 'a', user_id: 'ann@example.com' }, { now: () => NOW }).event?.time).toBe(NOW);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports problems without building an event', () => {
    const result = ingestEvent({ user_id: 'abc' });
    expect(result.event).toBeUndefined();
    expect(result.problems).toEqual({ missing: ['event_type'], invalid: ['user_id'] });
  });
});

describe('parseExportEventTime', () => {
  /** The Date-based check it replaced: the fields read back from Date.UTC. */
  function viaDate(text: string): number | undefined {
    const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/.exec(text);
    if (m === null) return undefined;
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
    const millis = m[7] === undefined ? 0 : +(m[7] + '00').slice(0, 3);
    const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
    const d = new Date(ms);
    const same =
      d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day &&
      d.getUTCHours() === hour && d.getUTCMinutes() === minute && d.getUTCSeconds() === second;
    return same ? ms : undefined;
  }
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));

  it('accepts exactly the times that read back the same from a Date (leap years, month ends, years 0000–9999)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two(14),
        two(32),
        two(25),
        two(61),
        two(61),
        fc.option(fc.stringMatching(/^\d{1,9}$/), { nil: undefined }),
        (year, month, day, hour, minute, second, fraction) => {
          const text = `${year}-${month}-${day} ${hour}:${minute}:${second}${fraction === undefined ? '' : `.${fraction}`}`;
          expect(parseExportEventTime(text)).toBe(viaDate(text));
        },
      ),
      { numRuns: 5000 },
    );
    for (const text of ['2024-02-29 00:00:00', '2023-02-29 00:00:00', '1900-02-29 00:00:00', '2000-02-29 23:59:59.999999', '0099-12-31 00:00:00', '0100-01-01 00:00:00']) {
      expect(parseExportEventTime(text)).toBe(viaDate(text));
    }
  });
});
