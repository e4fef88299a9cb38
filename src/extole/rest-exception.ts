/**
 * Extole's error answers (`RestExceptionResponse`: `{unique_id, http_status_code, code, message,
 * parameters}`) for the codes its events endpoints document, with Extole's own status and
 * message for each (from the OpenAPI's `components/examples`). The sandbox answers with these.
 */
import { randomUUID } from 'node:crypto';

export interface RestExceptionResponse {
  unique_id: string;
  http_status_code: number;
  code: string;
  message: string;
  /** Values are objects (the OpenAPI says `additionalProperties: {type: object}`). */
  parameters: Record<string, Record<string, unknown>>;
}

/** Status and message per Extole error code. */
export const EXTOLE_ERRORS = {
  missing_event_name: { status: 400, message: 'Event name is required.' },
  invalid_event_time_format: { status: 400, message: 'Invalid event time format. Expected: ISO8601 format' },
  event_blocked: { status: 400, message: 'Blocked due to client specific rules to ignore spurious events' },
  invalid_json: { status: 400, message: 'JSON is invalid' },
  missing_request_body: { status: 400, message: 'Missing request body' },
  data_values_invalid: { status: 400, message: 'Data values parameter format is invalid' },
  method_unauthorized: { status: 401, message: 'Unauthorized access to this endpoint' },
  payment_required: { status: 402, message: 'The access_token provided is associated with an unpaid account.' },
  access_denied: { status: 403, message: 'The access_token provided is not permitted to access the specified resource.' },
  missing_access_token: { status: 403, message: 'No access_token was provided with this request.' },
  unsupported_media_type: { status: 415, message: 'Request had an unsupported or no media type' },
  too_many_requests: {
    status: 429,
    message: 'The server is unable to process your request at the moment, please retry later.',
  },
  // Not in the events OpenAPI; Extole's gateway answers unknown paths and methods this way.
  not_found: { status: 404, message: 'The requested resource was not found.' },
  method_not_allowed: { status: 405, message: 'The request method is not supported for this resource.' },
  request_too_large: { status: 413, message: 'The request body is too large.' },
  internal_error: { status: 500, message: 'An internal error occurred.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ExtoleErrorCode = keyof typeof EXTOLE_ERRORS;

/** Build a `RestExceptionResponse` for `code`, with a fresh `unique_id`. */
export function restException(
  code: ExtoleErrorCode,
  parameters: Record<string, Record<string, unknown>> = {},
): RestExceptionResponse {
  const { status, message } = EXTOLE_ERRORS[code];
  return { unique_id: randomUUID(), http_status_code: status, code, message, parameters };
}
