/**
 * The compiled form of a destination: a pure function from a normalized Amplitude event to
 * either an Extole request or a drop decision (SPEC §3.1).
 */
import type { AmplitudeEvent } from '../generated/amplitude-event.js';

export type DropReason =
  | 'project_not_enabled'
  | 'destination_disabled'
  | 'event_not_selected'
  | 'no_identity'
  | 'mapping_error'
  | 'too_large';

export const DROP_REASONS: readonly DropReason[] = [
  'project_not_enabled',
  'destination_disabled',
  'event_not_selected',
  'no_identity',
  'mapping_error',
  'too_large',
];

/** The body Extole's `EventDispatcherRequest` describes. */
export interface ExtoleRequestBody {
  event_name: string;
  event_time: string;
  data: Record<string, unknown>;
}

/**
 * An Extole request as the transformer builds it. It never holds the access token:
 * `headers.authorization` is always `Bearer ***`; delivery puts the real token in at send time.
 */
export interface ExtoleRequest {
  method: 'POST';
  /** `{base_url}{path}` */
  url: string;
  /** e.g. `/v6/async-events` */
  path: string;
  headers: { authorization: 'Bearer ***'; 'content-type': 'application/json'; 'user-agent': string };
  body: ExtoleRequestBody;
}

export type Outcome =
  | {
      outcome: 'send';
      request: ExtoleRequest;
      /** `JSON.stringify(request.body)`, computed once (size check, queue, delivery). */
      bodyJson: string;
    }
  | { outcome: 'drop'; reason: DropReason; message?: string };

export interface Transformer {
  /** Destination name. */
  readonly name: string;
  /** True when every expression compiled to synchronous JavaScript: `transform` never returns a Promise. */
  readonly sync: boolean;
  /**
   * Apply SPEC §3.1 to one normalized event coming from project `project`.
   * Never throws for a bad event: expression failures become `mapping_error` drops.
   */
  transform(event: AmplitudeEvent, project: string): Outcome | Promise<Outcome>;
}
