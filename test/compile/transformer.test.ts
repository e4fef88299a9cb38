/**
 * SPEC §3.1, rule by rule. Every request body produced here is also validated against Extole's
 * own EventDispatcherRequest schema (../shared/reference OpenAPI; no-op when absent).
 */
import { describe, expect, it } from 'vitest';
import { compileDestination, MAX_BODY_BYTES } from '../../src/compile/transformer.js';
import { MappingError } from '../../src/compile/errors.js';
import type { Outcome, Transformer } from '../../src/compile/types.js';
import { normalizeEvent } from '../../src/events/normalize.js';
import type { Destination } from '../../src/generated/destination.js';
import { USER_AGENT } from '../../src/version.js';
import { assertValidExtoleRequestBody } from '../support/extole-openapi.js';

const NOW = Date.UTC(2024, 10, 27, 9, 33, 20); // 2024-11-27T09:33:20.000Z
const TOKEN = 'tok-very-secret-123';

const BASE: Destination = {
  projects: ['web-prod', 'ios-prod'],
  extole: { access_token: TOKEN },
  events: [{ type: '*' }],
};

function destination(over: Partial<Destination> = {}): Transformer {
  return compileDestination({ name: 'referrals', definition: { ...BASE, ...over } });
}

const EVENT = {
  event_type: 'Order Completed',
  user_id: 'ann@example.com',
  time: NOW,
  insert_id: 'o-1',
  event_properties: { revenue: 42, currency: 'USD' },
  user_properties: { unique_id: 1001, plan: 'pro' },
};

/** Transform a raw event (normalized first); every request body must satisfy Extole's schema. */
async function run(t: Transformer, raw: Record<string, unknown> = EVENT, project = 'web-prod'): Promise<Outcome> {
  const result = t.transform(normalizeEvent(raw, { now: NOW }), project);
  // A sync transformer (every expression fast-compiled) never returns a Promise; others always do.
  expect(result instanceof Promise).toBe(!t.sync);
  const outcome = await result;
  if (outcome.outcome === 'send') {
    assertValidExtoleRequestBody(outcome.request.body);
    expect(outcome.bodyJson).toBe(JSON.stringify(outcome.request.body));
  }
  expect(JSON.stringify(outcome)).not.toContain(TOKEN);
  return outcome;
}

async function send(t: Transformer, raw: Record<string, unknown> = EVENT, project = 'web-prod') {
  const outcome = await run(t, raw, project);
  if (outcome.outcome !== 'send') throw new Error(`expected a request, got ${JSON.stringify(outcome)}`);
  return outcome;
}

async function data(t: Transformer, raw: Record<string, unknown> = EVENT) {
  return (await send(t, raw)).request.body.data;
}

async function dropped(t: Transformer, raw: Record<string, unknown> = EVENT, project = 'web-prod') {
  const outcome = await run(t, raw, project);
  if (outcome.outcome !== 'drop') throw new Error(`expected a drop, got ${JSON.stringify(outcome)}`);
  return outcome;
}

