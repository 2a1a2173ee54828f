/**
 * Serving on two instances (two host processes on one Azurite and one Redis), as Azure scales
 * the app out: the front end may send any request to any instance.
 *
 * - Sticky and pinned routing give an entity the same version on both instances.
 * - A promote made through one instance is served by the other once the refresh interval
 *   (STRATA_SERVING_REFRESH_MS, default 2 s: the default is what runs here) has passed since
 *   the promote returned; a rollback through the other likewise, with requests arriving
 *   throughout the interval. The waits are exactly the bound: the guarantee is that a snapshot
 *   older than it is never served, however slow the machine.
 * - Counters and histograms of /api/metrics summed over the instances equal the requests and
 *   events sent (each instance counts what it served or ingested; none counts another's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logisticRegressionModel } from '../../shared/onnx';
import { DEFAULT_REFRESH_MS } from '../../shared/serving/refresh';
import { ADMIN_KEY, FUNCTION_KEY } from '../helpers/host-process';
import { sampleValue, startCluster, type Cluster, type HostClient } from '../helpers/host-cluster';
import { eventually, WAIT_MS } from '../helpers/wait';

const USERS = Array.from({ length: 12 }, (_, i) => `u${i + 1}`);
const SIGNATURE = {
  featureService: 'churn_v1',
  input: { name: 'features' },
  outputs: [{ name: 'probability', meaning: 'probability of churn within 30 days' }],
  policy: { default: { onMissing: 'required' } },
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: Cluster;
let a: HostClient;
let b: HostClient;
/** What this test sent, to compare with the instances' summed metrics. */
const sent = { clicks: 0, purchases: 0 };
const requests = new Map<string, number>(); // version -> predict requests answered by it
const predictions = new Map<string, number>(); // version -> entities predicted by it

beforeAll(async () => {
  cluster = await startCluster({ prefix: 'strata-serving-instances-' });
  a = await cluster.add('a');
  b = await cluster.add('b');
  // Both instances own partitions of each hub before anything is sent (rebalanced one per round).
  for (const hub of ['clicks', 'purchases'])
    await eventually(
      async () => {
        const shares = [...(await cluster.owners(hub, `ingest-${hub}`)).values()].map((p) => p.length);
        return shares.length === 2 && shares.every((n) => n === 2) ? true : undefined;
      },
      WAIT_MS,
      `the ${hub} hub's 4 partitions split 2/2 between the two instances`,
    );
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const purchases = USERS.map((u, i) => ({
    user_id: u,
    order_id: `o-${u}`,
    amount: 10 + i,
    currency: 'EUR',
    ts: at(30),
  }));
  const clicks = USERS.flatMap((u, i) =>
    Array.from({ length: i + 1 }, (_, k) => ({ user_id: u, page: `/p${k % 3}`, ts: at(20 - k) })),
  );
  await a.publish('purchases', purchases);
  await b.publish('clicks', clicks);
  sent.purchases = purchases.length;
  sent.clicks = clicks.length;
  await eventually(
    async () => {
      const all = await Promise.all(USERS.map((u) => b.get(`/api/features/${u}?service=churn_v1`)));
      return all.every((r, i) => r.body?.features?.['user_engagement:spend_per_click'] === (10 + i) / (i + 1))
        ? true
        : undefined;
    },
    WAIT_MS,
    'every user’s churn_v1 features online',
  );
  for (const [version, weight, alias] of [
    [1, 0.05, 'production'],
    [2, -0.05, 'canary'],
  ] as const) {
    const onnxBase64 = Buffer.from(logisticRegressionModel({ weights: Array(9).fill(weight), bias: -0.5 })).toString(
      'base64',
    );
    const r = await a.post('/api/models/churn/versions', { onnxBase64, signature: SIGNATURE, alias }, ADMIN_KEY);
    expect(r.status, r.text).toBe(201);
    expect(r.body.version.version).toBe(version);
  }
  expect((await a.post('/api/models/churn/traffic', { production: 50, canary: 50 }, ADMIN_KEY)).status).toBe(200);
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
});

