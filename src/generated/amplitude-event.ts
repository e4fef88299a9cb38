/* Generated from schemas/amplitude-event.schema.json by `npm run gen:types`. Do not edit by hand. */

/**
 * An Amplitude event normalized to the HTTP V2 shape, as mappings see it. Export/Webhook events are converted to this shape first; fields not listed here are dropped.
 */
export interface AmplitudeEvent {
  /**
   * Name of the event (Amplitude event_type).
   */
  event_type: string;
  /**
   * The user's id; with the default identity mapping, the email sent to Extole.
   */
  user_id?: string | null;
  /**
   * Device id (anonymous users).
   */
  device_id?: string | null;
  /**
   * Event time in milliseconds since the epoch (Export shape: from event_time).
   */
  time?: number;
  /**
   * Unique id of the event, used to de-duplicate (Export shape: $insert_id).
   */
  insert_id?: string | null;
  /**
   * Properties of the event.
   */
  event_properties?: {};
  /**
   * Properties of the user at the time of the event.
   */
  user_properties?: {};
  /**
   * Group memberships: group type → group name(s).
   */
  groups?: {};
  /**
   * Properties of groups: group type → properties.
   */
  group_properties?: {};
  /**
   * App version (Export shape: version_name).
   */
  app_version?: string;
  /**
   * Platform, e.g. Web, iOS.
   */
  platform?: string;
  /**
   * Operating system name.
   */
  os_name?: string;
  /**
   * Operating system version.
   */
  os_version?: string;
  /**
   * Device brand.
   */
  device_brand?: string;
  /**
   * Device manufacturer.
   */
  device_manufacturer?: string;
  /**
   * Device model.
   */
  device_model?: string;
  /**
   * Device type.
   */
  device_type?: string;
  /**
   * Device family.
   */
  device_family?: string;
  /**
   * Mobile carrier (Export shape: device_carrier).
   */
  carrier?: string;
  /**
   * Country.
   */
  country?: string;
  /**
   * Region.
   */
  region?: string;
  /**
   * City.
   */
  city?: string;
  /**
   * Designated market area.
   */
  dma?: string;
  /**
   * Language.
   */
  language?: string;
  /**
   * Price of the item purchased.
   */
  price?: number;
  /**
   * Quantity of the item purchased.
   */
  quantity?: number;
  /**
   * Revenue (price × quantity).
   */
  revenue?: number;
  /**
   * Product id.
   */
  productId?: string;
  /**
   * Revenue type.
   */
  revenueType?: string;
  /**
   * Latitude.
   */
  location_lat?: number;
  /**
   * Longitude.
   */
  location_lng?: number;
  /**
   * IP address (Export shape: ip_address).
   */
  ip?: string;
  /**
   * iOS advertising id.
   */
  idfa?: string;
  /**
   * iOS vendor id.
   */
  idfv?: string;
  /**
   * Google Play advertising id.
   */
  adid?: string;
  /**
   * Android id.
   */
  android_id?: string;
  /**
   * Event counter per device.
   */
  event_id?: number;
  /**
   * Session start time in ms, or -1.
   */
  session_id?: number;
  /**
   * Sending library, e.g. amplitude-node/1.0.
   */
  library?: string;
  /**
   * User agent.
   */
  user_agent?: string;
  /**
   * Amplitude's internal user id (Export shape).
   */
  amplitude_id?: number;
  /**
   * Amplitude's event uuid (Export shape).
   */
  uuid?: string;
  /**
   * Tracking plan info.
   */
  plan?: {
    [k: string]: unknown;
  };
  /**
   * Ingestion metadata (source name and version).
   */
  ingestion_metadata?: {
    [k: string]: unknown;
  };
  /**
   * Partner id.
   */
  partner_id?: string;
}
