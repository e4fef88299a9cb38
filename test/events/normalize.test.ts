import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizeEvent } from '../../src/events/normalize.js';

const NOW = 1_732_700_000_000;
const schema = JSON.parse(
  readFileSync(new URL('../../schemas/amplitude-event.schema.json', import.meta.url), 'utf8'),
) as { properties: Record<string, unknown> };

describe('normalizeEvent: HTTP V2 / Batch events', () => {
  it('passes an HTTP V2 event through unchanged', () => {
    const raw = {
      event_type: 'Order Completed',
      user_id: 'ann@example.com',
      device_id: 'device-1',
      time: 1_732_700_000_123,
      insert_id: 'o-1',
      event_properties: { revenue: 42, items: [{ sku: 'a' }] },
      user_properties: { plan: 'pro' },
      groups: { company: 'acme' },
      group_properties: { company: { size: 10 } },
      app_version: '1.2.3',
      platform: 'Web',
      ip: '127.0.0.1',
      revenue: 42.5,
      quantity: 2,
      session_id: -1,
      plan: { branch: 'main' },
    };
    expect(normalizeEvent(raw, { now: NOW })).toEqual(raw);
  });

  it('keeps nested property objects as the same data (no copy, no merge)', () => {
    const props = { nested: { deep: [1, 2, { x: null }] } };
    const event = normalizeEvent({ event_type: 'a', event_properties: props }, { now: NOW });
    expect(event.event_properties).toBe(props);
  });

  it('gives an event without time the `now` option, else the clock', () => {
    expect(normalizeEvent({ event_type: 'a' }, { now: NOW }).time).toBe(NOW);
    const before = Date.now();
    const t = normalizeEvent({ event_type: 'a' }).time!;
    expect(t).toBeGreaterThanOrEqual(before);
  });

  it('keeps only fields the schema lists, derived from the schema itself', () => {
    const raw: Record<string, unknown> = { event_type: 'a', time: 1, unknown_field: 1, api_key: 'secret', options: {} };
    for (const name of Object.keys(schema.properties)) if (!(name in raw)) raw[name] = sampleFor(name);
    const event = normalizeEvent(raw, { now: NOW }) as unknown as Record<string, unknown>;
    expect(Object.keys(event).sort()).toEqual(Object.keys(schema.properties).sort());
    expect(event).not.toHaveProperty('unknown_field');
    expect(event).not.toHaveProperty('api_key');
  });

  it('leaves out values of the wrong type instead of passing them on', () => {
    const event = normalizeEvent(
      { event_type: 'a', user_id: 12345, time: '1732700000000', event_properties: 'x', quantity: 1.5, price: 'free' },
      { now: NOW },
    );
    expect(event).toEqual({ event_type: 'a', time: NOW });
  });

  it('keeps null ids (the schema allows them)', () => {
    expect(normalizeEvent({ event_type: 'a', user_id: null, device_id: 'd-123' }, { now: NOW })).toEqual({
      event_type: 'a',
      user_id: null,
      device_id: 'd-123',
      time: NOW,
    });
  });
});

