/**
 * The host's keys, as Azure's: a function key for `function` routes, the admin (master) key
 * for everything, and system keys by name for extension webhooks (`durabletask_extension`
 * for the Durable HTTP API). Compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HostKeys {
  functionKey: string;
  adminKey: string;
  /** Extension webhooks' keys by name (Azure's "systemKeys"), e.g. durabletask_extension. */
  systemKeys?: Readonly<Record<string, string>>;
}

/** The host's few keys as bytes, made once (not on every comparison of every request). */
const keyBytes = new Map<string, Buffer>();
function bytesOf(key: string): Buffer {
  let b = keyBytes.get(key);
  if (!b) {
    if (keyBytes.size > 64) keyBytes.clear(); // keys are rotated rarely; never let the cache grow
    keyBytes.set(key, (b = Buffer.from(key)));
  }
  return b;
}

/** `presented` is the request's, `expected` one of the host's keys. */
function same(presented: string, expected: string): boolean {
  const x = Buffer.from(presented);
  const y = bytesOf(expected);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The key a request presents: `x-functions-key` header or `code` query parameter, as in Azure. */
export function presentedKey(
  headers: Record<string, string | string[] | undefined>,
  query: URLSearchParams,
): string | undefined {
  const h = headers['x-functions-key'];
  return (Array.isArray(h) ? h[0] : h) ?? query.get('code') ?? undefined;
}

/** An extension webhook (e.g. the Durable HTTP API) takes its system key or the admin (master) key, never a function key. */
export function authorizedSystem(systemKey: string, key: string | undefined, keys: HostKeys): boolean {
  if (key === undefined) return false;
  if (same(key, keys.adminKey)) return true;
  const expected =
    keys.systemKeys && Object.hasOwn(keys.systemKeys, systemKey) ? keys.systemKeys[systemKey] : undefined;
  return expected !== undefined && same(key, expected);
}

/** Function-level routes accept the function key or the admin (master) key; admin routes only the admin key. */
export function authorized(level: AuthLevel, key: string | undefined, keys: HostKeys): boolean {
  if (level === 'anonymous') return true;
  if (key === undefined) return false;
  if (same(key, keys.adminKey)) return true;
  return level === 'function' && same(key, keys.functionKey);
}
