/**
 * Where an Extole event request goes (SPEC §9): one path per `extole.endpoint` setting.
 */
import type { Extole } from '../generated/destination.js';

/** The `extole.endpoint` values of a destination. */
export type ExtoleEndpoint = NonNullable<Extole['endpoint']>;

/** Request path per endpoint setting, from Extole's published OpenAPI. */
export const ENDPOINT_PATHS: Readonly<Record<ExtoleEndpoint, string>> = Object.freeze({
  'async-events': '/v6/async-events',
  events: '/v6/events',
  'v5-events': '/v5/events',
});

/** Default `extole.endpoint`: the volume path, not rate-limited by Extole. */
export const DEFAULT_ENDPOINT: ExtoleEndpoint = 'async-events';

/** Default `extole.base_url`. */
export const DEFAULT_BASE_URL = 'https://events.extole.io';

/**
 * The request path for an endpoint setting, e.g. `async-events` → `/v6/async-events`.
 * Throws a TypeError for a value the destination schema does not allow (a programming error:
 * validated configs never get here with one).
 */
export function endpointPath(endpoint: ExtoleEndpoint): string {
  const path = Object.hasOwn(ENDPOINT_PATHS, endpoint) ? ENDPOINT_PATHS[endpoint] : undefined;
  if (path === undefined) throw new TypeError(`unknown Extole endpoint: ${String(endpoint)}`);
  return path;
}

/**
 * `{base_url}{path}` without a doubled slash when base_url ends with `/` (users paste URLs
 * both ways).
 */
export function endpointUrl(baseUrl: string, endpoint: ExtoleEndpoint): string {
  return baseUrl.replace(/\/+$/, '') + endpointPath(endpoint);
}
