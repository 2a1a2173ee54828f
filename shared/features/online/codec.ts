/**
 * What both online stores agree on: key names, how values are written, which write wins, expiry.
 *
 *   onlineKey(prefix, view, entityId)   'strata:v1:user_clicks:u42'
 *   encodeValue(v) / decodeValue(s)     number | string | boolean | null <-> one tagged string
 *   isNewer(a, b)                       (eventTs, createdTs) of a > b, lexicographically
 *   expiryOf(eventTs, ttlMs)            when a value written for eventTs stops being served
 */
import type { FeatureValue } from '../types';

export const DEFAULT_KEY_PREFIX = 'strata:v1';

/** Hash fields of the row's times; feature names never start with '@' (definitions allow [a-z0-9_]). */
export const EVENT_TS_FIELD = '@e';
export const CREATED_TS_FIELD = '@c';

export function onlineKey(prefix: string, view: string, entityId: string): string {
  return `${prefix}:${view}:${entityId}`;
}

// One letter of type, then the value: "n12.5", "shello", "b1", "z" (null). Strings that look like
// numbers stay strings, and a number read back is the same double (String() round-trips).
export function encodeValue(v: FeatureValue): string {
  if (v === null) return 'z';
  switch (typeof v) {
    case 'number':
      return `n${v}`;
    case 'boolean':
      return v ? 'b1' : 'b0';
    default:
      return `s${v}`;
  }
}

export function decodeValue(s: string): FeatureValue {
  switch (s[0]) {
    case 'n':
      return Number(s.slice(1));
    case 'b':
      return s === 'b1';
    case 's':
      return s.slice(1);
    default:
      return null;
  }
}

export function isNewer(a: { eventTs: number; createdTs: number }, b: { eventTs: number; createdTs: number }): boolean {
  return a.eventTs > b.eventTs || (a.eventTs === b.eventTs && a.createdTs > b.createdTs);
}

/** undefined: never expires. */
export function expiryOf(eventTs: number, ttlMs: number | undefined): number | undefined {
  return ttlMs === undefined ? undefined : eventTs + ttlMs;
}