describe('the SPEC §2.2 example destination', () => {
  it('turns the example purchase into the documented request', async () => {
    const t = compileDestination({
      name: 'referrals',
      definition: {
        name: 'referrals',
        enabled: true,
        projects: ['web-prod', 'ios-prod'],
        extole: {
          access_token: TOKEN,
          base_url: 'https://events.extole.io',
          endpoint: 'async-events',
          app_type: 'extole-stream',
          labels: ['refer-a-friend'],
        },
        events: [{ type: 'Order Completed', where: 'event_properties.revenue > 0' }, { type: ['Sign Up', 'Account Created'] }],
        identity: { email: 'user_id', partner_user_id: 'user_properties.unique_id', require: 'any' },
        properties: { event: ['revenue', 'currency', 'coupon_code'], user: ['plan'], group: [], as_strings: false },
        mapping: {
          event_name: '$lowercase($replace(event_type, " ", "_"))',
          data: { partner_conversion_id: 'insert_id' },
        },
      },
    });
    const outcome = await send(t, {
      event_type: 'Order Completed',
      user_id: 'ann@example.com',
      time: 1732700000000,
      insert_id: 'o-1',
      event_properties: { revenue: 42 },
      user_properties: { unique_id: 1001 },
    });
    expect(outcome.request).toEqual({
      method: 'POST',
      url: 'https://events.extole.io/v6/async-events',
      path: '/v6/async-events',
      headers: { authorization: 'Bearer ***', 'content-type': 'application/json', 'user-agent': USER_AGENT },
      body: {
        event_name: 'order_completed',
        event_time: '2024-11-27T09:33:20.000Z',
        data: {
          revenue: 42,
          partner_conversion_id: 'o-1',
          extole_app_type: 'extole-stream',
          labels: 'refer-a-friend',
          email: 'ann@example.com',
          partner_user_id: '1001',
        },
      },
    });
    expect((await dropped(t, { event_type: 'Order Completed', device_id: 'device-1', event_properties: { revenue: 5 } })).reason).toBe(
      'no_identity',
    );
  });
});

describe('step 1: project gate', () => {
  it('drops events of a project the destination does not list', async () => {
    expect(await dropped(destination(), EVENT, 'android-prod')).toEqual({ outcome: 'drop', reason: 'project_not_enabled' });
    expect((await dropped(destination(), EVENT, '__proto__')).reason).toBe('project_not_enabled');
    expect((await dropped(destination(), EVENT, 'constructor')).reason).toBe('project_not_enabled');
  });

  it('drops events of a listed project when the destination is disabled', async () => {
    expect(await dropped(destination({ enabled: false }))).toEqual({ outcome: 'drop', reason: 'destination_disabled' });
  });

  it('checks the project before the enabled flag', async () => {
    expect((await dropped(destination({ enabled: false }), EVENT, 'other')).reason).toBe('project_not_enabled');
  });

  it('sends for every listed project, enabled by default', async () => {
    await send(destination(), EVENT, 'web-prod');
    await send(destination(), EVENT, 'ios-prod');
    await send(destination({ enabled: true }), EVENT, 'ios-prod');
  });
});

describe('step 2: selection', () => {
  it('matches an exact event_type', async () => {
    const t = destination({ events: [{ type: 'Order Completed' }] });
    await send(t);
    expect(await dropped(t, { ...EVENT, event_type: 'order completed' })).toEqual({
      outcome: 'drop',
      reason: 'event_not_selected',
    });
  });

  it('matches a list of event types', async () => {
    const t = destination({ events: [{ type: ['Sign Up', 'Account Created'] }] });
    await send(t, { ...EVENT, event_type: 'Sign Up' });
    await send(t, { ...EVENT, event_type: 'Account Created' });
    expect((await dropped(t)).reason).toBe('event_not_selected');
    expect((await dropped(t, { ...EVENT, event_type: 'constructor' })).reason).toBe('event_not_selected');
  });

  it('matches every event with "*"', async () => {
    await send(destination({ events: [{ type: '*' }] }), { ...EVENT, event_type: 'Anything At All' });
  });

  it('matches every event with "*" inside a list too, its where still applying', async () => {
    await send(destination({ events: [{ type: ['*'] }] }), { ...EVENT, event_type: 'Anything At All' });
    const t = destination({ events: [{ type: ['Sign Up', '*'], where: 'event_properties.revenue > 10' }] });
    await send(t, { ...EVENT, event_type: 'Anything At All', event_properties: { revenue: 11 } });
    expect((await dropped(t, { ...EVENT, event_type: 'Anything At All', event_properties: { revenue: 5 } })).reason).toBe('event_not_selected');
  });

  it('sends when ANY row matches', async () => {
    const t = destination({
      events: [{ type: 'Order Completed', where: 'event_properties.revenue > 100' }, { type: ['Order Completed'] }],
    });
    await send(t);
  });

  it.each([
    ['true', true],
    ['false', false],
    ['"yes"', true],
    ['""', false],
    ['1', true],
    ['0', false],
    ['null', false],
    ['event_properties.missing', false],
    ['[]', false],
    ['[0, 0]', false],
    ['[0, 1]', true],
    ['[[0]]', false],
    ['{}', false],
    ['{"a": 0}', true],
    ['event_properties.revenue > 0', true],
    ['event_properties.revenue > 100', false],
  ])('where %s is %s by JSONata’s boolean rules', async (where, selected) => {
    const outcome = await run(destination({ events: [{ type: 'Order Completed', where }] }));
    expect(outcome.outcome === 'send').toBe(selected);
    if (!selected) expect(outcome).toEqual({ outcome: 'drop', reason: 'event_not_selected' });
  });

  it('does not evaluate a where of a row whose type does not match', async () => {
    const t = destination({ events: [{ type: 'Sign Up', where: '$error("boom")' }, { type: 'Order Completed' }] });
    await send(t);
  });

  it('a where that throws is a mapping_error naming the row', async () => {
    const t = destination({ events: [{ type: '*', where: '$error("boom")' }] });
    const drop = await dropped(t);
    expect(drop.reason).toBe('mapping_error');
    expect(drop.message).toMatch(/^events\[0\]\.where: .*boom/);
  });
});

