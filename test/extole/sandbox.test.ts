/**
 * The sandbox answers like Extole: valid events → 200 with the documented bodies; invalid ones →
 * RestExceptionResponse with Extole's codes (checked against the OpenAPI's schema when ../shared
 * is present); auth, media type, throttling, the blocked-email hook, and the request record.
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/extole/sandbox.js';
import { assertValidExtoleRequestBody, assertValidRestException, openApiAvailable, openApiSkipReason } from '../support/extole-openapi.js';

if (!openApiAvailable) console.warn(`sandbox tests check bodies structurally only; ${openApiSkipReason}`);

/** Valid per Extole's OpenAPI (when ../shared is there), and the exact documented shape. */
async function assertRestException(body: unknown, status: number, code: string): Promise<void> {
  assertValidRestException(body);
  expect(body).toMatchObject({ http_status_code: status, code, parameters: expect.any(Object) });
  const b = body as Record<string, unknown>;
  expect(Object.keys(b).sort()).toEqual(['code', 'http_status_code', 'message', 'parameters', 'unique_id']);
  expect(typeof b.unique_id).toBe('string');
  expect(typeof b.message).toBe('string');
  for (const value of Object.values(b.parameters as object)) expect(typeof value).toBe('object');
}

const TOKEN = 'sandbox-secret-token-123';
const goodBody = {
  event_name: 'order_completed',
  event_time: '2024-11-27T09:33:20.000Z',
  data: { email: 'ann@example.com', revenue: 42, partner_user_id: '1001' },
};

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
  const res = await request(`${sandbox!.url}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text), headers: res.headers };
}

describe('sandbox', () => {
  it('accepts a valid event on each endpoint with the documented response', async () => {
    assertValidExtoleRequestBody(goodBody);
    const lines: string[] = [];
    sandbox = await startSandbox({ log: (l) => lines.push(l) });
    const asyncRes = await post('/v6/async-events', goodBody);
    expect(asyncRes.status).toBe(200);
    expect(Object.keys(asyncRes.json as object)).toEqual(['event_id']);
    const syncRes = await post('/v6/events', goodBody);
    expect(syncRes.status).toBe(200);
    expect(syncRes.json).toEqual({ event_id: expect.any(String), person_id: expect.stringMatching(/^[0-9]+$/) });
    const again = await post('/v6/events', goodBody);
    expect((again.json as { person_id: string }).person_id).toBe((syncRes.json as { person_id: string }).person_id);
    const v5 = await post('/v5/events', goodBody);
    expect(v5.status).toBe(200);
    expect(v5.json).toEqual({ id: expect.any(String) });

    expect(sandbox.received).toHaveLength(4);
    expect(sandbox.received[0]).toMatchObject({ method: 'POST', path: '/v6/async-events', status: 200, code: null, body: goodBody });
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain('/v6/async-events 200');
    expect(lines[0]).toContain('order_completed');
  });

  it('never records or prints the access token', async () => {
    const lines: string[] = [];
    sandbox = await startSandbox({ log: (l) => lines.push(l) });
    await post('/v6/async-events', goodBody);
    await post('/v6/async-events', { data: {} });
    const record = JSON.stringify(sandbox.received);
    expect(record).not.toContain(TOKEN);
    expect(lines.join('\n')).not.toContain(TOKEN);
    expect(sandbox.received[0]!.headers.authorization).toBe('Bearer ***');
    const listed = await request(`${sandbox.url}/-/received`);
    const text = await listed.body.text();
    expect(text).not.toContain(TOKEN);
    expect(JSON.parse(text)).toHaveLength(2);
  });

  it.each([
    ['missing event_name', { event_time: '2024-11-27T09:33:20.000Z', data: {} }, 'missing_event_name'],
    ['empty event_name', { event_name: ' ', event_time: '2024-11-27T09:33:20.000Z', data: {} }, 'missing_event_name'],
    ['event_time not ISO 8601', { event_name: 'x', event_time: '27/11/2024', data: {} }, 'invalid_event_time_format'],
    ['event_time a number', { event_name: 'x', event_time: 1732700000000, data: {} }, 'invalid_event_time_format'],
    ['data.event_time not a date-time', { event_name: 'x', event_time: '2024-11-27T09:33:20Z', data: { event_time: 'yesterday' } }, 'invalid_event_time_format'],
    ['data.email not an email', { event_name: 'x', event_time: '2024-11-27T09:33:20Z', data: { email: 'nope' } }, 'data_values_invalid'],
    ['data.person_id not an integer', { event_name: 'x', event_time: '2024-11-27T09:33:20Z', data: { person_id: 'abc' } }, 'data_values_invalid'],
    ['body an array', [goodBody], 'invalid_json'],
    ['malformed JSON', '{"event_name": "x",', 'invalid_json'],
    ['empty body', '', 'missing_request_body'],
  ])('rejects %s with 400 %s', async (_name, body, code) => {
    sandbox = await startSandbox();
    const res = await post('/v6/async-events', body);
    expect(res.status).toBe(400);
    await assertRestException(res.json, 400, code);
    expect(sandbox.received[0]).toMatchObject({ status: 400, code });
  });

  it('blocks data.email ending in @blocked.example with event_blocked', async () => {
    sandbox = await startSandbox();
    const res = await post('/v6/events', { ...goodBody, data: { email: 'eve@Blocked.Example' } });
    expect(res.status).toBe(400);
    await assertRestException(res.json, 400, 'event_blocked');
  });

  it('requires a bearer token (403 missing_access_token)', async () => {
    sandbox = await startSandbox();
    const none = await post('/v6/async-events', goodBody, { 'content-type': 'application/json' });
    expect(none.status).toBe(403);
    await assertRestException(none.json, 403, 'missing_access_token');
    const empty = await post('/v6/async-events', goodBody, { authorization: 'Bearer ', 'content-type': 'application/json' });
    expect(empty.status).toBe(403);
  });

  it('requires Content-Type application/json (415 unsupported_media_type)', async () => {
    sandbox = await startSandbox();
    const res = await post('/v6/async-events', goodBody, { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    await assertRestException(res.json, 415, 'unsupported_media_type');
    const charset = await post('/v6/async-events', goodBody, {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json; charset=utf-8',
    });
    expect(charset.status).toBe(200);
  });

  it('throttles the given share with 429 too_many_requests and Retry-After: 1', async () => {
    sandbox = await startSandbox({ throttle: 0.25 });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await post('/v6/async-events', goodBody);
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers['retry-after']).toBe('1');
        await assertRestException(res.json, 429, 'too_many_requests');
      }
    }
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
  });

  it('answers unknown paths 404 and other methods 405, and rejects a bad throttle', async () => {
    sandbox = await startSandbox();
    const missing = await post('/v6/nope', goodBody);
    expect(missing.status).toBe(404);
    const get = await request(`${sandbox.url}/v6/async-events`);
    expect(get.statusCode).toBe(405);
    await get.body.text();
    await expect(startSandbox({ throttle: 2 })).rejects.toMatchObject({ code: 'ES_USAGE' });
  });

  it('clears the record with DELETE /-/received', async () => {
    sandbox = await startSandbox();
    await post('/v6/async-events', goodBody);
    const res = await request(`${sandbox.url}/-/received`, { method: 'DELETE' });
    expect(await res.body.json()).toEqual({ cleared: 1 });
    expect(sandbox.received).toHaveLength(0);
  });
});
