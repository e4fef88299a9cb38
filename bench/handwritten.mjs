/**
 * The example config's three destinations (destinations/*.yaml) written by hand in plain
 * JavaScript: the yardstick the compiled transformer is measured against.
 *
 * It is what a developer would write for these exact destinations without a config language:
 * property reads, `if`s, string methods, no interpreter. It gives the same outcomes as
 * `compileDestination` (same drop reasons and messages, same request, same body bytes) on every
 * recorded sample; bench/throughput.mjs and test/bench/handwritten-equivalence.test.ts assert
 * that before any figure is taken. It is NOT a general SPEC §3.1 implementation: JSONata
 * corner cases the samples never reach (a string revenue, a fractional rating…) are not copied.
 *
 * No imports from the program: the comparison must not share its code.
 */

const USER_AGENT_PREFIX = 'extole-stream/';
const MAX_BODY_BYTES = 2_000_000;

/** Drops without a message, shared (as the transformer does). */
export const DROP_PROJECT_NOT_ENABLED = Object.freeze({ outcome: 'drop', reason: 'project_not_enabled' });
export const DROP_DESTINATION_DISABLED = Object.freeze({ outcome: 'drop', reason: 'destination_disabled' });
export const DROP_EVENT_NOT_SELECTED = Object.freeze({ outcome: 'drop', reason: 'event_not_selected' });
export const DROP_NO_IDENTITY = Object.freeze({ outcome: 'drop', reason: 'no_identity' });

