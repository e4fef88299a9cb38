/**
 * A local stand-in for Extole's events API (SPEC §4 `sandbox`), for demos, `serve --sandbox`
 * and tests. It answers like Extole:
 *
 * - `POST /v6/async-events` → 200 `{event_id}`; `POST /v6/events` → 200 `{event_id, person_id}`;
 *   `POST /v5/events` → 200 `{id}`.
 * - Every body is checked with ajv against the project's own
 *   `schemas/extole-event-request.schema.json` (written from Extole's OpenAPI); problems answer
 *   400 with a `RestExceptionResponse` and Extole's code (`missing_event_name`,
 *   `invalid_event_time_format`, `invalid_json`, `missing_request_body`, `data_values_invalid`).
 * - `Authorization: Bearer <token>` is required (any token; missing → 403 `missing_access_token`),
 *   `Content-Type: application/json` too (else 415 `unsupported_media_type`).
 * - `throttle` (0…1): that share of requests is answered 429 `too_many_requests` with
 *   `Retry-After: 1` (deterministically: every n-th, not at random).
 * - Demo hook: `data.email` ending in `@blocked.example` → 400 `event_blocked`.
 *
 * It records what it got (`received`, authorization redacted to `Bearer ***`), prints one line per
 * request through `log`, and serves the record at `GET /-/received` (`DELETE` clears it).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { UsageError } from '../errors.js';
import { restException, type ExtoleErrorCode, type RestExceptionResponse } from './rest-exception.js';

export interface SandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Share of event requests answered 429, 0…1. Default 0. */
  throttle?: number;
  /** One readable line per request. Default: silent. */
  log?: (line: string) => void;
}

/** One request the sandbox got, as recorded (authorization redacted). */
export interface ReceivedRequest {
  /** ISO-8601 time it arrived. */
  at: string;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Lower-case header names; `authorization` as `Bearer ***`. */
  headers: Record<string, string>;
  /** Parsed JSON body, or the raw text when it was not JSON (null when empty). */
  body: unknown;
  /** Status the sandbox answered. */
  status: number;
  /** Extole error code answered, or null for 2xx. */
  code: string | null;
  /** The JSON the sandbox answered. */
  response: unknown;
}

export interface Sandbox {
  /** e.g. `http://127.0.0.1:41234` — use as a destination's `base_url`. */
  url: string;
  /** Requests received, oldest first (the newest `MAX_RECORDED` are kept). */
  received: ReceivedRequest[];
  close(): Promise<void>;
}

/** Recorded requests kept; older ones are forgotten so a long demo does not grow without bound. */
export const MAX_RECORDED = 10_000;
/** Largest body read; Extole's events are small (the transformer drops ≥ 2 MB). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

type EventsPath = '/v6/async-events' | '/v6/events' | '/v5/events';
const EVENT_PATHS = new Set<string>(['/v6/async-events', '/v6/events', '/v5/events']);

let cachedValidator: ValidateFunction | undefined;

/** The ajv validator of schemas/extole-event-request.schema.json (compiled once per process). */
export function eventRequestValidator(): ValidateFunction {
  if (cachedValidator) return cachedValidator;
  // src/extole/ and dist/extole/ are both two levels below the package root.
  const schemaUrl = new URL('../../schemas/extole-event-request.schema.json', import.meta.url);
  const schema = JSON.parse(readFileSync(schemaUrl, 'utf8')) as object;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  cachedValidator = ajv.compile(schema);
  return cachedValidator;
}