async function predict(h: HostClient, entityId: string, pin?: string): Promise<{ version: number; routedBy: string }> {
  const res = await fetch(`${h.host.baseUrl}/api/predict/churn`, {
    method: 'POST',
    headers: {
      'x-functions-key': FUNCTION_KEY,
      'content-type': 'application/json',
      ...(pin ? { 'x-strata-model-version': pin } : {}),
    },
    body: JSON.stringify({ entityId }),
  });
  const body = (await res.json()) as { modelVersion: number; routedBy: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  const v = String(body.modelVersion);
  requests.set(v, (requests.get(v) ?? 0) + 1);
  predictions.set(v, (predictions.get(v) ?? 0) + 1);
  return { version: body.modelVersion, routedBy: body.routedBy };
}

/** Each user's version as one instance routes it. */
async function versions(h: HostClient): Promise<number[]> {
  const out: number[] = [];
  for (const u of USERS) out.push((await predict(h, u)).version);
  return out;
}

describe('serving on two instances', () => {
  it('routes a sticky or pinned entity to the same version on both', async () => {
    // Past the refresh interval: both route by the 50/50 policy set above.
    await sleep(DEFAULT_REFRESH_MS);
    const onA = await versions(a);
    expect(await versions(b)).toEqual(onA);
    expect(new Set(onA)).toEqual(new Set([1, 2])); // the split really sends users both ways
    for (const u of USERS.slice(0, 3))
      for (const h of [a, b]) {
        expect(await predict(h, u, 'canary')).toEqual({ version: 2, routedBy: 'pinned' });
        expect(await predict(h, u, 'v1')).toEqual({ version: 1, routedBy: 'pinned' });
      }
  });

  it('a promote through one instance is served by the other within the refresh interval', async () => {
    const before = await versions(b); // B holds a fresh snapshot of the 50/50 policy
    expect(before).toContain(1);
    const promoted = await a.post('/api/models/churn/promote', {}, ADMIN_KEY);
    expect(promoted.status, promoted.text).toBe(200);
    await sleep(DEFAULT_REFRESH_MS);
    expect(await versions(b)).toEqual(USERS.map(() => 2));
    expect(await predict(b, 'u1', 'production')).toEqual({ version: 2, routedBy: 'pinned' });
  });

  it('a rollback through the other is served by the first while requests keep arriving', async () => {
    expect(await versions(a)).toEqual(USERS.map(() => 2));
    const rolled = await b.post('/api/models/churn/rollback', {}, ADMIN_KEY);
    expect(rolled.status, rolled.text).toBe(200);
    const done = Date.now() + DEFAULT_REFRESH_MS;
    while (Date.now() < done) await predict(a, USERS[Date.now() % USERS.length]!); // old or new: both allowed here
    expect(await versions(a)).toEqual(USERS.map(() => 1));
  });

  it("the instances' counters and histograms add up to the requests and events sent", async () => {
    const texts = await Promise.all(
      [a, b].map(async (h) => {
        const r = await h.get('/api/metrics');
        expect(r.status).toBe(200);
        return r.text;
      }),
    );
    const sum = (name: string, labels: Record<string, string>) =>
      texts.reduce((n, t) => n + sampleValue(t, name, labels), 0);
    for (const [version, n] of requests) {
      const labels = { model: 'churn', version, shadow: 'false' };
      expect(sum('strata_predict_requests_total', labels), `requests of v${version}`).toBe(n);
      expect(sum('strata_predictions_total', labels), `predictions of v${version}`).toBe(predictions.get(version));
      expect(sum('strata_predict_duration_seconds_count', labels), `latency count of v${version}`).toBe(n);
      expect(sum('strata_predict_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(n);
      // Each instance served some of them: the totals are a merge, not one instance's count.
      for (const t of texts) expect(sampleValue(t, 'strata_predict_requests_total', labels)).toBeGreaterThan(0);
    }
    for (const source of ['clicks', 'purchases'] as const) {
      expect(sum('strata_ingest_records_total', { source, outcome: 'accepted' }), source).toBe(sent[source]);
      for (const t of texts)
        expect(sampleValue(t, 'strata_ingest_records_total', { source, outcome: 'accepted' }), source).toBeGreaterThan(
          0,
        );
    }
  });
});
