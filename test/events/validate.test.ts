import { describe, expect, it } from 'vitest';
import { validateIngestEvent } from '../../src/events/validate.js';

const ok = { missing: [], invalid: [] };

describe('validateIngestEvent (Amplitude HTTP V2 rules)', () => {
  it('accepts a complete HTTP V2 event', () => {
    expect(
      validateIngestEvent({
        event_type: 'Order Completed',
        user_id: 'ann@example.com',
        time: 1732700000000,
        insert_id: 'o-1',
        event_properties: { revenue: 42 },
        user_properties: { plan: 'pro' },
        groups: { company: 'acme' },
        revenue: 42.5,
        quantity: 2,
        unknown_extra: [1, 2],
      }),
    ).toEqual(ok);
  });

  it('accepts a device-only event and an Export event with nulls', () => {
    expect(validateIngestEvent({ event_type: 'a', device_id: 'device-1' })).toEqual(ok);
    expect(
      validateIngestEvent({
        event_type: 'a',
        user_id: 'ann@example.com',
        device_id: null,
        event_time: '2024-11-27 09:33:20.123456',
        $insert_id: 'ins-1',
        ip_address: '10.0.0.1',
        version_name: null,
        city: null,
        amplitude_id: 99,
      }),
    ).toEqual(ok);
  });

  it('reports a missing event_type, and an empty or non-string one as invalid', () => {
    expect(validateIngestEvent({ user_id: 'ann@example.com' })).toEqual({ missing: ['event_type'], invalid: [] });
    expect(validateIngestEvent({ event_type: null, user_id: 'ann@example.com' }).missing).toEqual(['event_type']);
    expect(validateIngestEvent({ event_type: '', user_id: 'ann@example.com' }).invalid).toEqual(['event_type']);
    expect(validateIngestEvent({ event_type: 7, user_id: 'ann@example.com' }).invalid).toEqual(['event_type']);
  });

  it('reports both ids missing when neither user_id nor device_id is given', () => {
    expect(validateIngestEvent({ event_type: 'a' })).toEqual({ missing: ['user_id', 'device_id'], invalid: [] });
    expect(validateIngestEvent({ event_type: 'a', user_id: null, device_id: null }).missing).toEqual([
      'user_id',
      'device_id',
    ]);
  });

  it('rejects ids shorter than min_id_length (default 5) or not strings', () => {
    expect(validateIngestEvent({ event_type: 'a', user_id: 'abcd' }).invalid).toEqual(['user_id']);
    expect(validateIngestEvent({ event_type: 'a', user_id: 'abcde' })).toEqual(ok);
    expect(validateIngestEvent({ event_type: 'a', device_id: '' }).invalid).toEqual(['device_id']);
    expect(validateIngestEvent({ event_type: 'a', user_id: 'ann@example.com', device_id: 'abc' }).invalid).toEqual([
      'device_id',
    ]);
    expect(validateIngestEvent({ event_type: 'a', user_id: 123456 }).invalid).toEqual(['user_id']);
  });

  it('honours minIdLength', () => {
    expect(validateIngestEvent({ event_type: 'a', user_id: 'ab' }, { minIdLength: 2 })).toEqual(ok);
    expect(validateIngestEvent({ event_type: 'a', user_id: 'a' }, { minIdLength: 2 }).invalid).toEqual(['user_id']);
    expect(validateIngestEvent({ event_type: 'a', user_id: 'abcdefgh' }, { minIdLength: 10 }).invalid).toEqual([
      'user_id',
    ]);
  });

  it.each([
    ['time', 1.5],
    ['time', '1732700000000'],
    ['event_properties', 'x'],
    ['event_properties', [1]],
    ['user_properties', 5],
    ['groups', 'company'],
    ['group_properties', true],
    ['insert_id', 12],
    ['revenue', 'a lot'],
    ['quantity', 2.5],
    ['session_id', 'abc'],
    ['platform', 3],
    ['plan', 'x'],
    ['$insert_id', 12],
    ['ip_address', 10],
    ['event_time', '27/11/2024'],
    ['event_time', 1732700000000],
  ])('reports %s = %j as invalid', (field, value) => {
    expect(validateIngestEvent({ event_type: 'a', user_id: 'ann@example.com', [field]: value })).toEqual({
      missing: [],
      invalid: [field],
    });
  });

  it('reports a non-object event as invalid field "event"', () => {
    for (const raw of [null, 'x', 5, [{ event_type: 'a' }]]) {
      expect(validateIngestEvent(raw)).toEqual({ missing: [], invalid: ['event'] });
    }
  });

  it('is not fooled by inherited or prototype keys', () => {
    const inherited = Object.create({ event_type: 'a', user_id: 'ann@example.com' }) as object;
    expect(validateIngestEvent(inherited)).toEqual({ missing: ['event_type', 'user_id', 'device_id'], invalid: [] });
    const hostile = JSON.parse('{"event_type":"a","user_id":"ann@example.com","__proto__":{"x":1},"constructor":1}');
    expect(validateIngestEvent(hostile)).toEqual(ok);
  });
});
