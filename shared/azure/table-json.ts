/**
 * A JSON document as Table entity properties. A Table string property holds at most 32K
 * UTF-16 characters and an entity 1 MiB, and a window's report (20 features of drift and
 * quality) can pass the first; so the text is split into `body0`, `body1`, ... of 30,000
 * characters with `bodyParts` saying how many (shared/azure/large-property.ts, the one splitter).
 * One helper, used by every monitoring table.
 */
import { packJson, unpackJson, type PropertyLayout } from './large-property';
/** About 900 KB of text: below the entity limit with room for the other properties. */
const MAX_CHARS = 900_000;
const LAYOUT: PropertyLayout = { count: 'bodyParts', part: (i) => `body${i}` };

export function jsonProperties(value: unknown): Record<string, string | number> {
  const out = packJson(value, LAYOUT);
  const chars = Object.entries(out).reduce((n, [k, v]) => (k === LAYOUT.count ? n : n + String(v).length), 0);
  if (chars > MAX_CHARS)
    throw new RangeError(
      `a monitoring document of ${chars} characters does not fit one Table entity (at most ${MAX_CHARS})`,
    );
  return out;
}

export function jsonFromProperties<T>(e: Record<string, unknown>): T {
  return unpackJson(e, LAYOUT) as T;
}

/** RowKeys may not hold / \ # ? or control characters: encode a key part so it cannot. */
export const keyPart = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
export const fromKeyPart = (s: string): string => decodeURIComponent(s);

/** A time as a fixed-width, sortable key (ISO-8601, ms, UTC). */
export const timeKey = (ms: number): string => new Date(ms).toISOString();

export { isNotFound } from './status';
