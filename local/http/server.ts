/**
 * The local host's HTTP front door: serves the app's `app.http` functions under the route
 * prefix with Azure's routing, key checks and status codes, plus host-owned routes
 * (admin API, extension routes such as the Durable client API).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { FunctionsCore, RegisteredFunction, InvocationResponse, RpcTypedData } from '../functions-core';
import type { LocalHttpRequest, LocalHttpResponse } from '../extension';
import { compileRoute, compareSpecificity, CompiledRoute, splitPath } from './route';
import { AuthLevel, authorized, authorizedSystem, HostKeys, presentedKey } from './keys';
import { storageUnavailable } from '../../shared/azure/status';
import { CorsOptions, corsHeaders, preflightResponse } from './cors';

export interface HostRoute {
  method: string;
  route: CompiledRoute;
  authLevel: AuthLevel;
  handle(req: LocalHttpRequest, params: Record<string, string>): Promise<LocalHttpResponse>;
}

export interface HttpFrontDoorOptions {
  core: FunctionsCore;
  routePrefix: string;
  keys: HostKeys;
  /** Requests with a larger body get 413 before any function runs. */
  maxBodyBytes: number;
  hostRoutes: HostRoute[];
  /**
   * Checked after host routes, before app routes (extensions such as Durable). One that returns
   * undefined synchronously (not its path) costs the request no await.
   */
  fallbacks: Array<(req: LocalHttpRequest) => Promise<LocalHttpResponse | undefined> | undefined>;
  /** Extension webhook paths and the system key each needs (checked before the fallbacks run). */
  webhooks: Array<{ path: string; systemKey: string }>;
  /** local.settings.json Host.CORS / --cors. */
  cors?: CorsOptions;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

interface AppRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: Set<string> | undefined;
  authLevel: AuthLevel;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): LocalHttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

class BodyTooLarge extends Error {}
const EMPTY = Buffer.alloc(0);

export class HttpFrontDoor {
  private readonly appRoutes: AppRoute[];
  private server: http.Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();
  /** Until the host has started every trigger, requests get 503 (like a cold host). */
  ready = false;

  constructor(private readonly opts: HttpFrontDoorOptions) {
    const prefix = opts.routePrefix.replace(/^\/+|\/+$/g, '');
    this.appRoutes = opts.core.byTrigger('httpTrigger').map((fn) => {
      const t = fn.trigger as { route?: string; methods?: string[]; authLevel?: AuthLevel };
      const template = [prefix, t.route ?? fn.name].filter(Boolean).join('/');
      return {
        fn,
        route: compileRoute(template),
        methods: t.methods?.length ? new Set(t.methods.map((m) => m.toUpperCase())) : undefined,
        authLevel: t.authLevel ?? 'function',
      };
    });
    this.appRoutes.sort((a, b) => compareSpecificity(a.route, b.route));
  }

