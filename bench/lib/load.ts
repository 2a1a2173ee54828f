/**
 * A closed-loop HTTP load generator: `concurrency` clients on keep-alive connections, each
 * sending its next request when the previous answer arrives, for a fixed time.
 */
import http from 'node:http';

export interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** A body per request (the request index is passed), or one body for all. */
  body?: string | ((i: number) => string);
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function once(agent: http.Agent, u: URL, o: LoadOptions, i: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = typeof o.body === 'function' ? o.body(i) : o.body;
    const req = http.request(
      {
        agent,
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: o.method ?? 'GET',
        headers: { ...(o.headers ?? {}), ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const u = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  let counter = 0;
  const loop = async (until: number, sink: number[] | undefined, errors: { n: number }) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      try {
        const status = await once(agent, u, o, counter++);
        if (status >= 400) errors.n++;
      } catch {
        errors.n++;
      }
      sink?.push(performance.now() - t0);
    }
  };
  if (o.warmupMs) {
    const until = performance.now() + o.warmupMs;
    await Promise.all(Array.from({ length: o.concurrency }, () => loop(until, undefined, { n: 0 })));
  }
  const latencies: number[] = [];
  const errors = { n: 0 };
  const start = performance.now();
  const until = start + o.durationMs;
  await Promise.all(Array.from({ length: o.concurrency }, () => loop(until, latencies, errors)));
  const elapsed = performance.now() - start;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    errors: errors.n,
    rps: Math.round((latencies.length / elapsed) * 1000),
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