/** A string or number identity (numbers as strings); empty and anything else → undefined. */
export function identity(value) {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** An identity with exactly one `@` and text on both sides. */
export function email(value) {
  const text = identity(value);
  if (text === undefined) return undefined;
  const at = text.indexOf('@');
  return at > 0 && at < text.length - 1 && text.indexOf('@', at + 1) === -1 ? text : undefined;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Finish the body, check the size, build the request (the same for every destination). */
function send(url, path, headers, eventName, event, data) {
  const body = { event_name: eventName, event_time: new Date(event.time ?? Date.now()).toISOString(), data };
  const bodyJson = JSON.stringify(body);
  if (bodyJson.length * 3 >= MAX_BODY_BYTES) {
    const bytes = Buffer.byteLength(bodyJson, 'utf8');
    if (bytes >= MAX_BODY_BYTES) {
      return {
        outcome: 'drop',
        reason: 'too_large',
        message: `the request body is ${bytes} bytes; Extole accepts less than ${MAX_BODY_BYTES}`,
      };
    }
  }
  return { outcome: 'send', request: { method: 'POST', url, path, headers, body }, bodyJson };
}

/**
 * @param {{ version: string }} opts the program version, for the User-Agent header
 * @returns the three destinations, sorted by name, each `{ name, sync: true, transform(event, project) }`
 */
export function createHandwrittenTransformers({ version }) {
  const headers = Object.freeze({
    authorization: 'Bearer ***',
    'content-type': 'application/json',
    'user-agent': USER_AGENT_PREFIX + version,
  });

  // destinations/loyalty-challenges.yaml
  const CHALLENGES = { 'Review Submitted': 'review-a-product', 'Profile Completed': 'complete-your-profile', 'App Installed': 'get-the-app' };
  const CHALLENGE_EVENT_KEYS = ['product_id', 'rating', 'has_photo', 'steps_completed', 'fields', 'source'];
  const loyaltyChallenges = (event, project) => {
    if (project !== 'ios-prod') return DROP_PROJECT_NOT_ENABLED;
    const type = event.event_type;
    const ep = isObject(event.event_properties) ? event.event_properties : undefined;
    if (type === 'Profile Completed') {
      if (!(ep !== undefined && typeof ep.steps_completed === 'number' && ep.steps_completed >= 5)) return DROP_EVENT_NOT_SELECTED;
    } else if (type === 'App Installed') {
      if (ep !== undefined && ep.reinstall === true) return DROP_EVENT_NOT_SELECTED;
    } else if (type !== 'Review Submitted') {
      return DROP_EVENT_NOT_SELECTED;
    }
    const mail = email(event.user_id);
    if (mail === undefined) return DROP_NO_IDENTITY; // require: email
    const partnerUserId = isObject(event.user_properties) ? identity(event.user_properties.unique_id) : undefined;

    // as_strings: scalars as strings, arrays/objects/null left out
    const data = {};
    const tier = isObject(event.user_properties) ? event.user_properties.loyalty_tier : undefined;
    if (typeof tier === 'string') data.loyalty_tier = tier;
    else if (typeof tier === 'number' || typeof tier === 'boolean') data.loyalty_tier = String(tier);
    if (ep !== undefined) {
      for (const key of CHALLENGE_EVENT_KEYS) {
        const value = ep[key];
        if (typeof value === 'string') data[key] = value;
        else if (typeof value === 'number' || typeof value === 'boolean') data[key] = String(value);
      }
    }
    const challenge = CHALLENGES[type];
    if (challenge !== undefined) data.challenge = challenge;
    if (ep !== undefined && ep.rating !== undefined) {
      const width = Math.abs(ep.rating);
      data.stars = '★'.repeat(width);
    }
    data.extole_app_type = 'extole-stream-challenges';
    data.labels = 'challenges,loyalty';
    data.email = mail;
    if (partnerUserId !== undefined) data.partner_user_id = partnerUserId;
    const eventName = 'challenge_' + type.replaceAll(' ', '_').toLowerCase();
    return send('https://events.extole.io/v6/events', '/v6/events', headers, eventName, event, data);
  };

  // destinations/referrals.yaml
  const REFERRAL_EVENT_KEYS = ['order_id', 'revenue', 'currency', 'coupon_code', 'referral_code'];
  const referrals = (event, project) => {
    if (project !== 'web-prod' && project !== 'ios-prod') return DROP_PROJECT_NOT_ENABLED;
    const type = event.event_type;
    const ep = isObject(event.event_properties) ? event.event_properties : undefined;
    if (type === 'Order Completed') {
      if (!(ep !== undefined && typeof ep.revenue === 'number' && ep.revenue > 0)) return DROP_EVENT_NOT_SELECTED;
    } else if (type !== 'Sign Up' && type !== 'Account Created') {
      return DROP_EVENT_NOT_SELECTED;
    }
    const up = isObject(event.user_properties) ? event.user_properties : undefined;
    const mail = email(event.user_id);
    const partnerUserId = up !== undefined ? identity(up.unique_id) : undefined;
    if (mail === undefined && partnerUserId === undefined) return DROP_NO_IDENTITY;

    const data = {};
    if (up !== undefined && up.plan !== undefined && up.plan !== null) data.plan = up.plan;
    if (ep !== undefined) {
      for (const key of REFERRAL_EVENT_KEYS) {
        const value = ep[key];
        if (value !== undefined && value !== null) data[key] = value;
      }
    }
    if (event.insert_id !== undefined && event.insert_id !== null) data.partner_conversion_id = event.insert_id;
    const itemCount = ep !== undefined ? ep.item_count : undefined;
    if (typeof itemCount === 'number') data.item_count = itemCount;
    else if (typeof itemCount === 'string') {
      // $number("2") is 2; text that is not a JSON number fails the event
      const n = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(itemCount) ? Number(itemCount) : NaN;
      if (Number.isNaN(n)) {
        return {
          outcome: 'drop',
          reason: 'mapping_error',
          message: `mapping.data.item_count: D3030: Unable to cast value to a number: ${JSON.stringify(itemCount)} (at character 8)`,
        };
      }
      data.item_count = n;
    }
    if (typeof event.platform === 'string') data.source_platform = event.platform.toLowerCase();
    data.extole_app_type = 'extole-stream';
    data.labels = 'refer-a-friend';
    if (mail !== undefined) data.email = mail;
    if (partnerUserId !== undefined) data.partner_user_id = partnerUserId;
    const eventName = type === 'Order Completed' ? 'conversion' : 'registration';
    return send('https://events.extole.io/v6/async-events', '/v6/async-events', headers, eventName, event, data);
  };

  // destinations/vip-surprise.yaml: enabled: false
  const vipSurprise = (event, project) => {
    if (project !== 'web-prod' && project !== 'ios-prod') return DROP_PROJECT_NOT_ENABLED;
    return DROP_DESTINATION_DISABLED;
  };

  return [
    { name: 'loyalty-challenges', sync: true, transform: loyaltyChallenges },
    { name: 'referrals', sync: true, transform: referrals },
    { name: 'vip-surprise', sync: true, transform: vipSurprise },
  ];
}
