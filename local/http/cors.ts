/**
 * CORS as `func start` applies it (local.settings.json Host.CORS / CORSCredentials, or --cors):
 * ASP.NET Core's policy with the listed origins (or * for any), any method, any header. A
 * preflight (OPTIONS with Access-Control-Request-Method) is answered 204 before routing and keys;
 * other responses to an allowed Origin carry Access-Control-Allow-Origin. Without a CORS setting
 * nothing is added, as there.
 */
export interface CorsOptions {
  origins: string[];
  credentials: boolean;
}

type Headers = Record<string, string | string[] | undefined>;

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** The Access-Control headers for a request from `origin`, or undefined when it is not allowed. */
export function corsHeaders(o: CorsOptions, requestHeaders: Headers): Record<string, string> | undefined {
  const origin = first(requestHeaders.origin);
  if (!origin) return undefined;
  const any = o.origins.includes('*');
  if (!any && !o.origins.some((a) => a.toLowerCase() === origin.toLowerCase())) return undefined;
  const h: Record<string, string> = {};
  if (any && !o.credentials) h['access-control-allow-origin'] = '*';
  else {
    h['access-control-allow-origin'] = origin;
    h.vary = 'Origin';
  }
  if (o.credentials) h['access-control-allow-credentials'] = 'true';
  return h;
}

/** The answer to a preflight request, or undefined when `method`/headers are not a preflight. */
export function preflightResponse(
  o: CorsOptions,
  method: string,
  requestHeaders: Headers,
): { status: number; headers: Record<string, string> } | undefined {
  const requested = first(requestHeaders['access-control-request-method']);
  if (method !== 'OPTIONS' || !requested || !first(requestHeaders.origin)) return undefined;
  const allowed = corsHeaders(o, requestHeaders);
  if (!allowed) return { status: 204, headers: {} };
  const headers = { ...allowed, 'access-control-allow-methods': requested };
  const askedHeaders = first(requestHeaders['access-control-request-headers']);
  return {
    status: 204,
    headers: askedHeaders ? { ...headers, 'access-control-allow-headers': askedHeaders } : headers,
  };
}