describe('step 3: identity', () => {
  it('takes the email from user_id by default', async () => {
    expect((await data(destination())).email).toBe('ann@example.com');
  });

  it.each([
    ['empty', ''],
    ['null', null],
    ['no @', 'ann.example.com'],
    ['nothing before @', '@example.com'],
    ['nothing after @', 'ann@'],
    ['two @', 'ann@b@example.com'],
  ])('leaves out an email that is %s (and drops: no other id)', async (_why, userId) => {
    const t = destination({ identity: { partner_user_id: 'user_properties.unique_id' } });
    const body = await data(t, { ...EVENT, user_id: userId });
    expect(body).not.toHaveProperty('email');
    expect(body.partner_user_id).toBe('1001');
    expect(await dropped(destination(), { ...EVENT, user_id: userId })).toEqual({ outcome: 'drop', reason: 'no_identity' });
  });

  it('leaves out a missing email', async () => {
    const { user_id: _ignored, ...anonymous } = EVENT;
    expect((await dropped(destination(), { ...anonymous, device_id: 'device-1' })).reason).toBe('no_identity');
  });

  it('turns numbers into strings', async () => {
    const t = destination({
      identity: { email: 'user_properties.email_number', partner_user_id: 'user_properties.unique_id' },
    });
    const body = await data(t, { ...EVENT, user_properties: { unique_id: 1001, email_number: 12345 } });
    expect(body.partner_user_id).toBe('1001');
    expect(body).not.toHaveProperty('email'); // "12345" has no @
  });

  it('leaves out an empty partner_user_id and non-scalar ids', async () => {
    const t = destination({ identity: { partner_user_id: 'user_properties.unique_id' } });
    for (const uniqueId of ['', null, { id: 1 }, [1, 2], true]) {
      const body = await data(t, { ...EVENT, user_properties: { unique_id: uniqueId } });
      expect(body).not.toHaveProperty('partner_user_id');
      expect(body.email).toBe('ann@example.com');
    }
  });

  it('require: any — either id is enough, neither drops no_identity', async () => {
    const t = destination({ identity: { partner_user_id: 'user_properties.unique_id', require: 'any' } });
    const body = await data(t, { ...EVENT, user_id: null });
    expect(body).toMatchObject({ partner_user_id: '1001' });
    expect(body).not.toHaveProperty('email');
    expect(await dropped(t, { ...EVENT, user_id: null, user_properties: {} })).toEqual({
      outcome: 'drop',
      reason: 'no_identity',
    });
  });

  it('require: email — a partner_user_id alone drops no_identity', async () => {
    const t = destination({ identity: { partner_user_id: 'user_properties.unique_id', require: 'email' } });
    expect((await dropped(t, { ...EVENT, user_id: 'not-an-email' })).reason).toBe('no_identity');
    expect(await data(t)).toMatchObject({ email: 'ann@example.com', partner_user_id: '1001' });
  });

  it('an identity expression that throws is a mapping_error', async () => {
    const drop = await dropped(destination({ identity: { partner_user_id: '$error("no id")' } }));
    expect(drop.reason).toBe('mapping_error');
    expect(drop.message).toMatch(/^identity\.partner_user_id: .*no id/);
    expect((await dropped(destination({ identity: { email: '$error("x")' } }))).message).toMatch(/^identity\.email: /);
  });

  it('no_identity comes before a failing data mapping (SPEC order)', async () => {
    const t = destination({ mapping: { data: { bad: '$error("late")' } } });
    expect((await dropped(t, { ...EVENT, user_id: null })).reason).toBe('no_identity');
    expect((await dropped(t)).reason).toBe('mapping_error');
  });
});

