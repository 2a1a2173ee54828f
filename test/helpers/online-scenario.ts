/**
 * A small user story over HTTP for the online-store reliability tests: one order and three
 * clicks of u1 (one click of u2), and a logistic churn model over three of their features,
 * with every expected value worked out by hand.
 */
import { expect } from 'vitest';
import { ADMIN_KEY, FUNCTION_KEY, eventually, type HostProcess } from './host-process';
import { logistic } from './serving-fixtures';
import { WAIT_MS } from './wait';
import { recentTimes } from './recent-times';

export const fkey = { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' };
export const admin = { 'x-functions-key': ADMIN_KEY, 'content-type': 'application/json' };

export const { at } = recentTimes();

export const PURCHASES = [{ user_id: 'u1', order_id: 'o1', amount: 120, currency: 'EUR', ts: at(15) }];
export const CLICKS = [
  { user_id: 'u1', page: '/home', ts: at(0) },
  { user_id: 'u1', page: '/shop', ts: at(10) },
  { user_id: 'u1', page: '/shop', ts: at(20) },
  { user_id: 'u2', page: '/home', ts: at(5) },
];

/** clicks_1h, distinct_pages_24h, spend_7d of u1 by hand: 3 clicks on 2 pages, one order of 120. */
export const MODEL = logistic(
  ['user_clicks:clicks_1h', 'user_clicks:distinct_pages_24h', 'user_purchases:spend_7d'],
  [0.3, 0.5, -0.01],
  -0.4,
);
export const U1_INPUT = [3, 2, 120];

export async function call(
  host: HostProcess,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = fkey,
  timeoutMs = 30_000,
) {
  const res = await fetch(`${host.baseUrl}${route}`, {
    method,
    headers,
    signal: AbortSignal.timeout(timeoutMs),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}

export const userClicks = (host: HostProcess, entity: string) =>
  call(host, 'GET', `/api/features/${entity}?view=user_clicks`);
export const predictU1 = (host: HostProcess, timeoutMs?: number) =>
  call(host, 'POST', '/api/predict/churn', { entityId: 'u1' }, fkey, timeoutMs);

async function send(host: HostProcess, hub: string, events: unknown[]) {
  expect(
    (await call(host, 'POST', `/api/_local/eventhubs/${hub}?partitionKeyField=user_id`, events, admin)).status,
  ).toBe(202);
}

/** Register the model as production, send the events and wait until u1's features are served. */
export async function seedChurn(host: HostProcess): Promise<void> {
  const r = await call(
    host,
    'POST',
    '/api/models/churn/versions',
    { onnxBase64: Buffer.from(MODEL.artifact).toString('base64'), signature: MODEL.signature, alias: 'production' },
    admin,
  );
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  // Purchases first, so u1's derived values are computed once from both inputs.
  await send(host, 'purchases', PURCHASES);
  await eventually(
    async () =>
      (await call(host, 'GET', '/api/features/u1?view=user_purchases')).body.features['user_purchases:spend_7d'] === 120
        ? true
        : undefined,
    WAIT_MS,
    'u1 purchases online',
  );
  await send(host, 'clicks', CLICKS);
  await eventually(
    async () => ((await userClicks(host, 'u1')).body.features['user_clicks:clicks_1h'] === 3 ? true : undefined),
    WAIT_MS,
    'u1 clicks online',
  );
  // Every batch (one per partition) fully committed, offline too, before a test takes the host or
  // Redis away: a batch still retrying would land later and change what the test sees.
  await eventually(
    () =>
      ingested(host, 'clicks') === CLICKS.length && ingested(host, 'purchases') === PURCHASES.length ? true : undefined,
    WAIT_MS,
    'every ingest batch to finish',
  );
}

/** Records of a source the host has reported ingested (its "ingest <source>: N accepted" lines). */
export function ingested(host: HostProcess, source: string): number {
  return [...host.output().matchAll(new RegExp(`ingest ${source}: (\\d+) accepted`, 'g'))].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

/** What u1's clicks and prediction must be after the story, by hand. */
export function expectU1Served(features: { body: any }, prediction: { status: number; body: any }): void {
  expect(features.body.features).toMatchObject({
    'user_clicks:clicks_1h': 3,
    'user_clicks:distinct_pages_24h': 2,
    'user_clicks:last_page': '/shop',
  });
  expect(features.body.views.user_clicks.eventTime).toBe(at(20));
  expect(prediction.status, JSON.stringify(prediction.body)).toBe(200);
  expect(prediction.body.prediction).toBeCloseTo(MODEL.expected(U1_INPUT), 6);
}

/** Wait until u1 is served as the story says (a busy machine may answer a read late); its features and prediction. */
export async function u1Served(
  host: HostProcess,
  what = 'u1 to be served',
): Promise<{ features: { body: any }; prediction: { status: number; body: any } }> {
  return eventually(
    async () => {
      const features = await userClicks(host, 'u1');
      const prediction = await predictU1(host);
      expectU1Served(features, prediction);
      return { features, prediction };
    },
    WAIT_MS,
    what,
  );
}
