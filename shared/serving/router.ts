/**
 * Sticky routing. hash(model, entityId) puts every entity in one of 10,000 buckets; the
 * buckets below the canary share go to the canary, the rest to production. The same
 * entity therefore always sees the same version while the policy stands, and raising
 * the canary share only moves entities from production to the canary, never back.
 */
import { NotFoundError } from '../errors';
import { BUCKETS, type Deployment, type DeployedVersion } from './deployments';
import { own } from '../own';

/** Routing buckets per model (defined beside the deployments that count a canary's share in them). */
export { BUCKETS };

export type RoutedBy = 'production' | 'canary' | 'pinned';

export interface Route {
  version: DeployedVersion;
  routedBy: RoutedBy;
}

/** The entity's bucket for this model, 0..9999; stable across processes and releases. */
export function bucketOf(model: string, entityId: string): number {
  return murmur3(`${model}\u0000${entityId}`) % BUCKETS;
}

export function route(d: Deployment, entityId: string): Route {
  if (d.canary && d.canaryBuckets > 0 && bucketOf(d.model, entityId) < d.canaryBuckets) {
    return { version: d.canary, routedBy: 'canary' };
  }
  return mainRoute(d);
}

/**
 * Where traffic the canary does not take goes: production, or a canary that takes all of
 * it. The version that describes an unpinned model (OIP metadata and readiness).
 */
export function mainRoute(d: Deployment): Route {
  if (d.production) return { version: d.production, routedBy: 'production' };
  if (d.canary && d.canaryBuckets >= BUCKETS) return { version: d.canary, routedBy: 'canary' };
  throw new NotFoundError(
    `model ${d.model} has no production version; set its production alias (POST /api/models/${d.model}/aliases)`,
  );
}

/** A pin names a version (`3`, `v3`) or an alias (`canary`, `shadow`). */
export type Pin = { version: number } | { alias: string };

export function parsePin(pin: string): Pin {
  const m = /^v?(\d{1,9})$/i.exec(pin.trim());
  return m ? { version: Number(m[1]) } : { alias: pin.trim() };
}

/** The version a pin names, if it is an alias of the snapshot; a bare version number is returned as is. */
export function resolvePin(d: Deployment, pin: Pin): number {
  if ('version' in pin) return pin.version;
  const v = own(d.aliases, pin.alias);
  if (v === undefined) {
    const known = Object.keys(d.aliases).join(', ') || 'none';
    throw new NotFoundError(`model ${d.model} has no alias "${pin.alias}" to pin to (its aliases: ${known})`);
  }
  return v;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** MurmurHash3 (x86, 32-bit) of the UTF-8 bytes: fast, well mixed, the same everywhere. */
export function murmur3(text: string, seed = 0): number {
  // Encode into a reused buffer: routing runs once per entity per request.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  const n = encoder.encodeInto(text, scratch).written;
  const bytes = scratch;
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail) {
    let k = 0;
    if (tail === 3) k ^= bytes[i + 2]! << 16;
    if (tail >= 2) k ^= bytes[i + 1]! << 8;
    k ^= bytes[i]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
