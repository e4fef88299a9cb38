/**
 * The example destinations expressed with Segment's mapping-kit (`transform(mapping, payload)`
 * from @segment/actions-core, the engine behind Segment's Actions destinations), for comparison.
 *
 * mapping-kit does the data and identity extraction (`@path`, `@if` exists, `@case`, `@replace`,
 * `@template`, literals; undefined results removed). What it has no directive for is done in
 * plain JavaScript around it, exactly as a Segment destination's `perform` would:
 * event selection (equality and `>` tests), identity rules (one `@`, numbers → strings),
 * `$number`, `$lookup`, the stars bar, `as_strings`, event_time formatting, the body and the
 * size check. bench/throughput.mjs asserts the outcomes equal the transformer's on every sample.
 *
 * Note: mapping-kit's `transform` validates the mapping on every call; that is its public API
 * as Segment calls it, so it is measured as is.
 */
import { createRequire } from 'node:module';
// The identity rules and drop outcomes are the same plain JavaScript as the hand-written version.
import {
  DROP_DESTINATION_DISABLED,
  DROP_EVENT_NOT_SELECTED,
  DROP_NO_IDENTITY,
  DROP_PROJECT_NOT_ENABLED,
  email,
  identity,
} from './handwritten.mjs';

const require = createRequire(import.meta.url);

/** mapping-kit's `transform` (CommonJS build; the ESM build does not load on Node). */
export function loadMappingKit() {
  return require('@segment/actions-core').transform;
}

const MAX_BODY_BYTES = 2_000_000;

/** `@path` only when the value is neither null nor missing (mapping-kit keeps nulls otherwise). */
const present = (path) => ({ '@if': { exists: { '@path': path }, then: { '@path': path } } });



function send(url, path, headers, eventName, event, data) {
  const body = { event_name: eventName, event_time: new Date(event.time ?? Date.now()).toISOString(), data };
  const bodyJson = JSON.stringify(body);
  const bytes = Buffer.byteLength(bodyJson, 'utf8');
  if (bytes >= MAX_BODY_BYTES) {
    return { outcome: 'drop', reason: 'too_large', message: `the request body is ${bytes} bytes; Extole accepts less than ${MAX_BODY_BYTES}` };
  }
  return { outcome: 'send', request: { method: 'POST', url, path, headers, body }, bodyJson };
}

/**
 * @param {{ version: string, transform?: Function }} opts
 * @returns the three destinations, sorted by name, each `{ name, sync: true, transform(event, project) }`
 */