describe('step 4: body and data', () => {
  const overlapping = {
    ...EVENT,
    groups: { company: 'acme' },
    group_properties: { company: { k: 'group', g: 1 } },
    user_properties: { k: 'user', u: 2, unique_id: 1001 },
    event_properties: { k: 'event', e: 3, email: 'spoof@example.com', extole_app_type: 'spoof', labels: 'spoof' },
  };

  it('builds data in SPEC order, later keys winning', async () => {
    const t = destination({
      extole: { access_token: TOKEN, labels: ['a', 'b'] },
      identity: { partner_user_id: 'user_properties.unique_id' },
      properties: { group: '*', user: '*', event: '*' },
      mapping: { data: { m: '4', partner_user_id: '"mapped"' } },
    });
    const outcome = await send(t, overlapping);
    // Key order is first insertion; values are the last writer's.
    expect(outcome.bodyJson).toBe(
      JSON.stringify({
        event_name: 'Order Completed',
        event_time: '2024-11-27T09:33:20.000Z',
        data: {
          k: 'event',
          g: 1,
          u: 2,
          unique_id: 1001,
          e: 3,
          email: 'ann@example.com',
          extole_app_type: 'extole-stream',
          labels: 'a,b',
          m: 4,
          partner_user_id: '1001',
        },
      }),
    );
  });

  it('user properties override group properties; event override user; mapping overrides event', async () => {
    const t = destination({
      properties: { group: ['company'], user: ['k'], event: [] },
    });
    expect((await data(t, overlapping)).k).toBe('user');
    const t2 = destination({ properties: { group: ['company'] } });
    expect((await data(t2, overlapping)).k).toBe('group');
    const t3 = destination({ properties: { group: '*', user: '*', event: ['k'] }, mapping: { data: { k: '"mapping"' } } });
    expect((await data(t3, overlapping)).k).toBe('mapping');
  });

  it('filters each property set by its allow-list, ignoring names that are absent', async () => {
    const t = destination({ properties: { event: ['revenue', 'coupon_code'], user: ['plan'] } });
    expect(await data(t)).toEqual({
      revenue: 42,
      plan: 'pro',
      extole_app_type: 'extole-stream',
      email: 'ann@example.com',
    });
  });

  it('sends no properties by default (empty allow-lists)', async () => {
    expect(await data(destination())).toEqual({ extole_app_type: 'extole-stream', email: 'ann@example.com' });
  });

  it('"*" sends every property, leaving out null and keeping nested values', async () => {
    const t = destination({ properties: { event: '*' } });
    const body = await data(t, { ...EVENT, event_properties: { a: 1, b: null, c: { d: [1, { e: 'f' }] }, g: [1, 2], h: false } });
    expect(body).toEqual({
      a: 1,
      c: { d: [1, { e: 'f' }] },
      g: [1, 2],
      h: false,
      extole_app_type: 'extole-stream',
      email: 'ann@example.com',
    });
  });

  it('leaves out null values of a named allow-list too', async () => {
    const body = await data(destination({ properties: { event: ['a', 'b'] } }), { ...EVENT, event_properties: { a: null, b: 0 } });
    expect(body).not.toHaveProperty('a');
    expect(body.b).toBe(0);
  });

  it('as_strings: scalars become strings, arrays and objects are left out (Amplitude’s behaviour)', async () => {
    const t = destination({ properties: { event: '*', user: ['n'], as_strings: true } });
    const body = await data(t, {
      ...EVENT,
      user_properties: { n: 7 },
      event_properties: { i: 42, f: 1.5, t: true, f2: false, s: 'x', z: 0, nul: null, arr: [1], obj: { a: 1 } },
    });
    expect(body).toEqual({
      n: '7',
      i: '42',
      f: '1.5',
      t: 'true',
      f2: 'false',
      s: 'x',
      z: '0',
      extole_app_type: 'extole-stream',
      email: 'ann@example.com',
    });
  });

  it('as_strings does not apply to mapping.data', async () => {
    const t = destination({ properties: { as_strings: true }, mapping: { data: { n: '42', o: '{"a": 1}' } } });
    expect(await data(t)).toMatchObject({ n: 42, o: { a: 1 } });
  });

  it('groups: the allow-list names group types (keys of group_properties)', async () => {
    const event = {
      ...EVENT,
      groups: { company: 'acme', team: 'red' },
      group_properties: { company: { size: 10, name: 'Acme' }, team: { color: 'red' }, org: 'not-an-object' },
    };
    expect(await data(destination({ properties: { group: ['company'] } }), event)).toEqual({
      size: 10,
      name: 'Acme',
      extole_app_type: 'extole-stream',
      email: 'ann@example.com',
    });
    expect(await data(destination({ properties: { group: '*' } }), event)).toMatchObject({ size: 10, name: 'Acme', color: 'red' });
    expect(await data(destination({ properties: { group: ['missing'] } }), event)).toEqual({
      extole_app_type: 'extole-stream',
      email: 'ann@example.com',
    });
    expect(await data(destination({ properties: { group: '*', as_strings: true } }), event)).toMatchObject({ size: '10' });
  });

  it('mapping.data: undefined and null results are left out, other JSON kept', async () => {
    const t = destination({
      mapping: {
        data: {
          conversion: 'insert_id',
          missing: 'event_properties.nope',
          nothing: 'null',
          total: 'event_properties.revenue * 2',
          list: '[1, "a"]',
          obj: '{"currency": event_properties.currency}',
          flag: 'false',
        },
      },
    });
    const body = await data(t);
    expect(body).toMatchObject({ conversion: 'o-1', total: 84, list: [1, 'a'], obj: { currency: 'USD' }, flag: false });
    expect(body).not.toHaveProperty('missing');
    expect(body).not.toHaveProperty('nothing');
  });

  it('extole_app_type defaults to "extole-stream" and follows extole.app_type', async () => {
    expect((await data(destination())).extole_app_type).toBe('extole-stream');
    expect((await data(destination({ extole: { access_token: TOKEN, app_type: 'my-app' } }))).extole_app_type).toBe('my-app');
  });

  it('labels are comma-joined, and only sent when given', async () => {
    expect((await data(destination({ extole: { access_token: TOKEN, labels: ['refer-a-friend', 'vip'] } }))).labels).toBe(
      'refer-a-friend,vip',
    );
    expect(await data(destination())).not.toHaveProperty('labels');
    expect(await data(destination({ extole: { access_token: TOKEN, labels: [] } }))).not.toHaveProperty('labels');
  });

  it('event_name defaults to event_type and follows mapping.event_name', async () => {
    expect((await send(destination())).request.body.event_name).toBe('Order Completed');
    const t = destination({ mapping: { event_name: '"purchase"' } });
    expect((await send(t)).request.body.event_name).toBe('purchase');
  });

  it('a mapping.event_name with no usable result is a mapping_error', async () => {
    for (const expr of ['event_properties.nope', '""', '{"a": 1}', '["a", "b"]']) {
      const drop = await dropped(destination({ mapping: { event_name: expr } }));
      expect(drop.reason).toBe('mapping_error');
      expect(drop.message).toMatch(/^mapping\.event_name: event_name must be a non-empty string/);
    }
  });

  it('event_time defaults to ISO-8601 UTC of time with milliseconds', async () => {
    expect((await send(destination(), { ...EVENT, time: 1732700000123 })).request.body.event_time).toBe('2024-11-27T09:33:20.123Z');
    expect((await send(destination(), { ...EVENT, time: 0 })).request.body.event_time).toBe('1970-01-01T00:00:00.000Z');
  });

  it('event_time uses the Export event_time after normalization', async () => {
    const { time: _t, ...exported } = EVENT;
    const outcome = await send(destination(), { ...exported, event_time: '2024-11-27 09:33:20.654321' });
    expect(outcome.request.body.event_time).toBe('2024-11-27T09:33:20.654Z');
  });

  it('mapping.event_time: an ISO string as is, milliseconds converted, nothing falls back to time', async () => {
    const at = async (expr: string) => (await send(destination({ mapping: { event_time: expr } }))).request.body.event_time;
    expect(await at('"2024-01-15T12:00:00Z"')).toBe('2024-01-15T12:00:00Z');
    expect(await at('"2024-01-15T12:00:00.5+02:00"')).toBe('2024-01-15T12:00:00.5+02:00');
    expect(await at('time + 1000')).toBe('2024-11-27T09:33:21.000Z');
    expect(await at('event_properties.nope')).toBe('2024-11-27T09:33:20.000Z');
    expect(await at('$fromMillis(time)')).toBe('2024-11-27T09:33:20.000Z');
  });

  it('mapping.event_time that is not a date-time is a mapping_error', async () => {
    for (const expr of ['"yesterday"', '{"a": 1}', '8.64e16']) {
      const drop = await dropped(destination({ mapping: { event_time: expr } }));
      expect(drop.reason).toBe('mapping_error');
      expect(drop.message).toMatch(/^mapping\.event_time: /);
    }
  });

  it('does not modify the event', async () => {
    const event = normalizeEvent(structuredClone(EVENT), { now: NOW });
    const before = structuredClone(event);
    await destination({ properties: { event: '*', user: '*' }, mapping: { data: { x: '1' } } }).transform(event, 'web-prod');
    expect(event).toEqual(before);
  });
});