  /** The public URL template of each HTTP function, for the start-up listing. */
  describe(baseUrl: string): Array<{ name: string; methods: string; url: string; authLevel: AuthLevel }> {
    return this.appRoutes.map((r) => ({
      name: r.fn.name,
      methods: r.methods ? [...r.methods].join(',') : 'ANY',
      url: `${baseUrl}/${r.route.template}`,
      authLevel: r.authLevel,
    }));
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        // A host route (the Durable API, the local bus) that met a storage outage: 503 naming it.
        const down = storageUnavailable(err);
        if (down) this.opts.log('warn', `${req.method} ${req.url}: ${down.message}`);
        else this.opts.log('error', `unhandled host error: ${(err as Error).stack ?? err}`);
        if (!res.headersSent) res.writeHead(down ? 503 : 500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: down ? down.message : 'internal host error' }));
      });
    });
    this.server.keepAliveTimeout = 65_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => {
        const a = this.server!.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      for (const sock of this.sockets) sock.destroy();
    });
  }

  private readBody(req: http.IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.opts.maxBodyBytes) return Promise.reject(new BodyTooLarge());
    // Most requests (GET, lookups) have no body: skip the stream machinery for them.
    if (declared === 0 && req.headers['transfer-encoding'] === undefined) {
      req.resume();
      return Promise.resolve(EMPTY);
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.opts.maxBodyBytes) {
          req.removeAllListeners('data');
          reject(new BodyTooLarge());
          return;
        }
        chunks.push(c);
      });
      req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      req.once('error', reject);
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.ready)
      return send(res, json(503, { error: 'the host is starting; retry in a moment' }, { 'retry-after': '1' }));
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const cors = this.opts.cors;
    if (cors) {
      const pre = preflightResponse(cors, method, req.headers);
      if (pre) {
        req.resume();
        return send(res, pre);
      }
      const h = corsHeaders(cors, req.headers);
      if (h) for (const [k, v] of Object.entries(h)) res.setHeader(k, v);
    }
    let body: Buffer;
    try {
      body = await this.readBody(req);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      // Drain nothing more: tell the client and close, like a front end with a request size limit.
      send(
        res,
        json(
          413,
          {
            error: `request body is larger than the limit of ${this.opts.maxBodyBytes} bytes (setting STRATA_UPLOAD_MAX_BYTES)`,
          },
          { connection: 'close' },
        ),
      );
      req.destroy();
      return;
    }
    const local: LocalHttpRequest = { method, path: url.pathname, query: url.searchParams, headers: req.headers, body };
    const path = splitPath(url.pathname); // once, for every route tried

    for (const r of this.opts.hostRoutes) {
      if (r.method !== method) continue;
      const params = r.route.matchSplit(path);
      if (!params) continue;
      if (!authorized(r.authLevel, presentedKey(req.headers, url.searchParams), this.opts.keys)) {
        return send(
          res,
          json(401, {
            error: `${r.authLevel} key required: send it as the x-functions-key header or the code query parameter`,
          }),
        );
      }
      return send(res, await r.handle(local, params));
    }
    const hook = this.opts.webhooks.find((w) => url.pathname === w.path || url.pathname.startsWith(`${w.path}/`));
    if (hook && !authorizedSystem(hook.systemKey, presentedKey(req.headers, url.searchParams), this.opts.keys)) {
      return send(
        res,
        json(401, {
          error: `${hook.path} needs the ${hook.systemKey} system key or the admin key: send it as the x-functions-key header or the code query parameter`,
        }),
      );
    }
    for (const f of this.opts.fallbacks) {
      const pending = f(local);
      const r = pending && (await pending);
      if (r) return send(res, r);
    }

    let methodMismatch = false;
    for (const r of this.appRoutes) {
      if (r.methods && !r.methods.has(method)) {
        // Only to answer 405 rather than 404: match once a mismatch is not known yet.
        if (!methodMismatch && r.route.matchSplit(path)) methodMismatch = true;
        continue;
      }
      const params = r.route.matchSplit(path);
      if (!params) continue;
      if (!authorized(r.authLevel, presentedKey(req.headers, url.searchParams), this.opts.keys)) {
        return send(
          res,
          json(401, {
            error: `function "${r.fn.name}" requires a ${r.authLevel} key: send it as the x-functions-key header or the code query parameter`,
          }),
        );
      }
      return this.invokeHttp(r, req, url, params, body, res);
    }
    if (methodMismatch) return send(res, json(405, { error: `method ${method} is not allowed on ${url.pathname}` }));
    return send(res, json(404, { error: `no function serves ${method} ${url.pathname}` }));
  }

  private invokeHttpStream(
    r: AppRoute,
    proxy: string,
    req: http.IncomingMessage,
    parts: {
      headers: Record<string, string>;
      query: Record<string, string>;
      params: Record<string, string>;
      host: string;
    },
    body: Buffer,
    res: http.ServerResponse,
  ): Promise<void> {
    return streamThroughProxy(this.opts.core, r.fn, proxy, req, parts, body, res);
  }

  private async invokeHttp(
    r: AppRoute,
    req: http.IncomingMessage,
    url: URL,
    params: Record<string, string>,
    body: Buffer,
    res: http.ServerResponse,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    for (const k in req.headers) {
      const v = req.headers[k];
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    const query: Record<string, string> = {};
    if (url.search) for (const [k, v] of url.searchParams) query[k] = v;
    const host = headers.host ?? 'localhost';
    const proxy = this.opts.core.capabilities.HttpUri;
    if (proxy) return this.invokeHttpStream(r, proxy, req, { headers, query, params, host }, body, res);
    const httpData = {
      method: req.method ?? 'GET',
      url: `http://${host}${req.url ?? '/'}`,
      headers,
      query,
      params,
      body: { bytes: body },
    };
    let out: InvocationResponse;
    try {
      out = await this.opts.core.invoke(r.fn.id, {
        inputData: [{ name: r.fn.triggerKey, data: { http: httpData } }],
      });
    } catch {
      // Azure answers 500 with no detail when a function throws; the host's log carries the error.
      return send(res, { status: 500, headers: {}, body: '' });
    }
    const h = (out.returnValue?.http ?? {}) as {
      statusCode?: string;
      headers?: Record<string, string>;
      cookies?: Array<Record<string, unknown>>;
      body?: { bytes?: Uint8Array; string?: string };
    };
    const status = Number(h.statusCode ?? 200);
    const payload = h.body?.bytes
      ? Buffer.from(h.body.bytes.buffer, h.body.bytes.byteOffset, h.body.bytes.byteLength)
      : (h.body?.string ?? '');
    const outHeaders: Record<string, string | string[]> = { ...(h.headers ?? {}) };
    if (h.cookies?.length) outHeaders['set-cookie'] = h.cookies.map(cookieString);
    withLength(status, outHeaders, payload);
    res.writeHead(status, outHeaders);
    res.end(payload);
  }
}

