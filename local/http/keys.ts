import { timingSafeEqual } from 'node:crypto';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HostKeys {
  functionKey: string;
  adminKey: string;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The key a request presents: `x-functions-key` header or `code` query parameter, as in Azure. */
export function presentedKey(headers: Record<string, string | string[] | undefined>, query: URLSearchParams): string | undefined {
  const h = headers['x-functions-key'];
  return (Array.isArray(h) ? h[0] : h) ?? query.get('code') ?? undefined;
}

/** Function-level routes accept the function key or the admin (master) key; admin routes only the admin key. */
export function authorized(level: AuthLevel, key: string | undefined, keys: HostKeys): boolean {
  if (level === 'anonymous') return true;
  if (key === undefined) return false;
  if (same(key, keys.adminKey)) return true;
  return level === 'function' && same(key, keys.functionKey);
}