describe('the request', () => {
  it.each([
    ['async-events', '/v6/async-events'],
    ['events', '/v6/events'],
    ['v5-events', '/v5/events'],
  ] as const)('endpoint %s → POST %s', async (endpoint, path) => {
    const outcome = await send(destination({ extole: { access_token: TOKEN, endpoint } }));
    expect(outcome.request.method).toBe('POST');
    expect(outcome.request.path).toBe(path);
    expect(outcome.request.url).toBe(`https://events.extole.io${path}`);
  });

  it('defaults to https://events.extole.io/v6/async-events and honours base_url', async () => {
    expect((await send(destination())).request.url).toBe('https://events.extole.io/v6/async-events');
    const t = destination({ extole: { access_token: TOKEN, base_url: 'http://127.0.0.1:8080/', endpoint: 'events' } });
    expect((await send(t)).request.url).toBe('http://127.0.0.1:8080/v6/events');
  });

  it('headers never carry the token, and cannot be changed to', async () => {
    const outcome = await send(destination());
    expect(outcome.request.headers).toEqual({
      authorization: 'Bearer ***',
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    });
    expect(USER_AGENT).toMatch(/^extole-stream\/\d+\.\d+\.\d+/);
    expect(Object.isFrozen(outcome.request.headers)).toBe(true);
  });
});