/**
 * HTTP streaming (`app.setup({ enableHttpStream: true })`, which the v4 templates write): the
 * library runs its own HTTP server (capability HttpUri). As the Functions host does, the request
 * goes there with its invocation id, the invocation carries route values, headers and query as
 * trigger metadata, and the function's response streams back on that connection.
 */
async function streamThroughProxy(
  core: FunctionsCore,
  fn: RegisteredFunction,
  proxyUri: string,
  req: http.IncomingMessage,
  r: { headers: Record<string, string>; query: Record<string, string>; params: Record<string, string>; host: string },
  body: Buffer,
  res: http.ServerResponse,
): Promise<void> {
  const invocationId = randomUUID();
  const target = new URL(req.url ?? '/', proxyUri);
  const forwarded = http.request(target, {
    method: req.method,
    headers: {
      ...r.headers,
      'x-ms-invocation-id': invocationId,
      'x-forwarded-host': r.host,
      'x-forwarded-proto': 'http',
      'content-length': String(body.length),
    },
  });
  const answered = new Promise<void>((resolve, reject) => {
    forwarded.once('response', (up) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && k !== 'x-ms-invocation-id') out[k] = v;
      res.writeHead(up.statusCode ?? 200, out);
      up.pipe(res);
      up.once('end', resolve);
      up.once('error', reject);
    });
    forwarded.once('error', reject);
  });
  // Settled either way below; never left as an unhandled rejection.
  answered.catch(() => undefined);
  forwarded.on('error', () => undefined);
  forwarded.end(body);
  const triggerMetadata: Record<string, RpcTypedData> = {
    Headers: { json: JSON.stringify(r.headers) },
    Query: { json: JSON.stringify(r.query) },
  };
  for (const [k, v] of Object.entries(r.params)) triggerMetadata[k] = { string: v };
  try {
    await core.invoke(fn.id, {
      invocationId,
      inputData: [
        {
          name: fn.triggerKey,
          data: {
            http: {
              method: req.method ?? 'GET',
              url: `http://${r.host}${req.url ?? '/'}`,
              headers: r.headers,
              query: r.query,
              params: r.params,
            },
          },
        },
      ],
      triggerMetadata,
    });
  } catch {
    // The function failed before answering (the host's log has why): 500, as Azure answers.
    forwarded.destroy();
    if (!res.headersSent) send(res, { status: 500, headers: {}, body: '' });
    else res.destroy();
    return;
  }
  await answered.catch(() => {
    if (!res.headersSent) send(res, { status: 502, headers: {}, body: '' });
    else res.destroy();
  });
}

function cookieString(c: Record<string, unknown>): string {
  const parts = [`${String(c.name)}=${String(c.value)}`];
  const v = (k: string) => (c[k] as { value?: unknown } | undefined)?.value ?? c[k];
  if (v('path')) parts.push(`Path=${String(v('path'))}`);
  if (v('domain')) parts.push(`Domain=${String(v('domain'))}`);
  if (v('httpOnly')) parts.push('HttpOnly');
  if (v('secure')) parts.push('Secure');
  return parts.join('; ');
}

function send(res: http.ServerResponse, r: LocalHttpResponse): void {
  const headers: Record<string, string | string[]> = { ...(r.headers ?? {}) };
  const body = r.body ?? '';
  withLength(r.status, headers, body);
  res.writeHead(r.status, headers);
  res.end(body);
}

/**
 * A whole body gets a Content-Length (as Azure's front end sends it), not chunked encoding: the
 * client reads it in one go and the connection carries no chunk framing. Not for answers that
 * have no body (1xx, 204, 304) or whose headers already say how long they are.
 */
function withLength(status: number, headers: Record<string, string | string[]>, body: string | Uint8Array): void {
  if (status < 200 || status === 204 || status === 304) return;
  for (const k in headers) {
    const l = k.toLowerCase();
    if (l === 'content-length' || l === 'transfer-encoding') return;
  }
  headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
}
