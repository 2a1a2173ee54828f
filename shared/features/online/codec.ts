/**
 * What both online stores agree on: key names, how values are written, which write wins, expiry.
 *
 *   onlineKey(prefix, view, entityId)   'strata:v1:user_clicks:u42'
 *   encodeValue(v) / decodeValue(s)     number | string | boolean | null <-> one tagged string
 *   isNewer(a, b)                       (eventTs, createdTs) of a > b, lexicographically
 *   newestPerEntity(rows)               the rows that can win a write: the newest of each entity
 *   expiryOf(eventTs, ttlMs)            when a value written for eventTs stops being served
 */
import type { FeatureRow, FeatureValue } from '../definitions/values';

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

/**
 * The newest row of each entity (the first of equal ones, as a compare-and-set applied in order
 * keeps it), in first-seen order. Only these can change the store: an older row of the same
 * entity is overwritten by the newest one, and expires no later than it (expiry follows the
 * event time). An ingest batch holds one row per event, so a busy entity's rows collapse to one
 * write instead of one round of Lua per event.
 */
export function newestPerEntity(rows: readonly FeatureRow[]): FeatureRow[] {
  const newest = new Map<string, FeatureRow>();
  for (const row of rows) {
    const seen = newest.get(row.entityId);
    if (!seen || isNewer(row, seen)) newest.set(row.entityId, row);
  }
  return newest.size === rows.length ? (rows as FeatureRow[]) : [...newest.values()];
}
