/**
 * One ingest request's body, from bytes to normalized events, the way Amplitude's HTTP V2,
 * Batch and Webhook endpoints read it. Pure (no I/O, no clock): the same function runs in the
 * event loop and in the ingest worker thread, so both give the same answers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AmplitudeEvent } from '../generated/amplitude-event.js';
import { AMPLITUDE_ERRORS, prepareEvents, type AmplitudeErrorBody } from './ingest.js';

/** A project as ingestion sees it: the key and a digest of its api_key for constant-time matching. */
export interface ActiveProject {
  key: string;
  /** SHA-256 of the api_key: equal-length buffers for `timingSafeEqual`. */
  apiKeyDigest: Buffer | Uint8Array;
}

/** SHA-256 of a secret: equal-length buffers for `timingSafeEqual`. */
export function secretDigest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The project whose api_key equals `apiKey`, or undefined. Every project is compared, in
 * constant time, so neither the length nor the position of a matching key shows in the
 * response time.
 */
export function findProjectByKey(projects: readonly ActiveProject[], apiKey: string): ActiveProject | undefined {
  const d = secretDigest(apiKey);
  let found: ActiveProject | undefined;
  for (const p of projects) {
    if (timingSafeEqual(p.apiKeyDigest, d) && !found) found = p;
  }
  return found;
}

/** Which endpoint a body came to: HTTP V2 / Batch name their project by `api_key` in the body. */
export type IngestRequestKind =
  | { endpoint: 'httpapi' | 'batch' }
  /** Webhook: the project was authenticated from the URL and the Authorization header. */
  | { endpoint: 'webhook'; project: string };

/** What a body read needs from the active config. */
export interface IngestRequestContext {
  projects: readonly ActiveProject[];
  eventsPerRequest: number;
  /** Epoch ms used for events without a time. */
  now: number;
}

export type ReadIngestResult =
  | { ok: false; error: AmplitudeErrorBody }
  | { ok: true; project: string; events: AmplitudeEvent[]; size: number };

const PAYLOAD_TOO_LARGE: AmplitudeErrorBody = { code: 413, error: AMPLITUDE_ERRORS.payloadTooLarge };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parse a body's bytes as JSON the way Amplitude reports problems. */
function parseJson(bytes: Uint8Array | undefined): { ok: true; value: unknown; size: number } | { ok: false; error: AmplitudeErrorBody } {
  if (bytes === undefined || bytes.length === 0) return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.missingBody } };
  try {
    // JSON.parse never touches prototypes: a "__proto__" key becomes an ordinary own property.
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    return { ok: true, value: JSON.parse(text), size: bytes.length };
  } catch {
    return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.invalidJson } };
  }
}

/**
 * Read an ingest body (already size-checked and decompressed): JSON, the request's own fields,
 * the api_key's project (HTTP V2 / Batch), the event count limit, then every event validated
 * and normalized (`prepareEvents`). Errors are Amplitude's, with `code` = the HTTP status.
 */
export function readIngestRequest(bytes: Uint8Array | undefined, kind: IngestRequestKind, ctx: IngestRequestContext): ReadIngestResult {
  const parsed = parseJson(bytes);
  if (!parsed.ok) return parsed;
  if (kind.endpoint === 'webhook') {
    const events = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
    if (events.length === 0) return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.missingField, missing_field: 'events' } };
    if (events.length > ctx.eventsPerRequest) return { ok: false, error: PAYLOAD_TOO_LARGE };
    const prepared = prepareEvents(events, { shape: 'export', now: ctx.now });
    return prepared.ok ? { ok: true, project: kind.project, events: prepared.events, size: parsed.size } : prepared;
  }
  const body = parsed.value;
  if (!isObject(body)) return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.invalidJson } };
  const apiKey = body.api_key;
  if (typeof apiKey !== 'string' || apiKey === '') {
    return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.missingField, missing_field: 'api_key' } };
  }
  const events = body.events;
  if (!Array.isArray(events) || events.length === 0) {
    return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.missingField, missing_field: 'events' } };
  }
  const project = findProjectByKey(ctx.projects, apiKey);
  if (!project) return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.invalidApiKey } };
  if (events.length > ctx.eventsPerRequest) return { ok: false, error: PAYLOAD_TOO_LARGE };
  const options = isObject(body.options) ? body.options : {};
  const minIdLength =
    typeof options.min_id_length === 'number' && Number.isInteger(options.min_id_length) && options.min_id_length >= 0
      ? options.min_id_length
      : undefined;
  const prepared = prepareEvents(events, { shape: 'http', minIdLength, now: ctx.now });
  return prepared.ok ? { ok: true, project: project.key, events: prepared.events, size: parsed.size } : prepared;
}
