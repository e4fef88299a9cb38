/**
 * Constant-time credential checks. Keys are compared as SHA-256 digests (equal lengths for
 * `timingSafeEqual`), and every project is compared on every call, so neither the length nor
 * the position of a matching key shows in the response time.
 */
import { timingSafeEqual } from 'node:crypto';
import { secretDigest as digest } from '../runtime/ingest-request.js';

export { findProjectByKey } from '../runtime/ingest-request.js';

/** True when `given` equals `expected`, in constant time. */
export function secretEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S.*)$/i.exec(header.trim());
  return m ? m[1]!.trim() : undefined;
}

/** Loopback peers: 127.0.0.0/8, ::1, and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
