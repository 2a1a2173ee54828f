/**
 * How the page talks to Strata: the JSON APIs next to the page (it is served at
 * <routePrefix>/dashboard/, so the API root is one level up), with the function key as the
 * x-functions-key header. The key arrives once as ?code= (the link `npm start` prints, or a
 * bookmark), is kept in sessionStorage for this tab and removed from the address bar, so it
 * does not linger in history or get copied with the URL. The admin key (only for starting
 * backfills) is asked for when needed and kept the same way.
 */
const FUNCTION_KEY = 'strata.functionKey';
const ADMIN_KEY = 'strata.adminKey';

export class MissingKeyError extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** Take ?code= into sessionStorage and drop it from the URL (keeps the hash route). */
export function adoptKeyFromUrl(): void {
  const url = new URL(location.href);
  const code = url.searchParams.get('code');
  if (code === null) return;
  if (code) sessionStorage.setItem(FUNCTION_KEY, code);
  url.searchParams.delete('code');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
}

export const keys = {
  function: () => sessionStorage.getItem(FUNCTION_KEY),
  admin: () => sessionStorage.getItem(ADMIN_KEY),
  setFunction: (k: string) => sessionStorage.setItem(FUNCTION_KEY, k),
  setAdmin: (k: string) => sessionStorage.setItem(ADMIN_KEY, k),
  forget: () => {
    sessionStorage.removeItem(FUNCTION_KEY);
    sessionStorage.removeItem(ADMIN_KEY);
  },
};

const apiRoot = () => new URL('../', location.href.split('#')[0]);

async function call<T>(
  method: string,
  path: string,
  body: unknown,
  key: string | null,
  signal?: AbortSignal,
): Promise<T> {
  if (!key) throw new MissingKeyError('no key');
  const res = await fetch(new URL(path.replace(/^\/+/, ''), apiRoot()), {
    method,
    headers: { 'x-functions-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(signal ? { signal } : {}),
    cache: 'no-store',
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (res.status === 401) throw new MissingKeyError('the key was refused');
  if (!res.ok) {
    const msg = (parsed as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, `${method} ${path}: ${msg}`, parsed);
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => call<T>('GET', path, undefined, keys.function(), signal),
  /** A call that needs the admin key (asked for in the page). */
  postAdmin: <T>(path: string, body: unknown) => call<T>('POST', path, body, keys.admin()),
};
export type Api = typeof api;