export function createMappingKitTransformers({ version, transform = loadMappingKit() }) {
  const headers = Object.freeze({
    authorization: 'Bearer ***',
    'content-type': 'application/json',
    'user-agent': `extole-stream/${version}`,
  });

  // destinations/loyalty-challenges.yaml
  const CHALLENGES = { 'Review Submitted': 'review-a-product', 'Profile Completed': 'complete-your-profile', 'App Installed': 'get-the-app' };
  const CHALLENGE_STRING_KEYS = ['loyalty_tier', 'product_id', 'rating', 'has_photo', 'steps_completed', 'fields', 'source'];
  const challengesMapping = {
    event_name: {
      '@case': {
        operator: 'lower',
        value: { '@replace': { pattern: ' ', replacement: '_', value: { '@template': 'challenge_{{event_type}}' } } },
      },
    },
    email: { '@path': '$.user_id' },
    partner_user_id: { '@path': '$.user_properties.unique_id' },
    data: {
      loyalty_tier: present('$.user_properties.loyalty_tier'),
      product_id: present('$.event_properties.product_id'),
      rating: present('$.event_properties.rating'),
      has_photo: present('$.event_properties.has_photo'),
      steps_completed: present('$.event_properties.steps_completed'),
      fields: present('$.event_properties.fields'),
      source: present('$.event_properties.source'),
      challenge: { '@path': '$.event_type' }, // looked up below
      stars: { '@path': '$.event_properties.rating' }, // drawn below
      extole_app_type: 'extole-stream-challenges',
      labels: 'challenges,loyalty',
    },
  };
  const loyaltyChallenges = (event, project) => {
    if (project !== 'ios-prod') return DROP_PROJECT_NOT_ENABLED;
    const type = event.event_type;
    const ep = event.event_properties;
    if (type === 'Profile Completed') {
      if (!(typeof ep?.steps_completed === 'number' && ep.steps_completed >= 5)) return DROP_EVENT_NOT_SELECTED;
    } else if (type === 'App Installed') {
      if (ep?.reinstall === true) return DROP_EVENT_NOT_SELECTED;
    } else if (type !== 'Review Submitted') {
      return DROP_EVENT_NOT_SELECTED;
    }
    const mapped = transform(challengesMapping, event);
    const mail = email(mapped.email);
    if (mail === undefined) return DROP_NO_IDENTITY;
    const partnerUserId = identity(mapped.partner_user_id);
    const data = mapped.data;
    for (const key of CHALLENGE_STRING_KEYS) {
      const value = data[key];
      if (value === undefined || typeof value === 'string') continue;
      if (typeof value === 'number' || typeof value === 'boolean') data[key] = String(value);
      else delete data[key];
    }
    const challenge = CHALLENGES[type];
    if (challenge === undefined) delete data.challenge;
    else data.challenge = challenge;
    if (data.stars !== undefined) data.stars = '★'.repeat(Math.abs(data.stars));
    data.email = mail;
    if (partnerUserId !== undefined) data.partner_user_id = partnerUserId;
    return send('https://events.extole.io/v6/events', '/v6/events', headers, mapped.event_name, event, data);
  };

  // destinations/referrals.yaml
  const referralsMapping = {
    email: { '@path': '$.user_id' },
    partner_user_id: { '@path': '$.user_properties.unique_id' },
    data: {
      plan: present('$.user_properties.plan'),
      order_id: present('$.event_properties.order_id'),
      revenue: present('$.event_properties.revenue'),
      currency: present('$.event_properties.currency'),
      coupon_code: present('$.event_properties.coupon_code'),
      referral_code: present('$.event_properties.referral_code'),
      partner_conversion_id: present('$.insert_id'),
      item_count: present('$.event_properties.item_count'), // $number below
      source_platform: { '@case': { operator: 'lower', value: { '@path': '$.platform' } } },
      extole_app_type: 'extole-stream',
      labels: 'refer-a-friend',
    },
  };
  const referrals = (event, project) => {
    if (project !== 'web-prod' && project !== 'ios-prod') return DROP_PROJECT_NOT_ENABLED;
    const type = event.event_type;
    if (type === 'Order Completed') {
      const revenue = event.event_properties?.revenue;
      if (!(typeof revenue === 'number' && revenue > 0)) return DROP_EVENT_NOT_SELECTED;
    } else if (type !== 'Sign Up' && type !== 'Account Created') {
      return DROP_EVENT_NOT_SELECTED;
    }
    const mapped = transform(referralsMapping, event);
    const mail = email(mapped.email);
    const partnerUserId = identity(mapped.partner_user_id);
    if (mail === undefined && partnerUserId === undefined) return DROP_NO_IDENTITY;
    const data = mapped.data;
    if (typeof data.item_count === 'string') {
      const text = data.item_count;
      const n = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
      if (Number.isNaN(n)) {
        return {
          outcome: 'drop',
          reason: 'mapping_error',
          message: `mapping.data.item_count: D3030: Unable to cast value to a number: ${JSON.stringify(text)} (at character 8)`,
        };
      }
      data.item_count = n;
    }
    if (mail !== undefined) data.email = mail;
    if (partnerUserId !== undefined) data.partner_user_id = partnerUserId;
    return send(
      'https://events.extole.io/v6/async-events',
      '/v6/async-events',
      headers,
      type === 'Order Completed' ? 'conversion' : 'registration',
      event,
      data,
    );
  };

  // destinations/vip-surprise.yaml: enabled: false, nothing to map
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
