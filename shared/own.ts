/**
 * Looking a client-given key up in a plain object (aliases, versions by view, CSV headers):
 * only the object's own properties count, so `constructor` or `__proto__` never finds
 * Object.prototype's members (which gave "no version function Object() { [native code] }").
 */

/** The value of an own property, or undefined. */
export function own<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A plain object from key/value pairs where every key becomes an own property (also `__proto__`). */
export function recordOf<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  return Object.fromEntries(entries) as Record<string, V>;
}
