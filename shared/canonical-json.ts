/**
 * The one canonical JSON of Strata: what every stored id is a hash of (definition versions,
 * segment ids and batch claims, ingest batch ids, backfill instance ids, training-set and spine
 * identities, model content claims). Equal values give equal text whatever their key order, so
 * an id names what a thing means, never how it was written down.
 *
 *   canonicalJson(value) -> string    object keys sorted at every level; undefined object members dropped
 *   sha256Hex(bytes | text) -> string 64 hex chars
 *
 * The form is exactly `JSON.stringify` of the value with every plain object's keys inserted in
 * sorted (UTF-16 code unit) order, and it must stay so: ids already stored were hashed from it
 * (test/unit/stored-ids.test.ts holds vectors written before this module existed). Two facts
 * of that form are JavaScript's, kept on purpose: integer-like keys ("2", "10") come first in
 * ascending numeric order (a JS object orders them so, whatever the insertion order), and
 * `undefined` inside an array becomes `null`. Objects are read as plain data (a Date reads as
 * `{}`): ids are made from parsed JSON and typed records, never from class instances.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sorted(value));
}

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sorted(x);
    }
    return out;
  }
  return v;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