describe('step 5: mapping errors affect only that event', () => {
  it('a throwing mapping drops mapping_error with the field and jsonata’s message', async () => {
    const t = destination({ mapping: { data: { total: 'event_properties.currency + 1' } } });
    const drop = await dropped(t);
    expect(drop.reason).toBe('mapping_error');
    expect(drop.message).toMatch(/^mapping\.data\.total: T2001: The left side of the "\+" operator must evaluate to a number/);
    // The next event with a number is fine.
    expect((await data(t, { ...EVENT, event_properties: { currency: 1 } })).total).toBe(2);
  });

  it('infinite recursion, a huge range and a timeout are mapping_errors, not hangs', async () => {
    const cases: Array<[string, RegExp]> = [
      ['($inf := function($n){$n + $inf($n)}; $inf(1))', /D1011/],
      ['($inf := function(){$inf()}; $inf())', /D1012/],
      ['[1..100000000]', /D2014/],
      ['$count([1..1000000])', /D2015/],
    ];
    for (const [expr, code] of cases) {
      const drop = await dropped(destination({ mapping: { data: { x: expr } } }));
      expect(drop.reason).toBe('mapping_error');
      expect(drop.message).toMatch(code);
    }
  });

  it('a function result is a mapping_error', async () => {
    const drop = await dropped(destination({ mapping: { data: { f: '$uppercase' } } }));
    expect(drop.message).toMatch(/^mapping\.data\.f: .*function/);
  });

  it('an invalid expression fails compileDestination naming the field', () => {
    expect(() => destination({ mapping: { data: { bad: 'event_properties.(' } } })).toThrow(MappingError);
    expect(() => destination({ mapping: { data: { bad: 'event_properties.(' } } })).toThrow(/referrals: mapping\.data\.bad: S0/);
    expect(() => destination({ events: [{ type: '*', where: '$eval("1")' }] })).toThrow(/events\[0\]\.where: \$eval/);
  });
});

