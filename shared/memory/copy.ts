/**
 * What a store hands out is a copy: a caller changing a row it read changes nothing stored,
 * as with a real backend. Values are JSON data (no undefined members kept, as a Table drops
 * them), so a round trip through JSON is the copy.
 */
export function copyOf<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
