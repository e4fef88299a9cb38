import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENDPOINT_PATHS, endpointPath, endpointUrl } from '../../src/extole/request.js';
import {
  assertValidExtoleRequestBody,
  assertValidRestException,
  extoleOpenApiPath,
  openApiAvailable,
  openApiSkipReason,
} from '../support/extole-openapi.js';

describe('endpointPath', () => {
  it('maps each endpoint setting to the path in Extole’s API (SPEC §9)', () => {
    expect(endpointPath('async-events')).toBe('/v6/async-events');
    expect(endpointPath('events')).toBe('/v6/events');
    expect(endpointPath('v5-events')).toBe('/v5/events');
    expect(Object.keys(ENDPOINT_PATHS).sort()).toEqual(['async-events', 'events', 'v5-events']);
  });

  it('refuses a value the schema does not allow, including prototype keys', () => {
    expect(() => endpointPath('v7' as never)).toThrow(TypeError);
    expect(() => endpointPath('constructor' as never)).toThrow(TypeError);
    expect(() => endpointPath('__proto__' as never)).toThrow(TypeError);
  });

  it('joins base URL and path without a doubled slash', () => {
    expect(endpointUrl('https://events.extole.io/', 'events')).toBe('https://events.extole.io/v6/events');
    expect(endpointUrl('http://127.0.0.1:8080', 'async-events')).toBe('http://127.0.0.1:8080/v6/async-events');
  });
});

describe.skipIf(!openApiAvailable)(`Extole OpenAPI helper (${openApiAvailable ? 'loaded' : openApiSkipReason})`, () => {
  it('accepts a minimal and a full EventDispatcherRequest', () => {
    assertValidExtoleRequestBody({ event_name: 'signup', event_time: '2024-11-27T09:33:20.000Z', data: {} });
    assertValidExtoleRequestBody({
      event_name: 'purchase',
      event_time: '2024-11-27T09:33:20.000Z',
      data: { email: 'ann@example.com', partner_user_id: '1001', person_id: 42, anything: { nested: [1, 'x'] } },
    });
    // EventSubmissionData is `nullable: true` in OpenAPI 3.0: the helper turns that into a null type.
    assertValidExtoleRequestBody({ event_name: 'signup', event_time: '2024-11-27T09:33:20.000Z', data: null });
  });

  it('rejects bodies Extole would refuse', () => {
    expect(() => assertValidExtoleRequestBody({ event_time: '2024-11-27T09:33:20.000Z', data: {} })).toThrow(/event_name/);
    expect(() => assertValidExtoleRequestBody({ event_name: 'x', data: {} })).toThrow(/event_time/);
    expect(() => assertValidExtoleRequestBody({ event_name: 'x', event_time: 't', data: { email: 'not-an-email' } })).toThrow(
      /email/,
    );
    expect(() => assertValidExtoleRequestBody({ event_name: 'x', event_time: 't', data: { partner_user_id: 1001 } })).toThrow(
      /partner_user_id/,
    );
  });

  it('accepts every RestExceptionResponse example Extole publishes and rejects a partial one', () => {
    const openapi = JSON.parse(readFileSync(extoleOpenApiPath, 'utf8')) as {
      components: { examples: Record<string, { value: unknown }> };
    };
    const examples = Object.values(openapi.components.examples);
    expect(examples.length).toBeGreaterThan(10);
    for (const example of examples) assertValidRestException(example.value);
    expect(() => assertValidRestException({ code: 'x', message: 'y' })).toThrow(/http_status_code|unique_id/);
  });
});