/** ISO 8601 date or date-time (Extole accepts a missing zone, unlike RFC 3339 `date-time`). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

function isIso8601(text: string): boolean {
  return ISO_8601.test(text) && !Number.isNaN(Date.parse(text.replace(' ', 'T').replace(',', '.')));
}

/** Start the sandbox; resolves once it listens. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const throttle = opts.throttle ?? 0;
  if (!(throttle >= 0 && throttle <= 1)) throw new UsageError(`throttle must be a ratio from 0 to 1, got ${throttle}`);
  const log = opts.log ?? (() => {});
  const validate = eventRequestValidator();
  const received: ReceivedRequest[] = [];
  let eventRequests = 0;
  let eventCounter = 0;

  const record = (entry: ReceivedRequest): void => {
    received.push(entry);
    if (received.length > MAX_RECORDED) received.splice(0, received.length - MAX_RECORDED);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const at = new Date().toISOString();
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';

    if (path === '/-/received') {
      if (method === 'GET') return sendJson(res, 200, received);
      if (method === 'DELETE') {
        const cleared = received.length;
        received.length = 0;
        return sendJson(res, 200, { cleared });
      }
    }

    const raw = await readBody(req);
    const headers = redactHeaders(req);
    let body: unknown = raw === null || raw.length === 0 ? null : raw;
    let parsed: { ok: true; value: unknown } | { ok: false } = { ok: false };
    if (raw !== null && raw.length > 0) {
      try {
        parsed = { ok: true, value: JSON.parse(raw) };
        body = parsed.value;
      } catch {
        // Recorded as text; answered below once route, auth and media type are known good.
      }
    }

    const answer = (status: number, response: unknown, code: string | null, extra?: Record<string, string>): void => {
      record({ at, method, path, headers, body, status, code, response });
      log(describe(method, path, status, code, body, response));
      sendJson(res, status, response, extra);
    };
    const fail = (code: ExtoleErrorCode, parameters?: RestExceptionResponse['parameters'], extra?: Record<string, string>): void => {
      const error = restException(code, parameters);
      answer(error.http_status_code, error, code, extra);
    };

    if (!EVENT_PATHS.has(path)) return fail('not_found', { request: { method, path } });
    if (method !== 'POST') return fail('method_not_allowed', { request: { method, path } }, { allow: 'POST' });

    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+$/i.test(auth.trim())) return fail('missing_access_token');

    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (mediaType !== 'application/json') return fail('unsupported_media_type');

    if (raw === null) return fail('request_too_large', { body: { max_bytes: MAX_BODY_BYTES } });

    // Deterministic share: request n is throttled when ⌊(n+1)·r⌋ > ⌊n·r⌋.
    const n = eventRequests++;
    if (Math.floor((n + 1) * throttle) > Math.floor(n * throttle)) {
      return fail('too_many_requests', {}, { 'retry-after': '1' });
    }

    if (raw.trim().length === 0) return fail('missing_request_body');
    if (!parsed.ok) return fail('invalid_json');

    const problem = checkEventRequest(validate, parsed.value);
    if (problem) return fail(problem.code, problem.parameters);

    const data = (parsed.value as { data?: Record<string, unknown> | null }).data;
    const email = data && typeof data.email === 'string' ? data.email : undefined;
    if (email && email.toLowerCase().endsWith('@blocked.example')) return fail('event_blocked');

    const eventId = newEventId(++eventCounter);
    const ok = okResponse(path as EventsPath, eventId, data ?? null);
    answer(200, ok, null);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A sandbox bug must not take the process down; answer 500 like Extole would.
      if (!res.headersSent) sendJson(res, 500, restException('internal_error', { error: { message: String(err) } }));
    });
  });
  // Delivery keeps connections alive; the sandbox must not cut them sooner than a real host.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;

  return {
    url: `http://${host}:${address.port}`,
    received,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/**
 * The Extole error for a body that breaks schemas/extole-event-request.schema.json, or null.
 * Codes follow what Extole documents for the events endpoints.
 */
