/**
 * A short run of the whole platform on the local host, as a user would do it over HTTP:
 * Azurite, Redis and the host (dist/) start; clicks and purchases of six users arrive through
 * the local Event Hubs (one invalid record is dead-lettered, one click arrives too late); a
 * churn model is registered with production v1 and canary v2 on a 50/50 split (u2 hashes to
 * the canary, the others to production); predictions are
 * made one entity at a time and in a batch, plus one that fails (an unknown user: 422); and
 * the prediction log is waited for in the offline store. The dashboard, Prometheus and
 * Application Insights tests look at the numbers this leaves behind.
 */
import { readJsonResponse } from './json-response';
import path from 'node:path';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { logisticRegressionModel } from '../../shared/onnx';
import { ADMIN_KEY, FUNCTION_KEY, ROOT, eventually, startHostProcess, type HostProcess } from './host-process';
import { tempDir } from './temp';
import { WAIT_MS } from './wait';

const HOUR_MS = 3_600_000;

export const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
const SIGNATURE = {
  featureService: 'churn_v1',
  input: { name: 'features' },
  outputs: [{ name: 'probability', meaning: 'probability of churn within 30 days' }],
  policy: { default: { onMissing: 'required' } },
};

export interface PlatformRun {
  host: HostProcess;
  azurite: AzuriteHandle;
  redis: RedisHandle;
  dir: string;
  /** Served predict requests per version (a batch counts once for each version it used). */
  requestsByVersion: Record<number, number>;
  /** Entities predicted per version. */
  predictionsByVersion: Record<number, number>;
  /** Start (ms) of the one-hour monitoring window every prediction was served in. */
  predictionHour: number;
  /** Failed predict requests (422 for the unknown user). */
  failedRequests: number;
  /** Records sent per source, and how many of them were invalid or late. */
  sent: { clicks: number; purchases: number; invalidClicks: number; lateClicks: number };
  /** Event time of the late click. */
  lateClickTs: number;
  get(url: string, key?: string): Promise<{ status: number; body: any; text: string }>;
  post(url: string, body: unknown, key?: string): Promise<{ status: number; body: any }>;
  put(url: string, body: unknown, key?: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startPlatformRun(opts: { env?: Record<string, string> } = {}): Promise<PlatformRun> {
  const tmp = tempDir('strata-run-');
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp.dir, 'azurite') }), startRedis()]);
  const host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { REDIS_URL: redis.url, ...opts.env },
  });
  const get = async (url: string, key = FUNCTION_KEY) => {
    const res = await fetch(`${host.baseUrl}${url}`, { headers: { 'x-functions-key': key } });
    return readJsonResponse(res);
  };
  const send2 =
    (method: string) =>
    async (url: string, body: unknown, key = FUNCTION_KEY) => {
      const res = await fetch(`${host.baseUrl}${url}`, {
        method,
        headers: { 'x-functions-key': key, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
    };
  const post = send2('POST');
  const put = send2('PUT');
  const send = async (hub: string, events: unknown[]) => {
    const r = await post(`/api/_local/eventhubs/${hub}?partitionKeyField=user_id`, events, ADMIN_KEY);
    if (r.status !== 202) throw new Error(`publishing to ${hub}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  const run: PlatformRun = {
    host,
    azurite,
    redis,
    dir: tmp.dir,
    requestsByVersion: {},
    predictionsByVersion: {},
    predictionHour: 0,
    failedRequests: 0,
    sent: { clicks: 0, purchases: 0, invalidClicks: 0, lateClicks: 0 },
    lateClickTs: 0,
    get,
    post,
    put,
    async stop() {
      await host.stop();
      await Promise.all([azurite.stop(), redis.stop()]);
      tmp.cleanup();
    },
  };
  try {
    const now = Date.now();
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
    const purchases = USERS.map((u, i) => ({
      user_id: u,
      order_id: `o-${u}`,
      amount: 20 + 10 * i,
      currency: 'EUR',
      ts: at(30),
    }));
    await send('purchases', purchases);
    run.sent.purchases = purchases.length;
    // Every user's partition is ingested on its own: wait for each one's purchase.
    const spend = async (u: string) =>
      (await get(`/api/features/${u}?view=user_purchases`)).body?.features?.['user_purchases:spend_7d'];
    await eventually(
      async () => ((await Promise.all(USERS.map(spend))).every((v, i) => v === 20 + 10 * i) ? true : undefined),
      WAIT_MS,
      'the purchases of every user online',
    );
    const clicks = USERS.flatMap((u, i) =>
      Array.from({ length: i + 1 }, (_, k) => ({ user_id: u, page: `/p${k % 3}`, ts: at(20 - k) })),
    );
    await send('clicks', [...clicks, { user_id: 'u1', ts: at(5) }]); // the last one has no page: dead-lettered
    run.sent.clicks = clicks.length + 1;
    run.sent.invalidClicks = 1;
    const service = async (u: string) => (await get(`/api/features/${u}?service=churn_v1`)).body?.features ?? {};
    await eventually(
      async () =>
        (await Promise.all(USERS.map(service))).every(
          (f, i) =>
            f['user_clicks:clicks_1h'] === i + 1 && f['user_engagement:spend_per_click'] === (20 + 10 * i) / (i + 1),
        )
          ? true
          : undefined,
      WAIT_MS,
      'the clicks and engagement of every user online',
    );
    // Older than the views' lateness (1 h) behind the newest click: late, kept for a backfill.
    run.lateClickTs = Date.parse(at(180));
    await send('clicks', [{ user_id: 'u2', page: '/p0', ts: at(180) }]);
    run.sent.clicks++;
    run.sent.lateClicks = 1;
    await eventually(
      async () =>
        ((await get('/api/plan')).body?.work ?? []).some(
          (w: { view: string; reason: string }) => w.view === 'user_clicks' && /late/.test(w.reason),
        ) || undefined,
      WAIT_MS,
      'the late click marked in the ledger',
    );

    for (const [version, weights, alias] of [
      [1, 0.05, 'production'],
      [2, -0.05, 'canary'],
    ] as const) {
      const onnx = Buffer.from(logisticRegressionModel({ weights: Array(9).fill(weights), bias: -0.5 })).toString(
        'base64',
      );
      const r = await post(
        '/api/models/churn/versions',
        { onnxBase64: onnx, signature: SIGNATURE, description: `weights ${weights}`, alias },
        ADMIN_KEY,
      );
      if (r.status !== 201 || r.body.version.version !== version)
        throw new Error(`registering churn v${version}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const traffic = await post('/api/models/churn/traffic', { production: 50, canary: 50 }, ADMIN_KEY);
    if (traffic.status !== 200) throw new Error(`traffic: ${traffic.status} ${JSON.stringify(traffic.body)}`);

    const count = (v: number, entities: number) => {
      run.requestsByVersion[v] = (run.requestsByVersion[v] ?? 0) + 1;
      run.predictionsByVersion[v] = (run.predictionsByVersion[v] ?? 0) + entities;
    };
    // Every prediction in one monitoring window (1 h, on the hour), the window the tests close: a
    // run that reaches the last two minutes of an hour predicts once the next one has begun.
    const untilNextHour = HOUR_MS - (Date.now() % HOUR_MS);
    if (untilNextHour < 120_000) await new Promise((r) => setTimeout(r, untilNextHour + 1_000));
    run.predictionHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    for (let round = 0; round < 3; round++) {
      for (const u of USERS) {
        const r = await post('/api/predict/churn', { entityId: u });
        if (r.status !== 200) throw new Error(`predict ${u}: ${r.status} ${JSON.stringify(r.body)}`);
        count(r.body.modelVersion, 1);
      }
    }
    const batch = await post('/api/predict/churn', { entityIds: USERS });
    if (batch.status !== 200) throw new Error(`batch predict: ${batch.status} ${JSON.stringify(batch.body)}`);
    const perVersion = new Map<number, number>();
    for (const p of batch.body.predictions as Array<{ modelVersion: number }>)
      perVersion.set(p.modelVersion, (perVersion.get(p.modelVersion) ?? 0) + 1);
    for (const [v, n] of perVersion) count(v, n);
    const failed = await post('/api/predict/churn', { entityId: 'nobody' });
    if (failed.status !== 422) throw new Error(`predict for an unknown user: expected 422, got ${failed.status}`);
    run.failedRequests = 1;
    if (Date.now() >= run.predictionHour + HOUR_MS)
      throw new Error('the predictions took over two minutes and crossed into the next monitoring window');

    const expected = Object.values(run.predictionsByVersion).reduce((a, b) => a + b, 0);
    await eventually(
      async () => {
        const ts = await get('/api/models/churn/timeseries');
        const logged = (ts.body?.versions ?? []).reduce(
          (n: number, v: { totals: { predictions: number } }) => n + v.totals.predictions,
          0,
        );
        return logged === expected ? true : undefined;
      },
      WAIT_MS,
      `${expected} predictions in the offline store's prediction log`,
    );
    return run;
  } catch (e) {
    const log = host.output().slice(-4000);
    await run.stop();
    throw new Error(`${(e as Error).message}\n--- host output (end) ---\n${log}`);
  }
}
