/**
 * The CLI's HTTP client for a running Strata app, local or deployed alike: base URL from
 * --url (or STRATA_URL, else the local host's port), the function key for `function` routes
 * and the admin key for `admin` routes, sent as x-functions-key. Any answer outside 2xx
 * becomes an ApiError carrying the status and the API's own message, so every command
 * reports failures the same way; an unreachable app becomes one line saying so. A 503 with
 * Retry-After (the local host while it starts, Azure while an instance warms up) is waited out
 * and sent again, for at most RETRY_AFTER_BUDGET_MS, when the body can be sent twice.
 */
import { ApiError, Failed, type ApiErrorDetail } from './errors';

export type KeyLevel = 'function' | 'admin' | 'none';

export interface ApiClientOptions {
  url: string;
  functionKey: string;
  adminKey: string;
  /** Per request unless a request says otherwise (default 120 s: a training set can take a while). */
  timeoutMs?: number;
}

export interface RequestOptions {
  key?: KeyLevel;
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body (sets content-type). */
  json?: unknown;
  /** Any other body: bytes, or a stream (sent with duplex: half). */
  body?: Buffer | Uint8Array | ReadableStream<Uint8Array> | string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Statuses outside 2xx that the caller handles itself (e.g. 404 meaning "none yet"). */
  accept?: number[];
}

/** How long one request waits out 503 + Retry-After answers in total before it reports the 503. */
export const RETRY_AFTER_BUDGET_MS = 120_000;
/** Longest single wait a Retry-After may ask for. */
const RETRY_AFTER_MAX_S = 10;

export class ApiClient {
  readonly baseUrl: string;

  constructor(private readonly o: ApiClientOptions) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new Failed(`--url "${o.url}" is not a URL (e.g. http://127.0.0.1:7071 or https://<app>.azurewebsites.net)`);
    }
    this.baseUrl = u.toString().replace(/\/+$/, '');
  }

  /** The admin key (the local bus endpoint takes it). */
  get adminKey(): string {
    return this.o.adminKey;
  }

  /** The function key (the dashboard link carries it). */
  get functionKey(): string {
    return this.o.functionKey;
  }

  url(path: string, query: RequestOptions['query'] = {}): URL {
    const u = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  async request(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, o.query);
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const key = o.key ?? 'function';
    if (key !== 'none') headers['x-functions-key'] = key === 'admin' ? this.o.adminKey : this.o.functionKey;
    let body: RequestInit['body'];
    if (o.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(o.json);
    } else if (o.body !== undefined) body = o.body as RequestInit['body'];
    const shown = `${url.pathname}${url.search}`;
    const replayable = !(body instanceof ReadableStream);
    const waitUntil = Date.now() + RETRY_AFTER_BUDGET_MS;
    let res: Response;
    for (;;) {
      try {
        res = await fetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(o.timeoutMs ?? this.o.timeoutMs ?? 120_000),
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (e) {
        throw new Failed(unreachable(this.baseUrl, method, shown, e));
      }
      const wait = res.status === 503 && replayable && !o.accept?.includes(503) ? retryAfterMs(res) : undefined;
      if (wait === undefined || Date.now() + wait > waitUntil) break;
      await res.arrayBuffer().catch(() => undefined);
      await new Promise((r) => setTimeout(r, wait));
    }
    if (res.ok || o.accept?.includes(res.status)) return res;
    const { message, details } = await errorOf(res);
    throw new ApiError(method, shown, res.status, message, details);
  }

  async json<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, o);
    const text = await res.text();
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new Failed(`${method} ${path}: ${res.status} but the answer is not JSON: ${text.slice(0, 200)}`);
    }
  }
}

/** Retry-After in seconds (the only form Strata and Azure send), capped; undefined without one. */
function retryAfterMs(res: Response): number | undefined {
  const h = res.headers.get('retry-after');
  if (h === null || !/^\d+$/.test(h.trim())) return undefined;
  return Math.min(Number(h), RETRY_AFTER_MAX_S) * 1000;
}

function unreachable(base: string, method: string, path: string, e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return `${method} ${path}: no answer from ${base} in time (the request timed out)`;
  const why = err.cause?.code ?? err.cause?.message ?? err.message;
  return `cannot reach ${base} (${why}): is the app running? Start it with \`npx strata start\`, or pass --url`;
}

async function errorOf(res: Response): Promise<{ message: string; details: ApiErrorDetail[] }> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown; details?: unknown };
    if (typeof body.error === 'string') {
      const details = Array.isArray(body.details)
        ? (body.details as ApiErrorDetail[]).filter((d) => d && typeof d === 'object')
        : [];
      return { message: body.error, details };
    }
  } catch {
    /* not JSON */
  }
  const plain = text.replace(/\s+/g, ' ').trim().slice(0, 300);
  return { message: plain || res.statusText || 'no message', details: [] };
}
