/**
 * `context.df.callHttp`: the durable HTTP action, carried out as the extension carries it out
 * (a built-in activity): the request is sent; with the asynchronous pattern on (the default), a
 * 202 answer with a Location header is polled with GET on that URL, after its Retry-After
 * seconds (or host.json durableTask.httpSettings.defaultAsyncRequestSleepTimeMilliseconds), until
 * the answer is something else; that final answer is the task's result,
 * `{ statusCode, headers, content }`. Like any activity it runs again if the host stops midway.
 * Managed-identity token sources cannot be served locally and fail the task, naming them.
 */
export interface DurableHttpRequest {
  method?: string;
  uri: string;
  content?: string;
  headers?: Record<string, string>;
  tokenSource?: unknown;
  asynchronousPatternEnabled?: boolean;
}

export interface DurableHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  content: string;
}

export interface DurableHttpOptions {
  /** Between polls when a 202 has no Retry-After (the extension's default is 30 s). */
  defaultSleepMs: number;
  /** Aborted when the host stops. */
  signal?: AbortSignal;
}

function headersOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => (out[k] = v));
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export async function callDurableHttp(req: DurableHttpRequest, o: DurableHttpOptions): Promise<DurableHttpResponse> {
  if (req.tokenSource)
    throw new Error(
      'callHttp with a tokenSource (managed identity) is not supported by the local host; send the token in headers instead',
    );
  if (typeof req.uri !== 'string' || !/^https?:\/\//i.test(req.uri))
    throw new Error(`callHttp needs an absolute http(s) url, got ${JSON.stringify(req.uri)}`);
  const method = (req.method ?? 'GET').toUpperCase();
  let res = await fetch(req.uri, {
    method,
    headers: req.headers ?? {},
    ...(req.content !== undefined && req.content !== null && method !== 'GET' && method !== 'HEAD'
      ? { body: req.content }
      : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  for (;;) {
    const location = res.headers.get('location');
    if (res.status !== 202 || !location || req.asynchronousPatternEnabled === false) break;
    const retryAfter = Number(res.headers.get('retry-after'));
    await res.arrayBuffer().catch(() => undefined);
    await sleep(
      Number.isFinite(retryAfter) && retryAfter >= 0 && res.headers.has('retry-after')
        ? retryAfter * 1000
        : o.defaultSleepMs,
      o.signal,
    );
    res = await fetch(new URL(location, req.uri), {
      method: 'GET',
      headers: req.headers ?? {},
      ...(o.signal ? { signal: o.signal } : {}),
    });
  }
  return { statusCode: res.status, headers: headersOf(res), content: await res.text() };
}
