/**
 * The CLI's API client against a real HTTP server: a 503 with Retry-After (the local host
 * while it starts) is waited out and the request sent again, body and all; a 503 without one,
 * or one the caller accepts, is answered at once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/core/client';
import { ApiError } from '../../cli/core/errors';

let server: http.Server;
let client: ApiClient;
/** Per path: how many 503s are still to answer, and with which headers. */
const plans = new Map<string, { busy: number; headers: Record<string, string> }>();
const seen: Array<{ path: string; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      const path = req.url ?? '';
      seen.push({ path, body });
      const plan = plans.get(path);
      if (plan && plan.busy > 0) {
        plan.busy--;
        res.writeHead(503, { 'content-type': 'application/json', ...plan.headers });
        res.end(JSON.stringify({ error: 'the host is starting; retry in a moment' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, echoed: body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  client = new ApiClient({ url: `http://127.0.0.1:${port}`, functionKey: 'f', adminKey: 'a' });
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const sentTo = (path: string) => seen.filter((s) => s.path === path);

describe('ApiClient and 503 + Retry-After', () => {
  it('waits out a starting host and sends the same body again', async () => {
    plans.set('/starting', { busy: 2, headers: { 'retry-after': '0' } });
    const r = await client.json<{ ok: boolean; echoed: string }>('POST', '/starting', { json: { id: 'x' } });
    expect(r).toEqual({ ok: true, echoed: '{"id":"x"}' });
    expect(sentTo('/starting').map((s) => s.body)).toEqual(['{"id":"x"}', '{"id":"x"}', '{"id":"x"}']);
  });

  it('reports a 503 without Retry-After at once, with the API message', async () => {
    plans.set('/down', { busy: 1, headers: {} });
    const e = await client.json('GET', '/down').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(503);
    expect((e as Error).message).toContain('the host is starting');
    expect(sentTo('/down')).toHaveLength(1);
  });

  it('hands an accepted 503 to the caller without waiting', async () => {
    plans.set('/health', { busy: 1, headers: { 'retry-after': '5' } });
    const res = await client.request('GET', '/health', { accept: [503] });
    expect(res.status).toBe(503);
    await res.arrayBuffer();
    expect(sentTo('/health')).toHaveLength(1);
  });
});