describe('step 6: size', () => {
  /** A destination sending event_properties.pad; pad length chosen so the body has `bytes` bytes. */
  async function bodyOfBytes(bytes: number, fill = 'x'): Promise<Outcome> {
    const t = destination({ properties: { event: ['pad'] } });
    const probe = await send(t, { ...EVENT, event_properties: { pad: '' } });
    const overhead = Buffer.byteLength(probe.bodyJson);
    const fillBytes = Buffer.byteLength(fill);
    const count = Math.floor((bytes - overhead) / fillBytes);
    const rest = bytes - overhead - count * fillBytes; // filled with ASCII
    const pad = fill.repeat(count) + 'y'.repeat(rest);
    return run(t, { ...EVENT, event_properties: { pad } });
  }

  it('sends a body of 1,999,999 bytes', async () => {
    const outcome = await bodyOfBytes(MAX_BODY_BYTES - 1);
    expect(outcome.outcome).toBe('send');
    if (outcome.outcome === 'send') expect(Buffer.byteLength(outcome.bodyJson)).toBe(1_999_999);
  });

  it('drops a body of 2,000,000 bytes as too_large', async () => {
    const outcome = await bodyOfBytes(MAX_BODY_BYTES);
    expect(outcome).toEqual({
      outcome: 'drop',
      reason: 'too_large',
      message: 'the request body is 2000000 bytes; Extole accepts less than 2000000',
    });
  });

  it('counts UTF-8 bytes, not characters', async () => {
    expect((await bodyOfBytes(MAX_BODY_BYTES - 1, '€')).outcome).toBe('send');
    expect((await bodyOfBytes(MAX_BODY_BYTES, '€')).outcome).toBe('drop');
    const drop = await bodyOfBytes(MAX_BODY_BYTES + 3, '😀');
    expect(drop).toMatchObject({ reason: 'too_large' });
    // 700,000 three-byte characters: far fewer than 2,000,000 characters, but 2.1 MB.
    const t = destination({ properties: { event: ['pad'] } });
    expect(await dropped(t, { ...EVENT, event_properties: { pad: '€'.repeat(700_000) } })).toMatchObject({ reason: 'too_large' });
  });
});