describe('normalizeEvent: Amplitude Export / Webhook events', () => {
  const exported = {
    event_type: 'Order Completed',
    event_time: '2024-11-27 09:33:20.123456',
    $insert_id: 'ins-1',
    ip_address: '10.0.0.1',
    version_name: '4.5.6',
    device_carrier: 'Verizon',
    amplitude_id: 123456789,
    uuid: '0a1b2c3d-0000-0000-0000-000000000000',
    user_id: 'ann@example.com',
    device_id: null,
    os_name: 'ios',
    city: 'Boston',
    event_properties: { revenue: 42 },
    // Export-only fields with no place in the schema
    server_upload_time: '2024-11-27 09:33:21.000000',
    client_event_time: '2024-11-27 09:33:20.123456',
    data: { path: '/batch' },
    is_attribution_event: false,
    adid: null,
  };

  it('converts event_time (UTC, microseconds) to time in ms', () => {
    expect(normalizeEvent(exported, { now: NOW }).time).toBe(Date.UTC(2024, 10, 27, 9, 33, 20, 123));
    expect(normalizeEvent({ event_type: 'a', event_time: '2024-11-27 09:33:20' }, { now: NOW }).time).toBe(
      Date.UTC(2024, 10, 27, 9, 33, 20),
    );
    expect(normalizeEvent({ event_type: 'a', event_time: '2024-11-27 09:33:20.5' }, { now: NOW }).time).toBe(
      Date.UTC(2024, 10, 27, 9, 33, 20, 500),
    );
  });

  it('maps each renamed field and keeps same-named Export fields', () => {
    const event = normalizeEvent(exported, { now: NOW });
    expect(event).toEqual({
      event_type: 'Order Completed',
      time: Date.UTC(2024, 10, 27, 9, 33, 20, 123),
      insert_id: 'ins-1',
      ip: '10.0.0.1',
      app_version: '4.5.6',
      carrier: 'Verizon',
      amplitude_id: 123456789,
      uuid: '0a1b2c3d-0000-0000-0000-000000000000',
      user_id: 'ann@example.com',
      device_id: null,
      os_name: 'ios',
      city: 'Boston',
      event_properties: { revenue: 42 },
    });
  });

  it.each([
    ['$insert_id', 'insert_id', 'x-1'],
    ['ip_address', 'ip', '192.168.0.1'],
    ['version_name', 'app_version', '9.9'],
    ['device_carrier', 'carrier', 'T-Mobile'],
  ])('maps %s → %s on its own', (from, to, value) => {
    const event = normalizeEvent({ event_type: 'a', [from]: value }, { now: NOW }) as unknown as Record<string, unknown>;
    expect(event[to]).toBe(value);
    expect(event).not.toHaveProperty(from);
  });

  it('detects the shape per event: the HTTP V2 name wins when both are present', () => {
    const event = normalizeEvent(
      { event_type: 'a', time: 5, event_time: '2024-11-27 09:33:20.000000', insert_id: 'v2', $insert_id: 'export' },
      { now: NOW },
    );
    expect(event.time).toBe(5);
    expect(event.insert_id).toBe('v2');
  });

  it('falls back to now for an event_time that is not a real time', () => {
    for (const bad of ['2024-13-01 00:00:00', '2024-02-30 00:00:00', 'yesterday', 1732700000000]) {
      expect(normalizeEvent({ event_type: 'a', event_time: bad }, { now: NOW }).time).toBe(NOW);
    }
  });
});

describe('normalizeEvent: prototype safety', () => {
  it('drops __proto__ and constructor at the top level without touching any prototype', () => {
    const raw = JSON.parse(
      '{"event_type":"a","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"user_id":"ann@example.com"}',
    ) as Record<string, unknown>;
    const event = normalizeEvent(raw, { now: NOW });
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
    expect(Object.hasOwn(event, '__proto__')).toBe(false);
    expect(Object.hasOwn(event, 'constructor')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((event as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps hostile keys inside event_properties as plain data', () => {
    const raw = JSON.parse(
      '{"event_type":"a","event_properties":{"__proto__":{"polluted":"yes"},"constructor":"c","ok":1}}',
    ) as Record<string, unknown>;
    const event = normalizeEvent(raw, { now: NOW });
    const props = event.event_properties as Record<string, unknown>;
    expect(Object.hasOwn(props, '__proto__')).toBe(true);
    expect(props.constructor).toBe('c');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('ignores inherited fields of the input object', () => {
    const raw = Object.create({ user_id: 'inherited@example.com' }) as Record<string, unknown>;
    raw.event_type = 'a';
    expect(normalizeEvent(raw, { now: NOW })).toEqual({ event_type: 'a', time: NOW });
  });
});

/** A value of the schema's type for each field. */
function sampleFor(name: string): unknown {
  const def = schema.properties[name] as { type: string | string[] };
  const type = Array.isArray(def.type) ? def.type[0] : def.type;
  switch (type) {
    case 'string':
      return `${name}-value`;
    case 'integer':
      return 7;
    case 'number':
      return 1.5;
    case 'object':
      return { k: 'v' };
    default:
      throw new Error(`no sample for ${type}`);
  }
}
