/**
 * Versions of definitions: sha256 over canonical JSON.
 *
 *   canonicalJson(value) -> string    keys sorted at every level, undefined dropped (key order never matters)
 *   versionOf(normalised) -> string   64 hex chars
 *   shortVersion(version) -> string   first 12, for messages
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export function versionOf(normalised: unknown): string {
  return createHash('sha256').update(canonicalJson(normalised)).digest('hex');
}

export function shortVersion(version: string): string {
  return version.slice(0, 12);
}