describe('hostile events', () => {
  it('__proto__ and constructor keys in properties stay data and pollute nothing', async () => {
    const raw = JSON.parse(
      `{"event_type":"Order Completed","user_id":"ann@example.com","time":${NOW},
        "__proto__":{"polluted":"top"},
        "event_properties":{"__proto__":{"polluted":"event"},"constructor":{"prototype":{"polluted":"ctor"}},"ok":1},
        "user_properties":{"__proto__":"x"}}`,
    ) as Record<string, unknown>;
    const t = destination({
      properties: { event: '*', user: ['__proto__'] },
      mapping: { data: { copy: 'event_properties', built: '{"__proto__": {"polluted": "mapping"}}' } },
    });
    const outcome = await send(t, raw);
    const body = outcome.request.body.data;
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.hasOwn(body, '__proto__')).toBe(true);
    expect(body.__proto__).toEqual({ polluted: 'event' });
    expect(body.ok).toBe(1);
    expect((body as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    const wire = JSON.parse(outcome.bodyJson) as { data: Record<string, unknown> };
    expect(Object.hasOwn(wire.data, '__proto__')).toBe(true);
    expect(Object.hasOwn(wire.data.copy as object, '__proto__')).toBe(true);
    expect(Object.hasOwn(wire.data.built as object, '__proto__')).toBe(true);
  });

  it('deeply nested properties give a clean mapping_error, not a crash', async () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const drop = await dropped(destination({ properties: { event: '*' } }), { ...EVENT, event_properties: { deep } });
    expect(drop.reason).toBe('mapping_error');
    expect(drop.message).toMatch(/^body: the request body cannot be serialized/);
    const viaMapping = await dropped(destination({ mapping: { data: { d: 'event_properties.deep' } } }), {
      ...EVENT,
      event_properties: { deep },
    });
    expect(viaMapping.reason).toBe('mapping_error');
    // Moderate nesting is fine.
    let ok: unknown = 'leaf';
    for (let i = 0; i < 50; i++) ok = { n: ok };
    await send(destination({ properties: { event: '*' } }), { ...EVENT, event_properties: { ok } });
  });
});

describe('isoTime (the event_time default)', () => {
  it('equals Date#toISOString for any time, including edges and invalid ones', async () => {
    const { isoTime } = await import('../../src/compile/transformer.js');
    const fc = (await import('fast-check')).default;
    const native = (ms: number) => {
      try {
        return new Date(ms).toISOString();
      } catch {
        return 'invalid';
      }
    };
    const ours = (ms: number) => {
      try {
        return isoTime(ms);
      } catch (err) {
        expect(err).toBeInstanceOf(MappingError);
        return 'invalid';
      }
    };
    for (const ms of [0, -1, 1, 86_399_999, 86_400_000, 8.64e15, 8.64e15 + 1, -8.64e15, 253402300799999, 253402300800000, 1732700000123.7]) {
      expect(ours(ms)).toBe(native(ms));
    }
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15 - 10, max: 8.64e15 + 10 }), (ms) => ours(ms) === native(ms)),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1.7e12, max: 1.8e12 }), (ms) => ours(ms) === native(ms)),
      { numRuns: 20_000 },
    );
  });
});

describe('bodyJson (the serialized body)', () => {
  it('is JSON.stringify(request.body) byte for byte, for any event name, event_time and data', async () => {
    const fc = (await import('fast-check')).default;
    const t = destination({
      mapping: { event_name: 'event_properties.name', event_time: 'event_properties.when', data: { extra: 'event_properties.extra' } },
      properties: { event: '*' },
    });
    const when = fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
      fc.constantFrom('2024-11-27T09:33:20Z', '2024-11-27T09:33:20.123456+01:00', '2024-11-27T09:33', '2024-11-27T09:33:20-0500'),
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.string({ minLength: 1, unit: 'binary' }), when, fc.jsonValue(), async (name, other, at, extra) => {
        const raw = { ...EVENT, event_properties: { name: other.length % 2 === 0 ? name : other, when: at, extra, 'k"\u2028': name } };
        const outcome = await run(t, raw);
        expect(outcome.outcome).toBe('send');
      }),
      { numRuns: 300 },
    );
  });
});
