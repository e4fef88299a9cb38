/* Generated from schemas/destination.schema.json by `npm run gen:types`. Do not edit by hand. */

/**
 * A JSONata expression evaluated on the normalized Amplitude event.
 */
export type Jsonata = string;

/**
 * One Extole destination (destinations/<name>.yaml): which projects feed it, which events are sent, how identity and data are mapped, how delivery behaves, and tests.
 */
export interface Destination {
  /**
   * Optional JSON Schema reference for editors; ignored by extole-stream.
   */
  $schema?: string;
  /**
   * Unique kebab-case name. Defaults to the file name without extension.
   */
  name?: string;
  /**
   * Free text for humans.
   */
  description?: string;
  /**
   * The tile's Status toggle. A disabled destination drops every event as destination_disabled.
   */
  enabled?: boolean;
  /**
   * Keys of the root config's projects whose events feed this destination (per-project enablement).
   *
   * @minItems 1
   */
  projects: [string, ...string[]];
  extole: Extole;
  /**
   * The tile's "Send events" filter: an event is sent if ANY row matches.
   *
   * @minItems 1
   */
  events: [EventRule, ...EventRule[]];
  identity?: Identity;
  /**
   * The tile's "Event Properties filter": which Amplitude properties ride along in data.
   */
  properties?: {
    /**
     * event_properties to send.
     */
    event?: '*' | string[];
    /**
     * user_properties to send.
     */
    user?: '*' | string[];
    /**
     * Group types (keys of group_properties) whose properties are sent.
     */
    group?: '*' | string[];
    /**
     * true: Amplitude's behaviour (scalars sent as strings, arrays and objects left out).
     */
    as_strings?: boolean;
  };
  mapping?: Mapping;
  delivery?: Delivery;
  /**
   * Test cases run by `extole-stream test`.
   */
  tests?: TestCase[];
}
/**
 * Where and how events are sent to Extole.
 */
export interface Extole {
  /**
   * Extole access token (the tile's "REST API Key"), from My Extole → Security Center. Secret: `${env:NAME}` or `${file:PATH}`.
   */
  access_token: string;
  /**
   * Extole events API base URL.
   */
  base_url?: string;
  /**
   * async-events: POST /v6/async-events (volume, not rate-limited); events: POST /v6/events; v5-events: POST /v5/events.
   */
  endpoint?: 'async-events' | 'events' | 'v5-events';
  /**
   * Sent as data.extole_app_type.
   */
  app_type?: string;
  /**
   * Sent as data.labels, comma-joined.
   */
  labels?: string[];
}
/**
 * One selection row: event type(s) and an optional predicate.
 */
export interface EventRule {
  /**
   * Exact event_type, a list of them, or "*" for all events.
   */
  type: string | [string, ...string[]];
  /**
   * Optional JSONata predicate on the normalized event; the row matches when it is truthy.
   */
  where?: string;
}
/**
 * The tile's "Choose your user identifier": how Extole identifies the person.
 */
export interface Identity {
  /**
   * JSONata giving the person's email (Extole's primary key).
   */
  email?: string;
  /**
   * JSONata giving a secondary id (e.g. user_properties.unique_id).
   */
  partner_user_id?: string;
  /**
   * any: an email or a partner_user_id is needed; email: an email is needed. Otherwise the event is dropped as no_identity.
   */
  require?: 'any' | 'email';
}
/**
 * Optional JSONata mappings evaluated on the normalized event.
 */
export interface Mapping {
  /**
   * Extole event_name. Default: event_type.
   */
  event_name?: string;
  /**
   * Extole event_time (ISO 8601). Default: ISO-8601 UTC of time.
   */
  event_time?: string;
  /**
   * Extra data keys, each a JSONata expression; undefined or null results are left out.
   */
  data?: {
    [k: string]: Jsonata;
  };
}
/**
 * How events are delivered to Extole.
 */
export interface Delivery {
  /**
   * Upper bound on requests in flight; concurrency adapts below it on 429s.
   */
  concurrency?: number;
  /**
   * Optional request rate limit: N/window, e.g. 100/1m, 10/1s.
   */
  rate_limit?: string;
  /**
   * Request timeout (headers and body).
   */
  timeout?: string;
  /**
   * Retry policy. An event is given up only after max_attempts AND max_age.
   */
  retry?: {
    /**
     * Attempts before an event may expire.
     */
    max_attempts?: number;
    /**
     * Age before an event may expire.
     */
    max_age?: string;
    /**
     * First backoff (full jitter).
     */
    initial_backoff?: string;
    /**
     * Largest backoff.
     */
    max_backoff?: string;
  };
}
/**
 * One test: an event in, the expected request or drop out.
 */
export interface TestCase {
  /**
   * What the test proves.
   */
  name: string;
  /**
   * Project key the event comes from. Default: the destination's first project.
   */
  project?: string;
  /**
   * An Amplitude event, HTTP V2 or Export shape.
   */
  event: {};
  /**
   * Expected outcome: a request, or a drop.
   */
  expect: {
    [k: string]: unknown;
  };
}