export function checkEventRequest(
  validate: ValidateFunction,
  body: unknown,
): { code: ExtoleErrorCode; parameters: RestExceptionResponse['parameters'] } | null {
  const valid = validate(body);
  const errors: ErrorObject[] = valid ? [] : [...(validate.errors ?? [])];
  const detail = (e: ErrorObject): RestExceptionResponse['parameters'] => ({
    validation: { instance_path: e.instancePath, keyword: e.keyword, message: e.message ?? '', params: { ...e.params } },
  });
  const root = errors.find((e) => e.instancePath === '' && e.keyword === 'type');
  if (root) return { code: 'invalid_json', parameters: detail(root) };

  const record = body as Record<string, unknown>;
  const nameError = errors.find(
    (e) => (e.keyword === 'required' && e.params.missingProperty === 'event_name') || e.instancePath === '/event_name',
  );
  if (nameError?.keyword === 'required' || (typeof record.event_name === 'string' && record.event_name.trim() === '')) {
    return { code: 'missing_event_name', parameters: nameError ? detail(nameError) : {} };
  }
  if (nameError) return { code: 'invalid_json', parameters: detail(nameError) };

  const timeError = errors.find(
    (e) =>
      (e.keyword === 'required' && e.params.missingProperty === 'event_time') ||
      e.instancePath === '/event_time' ||
      e.instancePath === '/data/event_time',
  );
  if (timeError) return { code: 'invalid_event_time_format', parameters: detail(timeError) };
  // The schema has no format on the top-level event_time (Extole's OpenAPI has none); Extole
  // still answers invalid_event_time_format for a value that is not ISO 8601.
  if (typeof record.event_time === 'string' && !isIso8601(record.event_time)) {
    return {
      code: 'invalid_event_time_format',
      parameters: { validation: { instance_path: '/event_time', keyword: 'format', message: 'must be ISO 8601', params: {} } },
    };
  }

  const dataError = errors.find((e) => e.instancePath === '/data' || e.instancePath.startsWith('/data/'));
  if (dataError) return { code: 'data_values_invalid', parameters: detail(dataError) };
  const other = errors[0];
  return other ? { code: 'invalid_json', parameters: detail(other) } : null;
}

function okResponse(path: EventsPath, eventId: string, data: Record<string, unknown> | null): Record<string, string> {
  if (path === '/v5/events') return { id: eventId };
  if (path === '/v6/async-events') return { event_id: eventId };
  return { event_id: eventId, person_id: personIdFor(data) };
}

/** Extole ids are long decimal strings; the counter keeps them unique within a run. */
function newEventId(counter: number): string {
  return `${Date.now()}${String(counter % 1_000_000).padStart(6, '0')}`;
}

/** The same identity always resolves to the same person, like Extole's profile lookup. */
function personIdFor(data: Record<string, unknown> | null): string {
  const given = data?.person_id;
  if (typeof given === 'number' || (typeof given === 'string' && /^[0-9]+$/.test(given))) return String(given);
  const key = data?.email ?? data?.partner_user_id;
  if (key === undefined || key === null) return BigInt(`0x${randomUUID().replace(/-/g, '').slice(0, 15)}`).toString();
  const hash = createHash('sha256').update(String(key).toLowerCase()).digest('hex');
  return BigInt(`0x${hash.slice(0, 15)}`).toString();
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  }
  return tooLarge ? null : Buffer.concat(chunks).toString('utf8');
}

function redactHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    // Object.defineProperty: a header named __proto__ must not reach the prototype.
    Object.defineProperty(headers, name, {
      value: name === 'authorization' ? (/^Bearer\s/i.test(text) ? 'Bearer ***' : '***') : text,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return headers;
}

function sendJson(res: ServerResponse, status: number, value: unknown, extra?: Record<string, string>): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

function describe(method: string, path: string, status: number, code: string | null, body: unknown, response: unknown): string {
  const event = body && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
  const name = typeof event?.event_name === 'string' ? event.event_name : undefined;
  const data = event?.data && typeof event.data === 'object' ? (event.data as Record<string, unknown>) : undefined;
  const who = data?.email ?? data?.partner_user_id ?? data?.person_id;
  const parts = [method, path, String(status)];
  if (code) parts.push(code);
  if (name !== undefined) parts.push(JSON.stringify(name));
  if (who !== undefined) parts.push(`for ${String(who)}`);
  const id = (response as Record<string, unknown> | null)?.event_id ?? (response as Record<string, unknown> | null)?.id;
  if (status === 200 && typeof id === 'string') parts.push(`event_id=${id}`);
  return parts.join(' ');
}
