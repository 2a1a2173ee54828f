/**
 * Model serving as a user meets it, over HTTP against the local host running Strata's app
 * (dist/functions/index.js) on real Azurite, Redis and onnxruntime: features arrive through
 * Event Hubs, models are registered with curl-like requests, predictions are checked against
 * the logistic math done by hand, traffic moves between versions, and the prediction log
 * comes back from the offline store through the ordinary ingest path.
 */
import { gatherMap } from '../../shared/features/ingest/number-maps';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, RedisHandle } from '../../local/processes/redis';
import { startHostProcess, HostProcess, ROOT, ADMIN_KEY, FUNCTION_KEY, eventually } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';
import { CHURN_V1, ingestChurnUsers, U1_CHURN_V1 } from '../helpers/churn-users';
import { logisticRegressionModel } from '../../shared/onnx';
import { bucketOf } from '../../shared/serving/router';
import { storageFor } from '../../shared/azure/storage';
import { OfflineStore } from '../../shared/features/offline/store';
import { featureRepo } from '../../shared/definitions';
import type { FeatureRow } from '../../shared/features/definitions/values';
import { WAIT_MS } from '../helpers/wait';

const tmp = tempDir();
let azurite: AzuriteHandle;
let redis: RedisHandle;
let host: HostProcess;
const UPLOAD_MAX_BYTES = 1024 * 1024;

const admin = { 'x-functions-key': ADMIN_KEY, 'content-type': 'application/json' };
const fkey = { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' };

/** A logistic model with known weights, and its math by hand. */
function logistic(weights: number[], bias: number) {
  return {
    onnxBase64: Buffer.from(logisticRegressionModel({ weights, bias })).toString('base64'),
    expected: (x: number[]) => 1 / (1 + Math.exp(-(weights.reduce((s, w, i) => s + w * x[i]!, 0) + bias))),
  };
}
const A = logistic([0.3, -0.2, 0.5, 0.8, -0.01, 0.02, -0.015, 0.05, -1.2], -0.4);
const B = logistic([-0.1, 0.1, 0.2, -0.5, 0.01, -0.02, 0.01, 0.03, 0.7], 0.25);
const C = logistic([0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05], -1);
const byVersion: Record<number, typeof A> = { 1: A, 2: B, 3: C };

const signature = (policy?: unknown) => ({
  featureService: 'churn_v1',
  input: { name: 'features' },
  outputs: [{ name: 'probability', meaning: 'probability of churn within 30 days' }],
  ...(policy ? { policy } : {}),
});

// u1's churn_v1 features by hand (test/helpers/churn-users.ts).
const U1 = U1_CHURN_V1;

async function post(url: string, body: unknown, headers: Record<string, string> = fkey) {
  const res = await fetch(`${host.baseUrl}${url}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}
async function get(url: string, headers: Record<string, string> = fkey) {
  const res = await fetch(`${host.baseUrl}${url}`, { headers });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
}
const predict = (model: string, body: unknown, headers: Record<string, string> = {}) =>
  post(`/api/predict/${model}`, body, { ...fkey, ...headers });
const register = (model: string, body: unknown) => post(`/api/models/${model}/versions`, body, admin);

/** The prediction log as the offline store holds it (src.predictions). */
async function loggedPredictions(): Promise<FeatureRow[]> {
  const offline = await OfflineStore.open({
    storage: storageFor(azurite.connectionString),
    cacheDir: path.join(tmp.dir, 'offline-cache'),
  });
  return offline.readRows('src.predictions', { version: featureRepo.source('predictions').version });
}

beforeAll(async () => {
  [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp.dir, 'azurite') }), startRedis()]);
  host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { REDIS_URL: redis.url, STRATA_UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES), STRATA_SESSION_GRACE_MS: '500' },
  });
  await ingestChurnUsers(host.baseUrl, { admin: ADMIN_KEY, function: FUNCTION_KEY });
});

afterAll(async () => {
  await host?.stop();
  await Promise.all([azurite?.stop(), redis?.stop()]);
  tmp.cleanup();
});

describe('registering a version', () => {
  it('refuses a file that is not an ONNX model, saying so', async () => {
    const r = await register('churn', {
      onnxBase64: Buffer.from('this is not a model').toString('base64'),
      signature: signature(),
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/churn/);
    expect(r.body.details.length).toBeGreaterThan(0);
    expect((await get('/api/models/churn', admin)).status).toBe(404);
  });

  it('refuses a model whose input does not match the signature, naming both sizes', async () => {
    const eight = logistic([1, 1, 1, 1, 1, 1, 1, 1], 0);
    const r = await register('churn', { onnxBase64: eight.onnxBase64, signature: signature() });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.details)).toMatch(/8/);
    expect(JSON.stringify(r.body.details)).toMatch(/9/);
  });

  it('refuses features or feature services the app does not have', async () => {
    const svc = await register('churn', {
      onnxBase64: A.onnxBase64,
      signature: { ...signature(), featureService: 'churn_v9' },
    });
    expect(svc.status).toBe(400);
    expect(svc.body.details).toEqual([
      expect.objectContaining({ where: 'signature.featureService', problem: expect.stringContaining('churn_v1') }),
    ]);
    const listed = {
      ...signature(),
      featureService: {
        name: 'mine',
        features: [
          { view: 'user_clicks', feature: 'clicks_2h' },
          { view: 'user_clicks', feature: 'last_page' },
        ],
      },
    };
    const feats = await register('churn', { onnxBase64: logistic([1, 1], 0).onnxBase64, signature: listed });
    expect(feats.status).toBe(400);
    expect(feats.body.details.map((d: { where: string }) => d.where)).toEqual([
      'signature.featureService.features[0]',
      'signature.featureService.features[1]',
    ]);
    expect(feats.body.details[0].problem).toMatch(/clicks_1h|clicks_24h/);
    expect(feats.body.details[1].problem).toMatch(/string/);
  });

  it('refuses a file larger than STRATA_UPLOAD_MAX_BYTES with 413', async () => {
    const big = Buffer.alloc(UPLOAD_MAX_BYTES + 1).toString('base64');
    const r = await register('churn', { onnxBase64: big, signature: signature() });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatch(/STRATA_UPLOAD_MAX_BYTES/);
  });

  it('needs the admin key', async () => {
    const r = await post('/api/models/churn/versions', { onnxBase64: A.onnxBase64, signature: signature() }, fkey);
    expect(r.status).toBe(401);
  });

  it('registers a version by feature service name and points production at it; the same file again creates nothing', async () => {
    const r = await register('churn', {
      onnxBase64: A.onnxBase64,
      signature: signature(),
      description: 'first',
      alias: 'production',
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ created: true, version: { version: 1 }, model: { aliases: { production: 1 } } });
    expect(
      r.body.version.signature.featureService.features.map(
        (f: { view: string; feature: string }) => `${f.view}:${f.feature}`,
      ),
    ).toEqual(CHURN_V1);
    const again = await register('churn', { onnxBase64: A.onnxBase64, signature: signature() });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, version: { version: 1 } });
  });

  it('takes the file as multipart too', async () => {
    const form = new FormData();
    form.set('model', new Blob([Buffer.from(B.onnxBase64, 'base64')]), 'b.onnx');
    form.set('signature', JSON.stringify(signature()));
    form.set('description', 'weekly retrain');
    const res = await fetch(`${host.baseUrl}/api/models/churn/versions`, {
      method: 'POST',
      headers: { 'x-functions-key': ADMIN_KEY },
      body: form,
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ created: true, version: { version: 2, description: 'weekly retrain' } });
  });

  it('lists models and versions', async () => {
    await register('churn', { onnxBase64: C.onnxBase64, signature: signature() }); // version 3
    const models = JSON.parse((await get('/api/models', admin)).text) as { models: Array<{ model: string }> };
    expect(models.models.map((m) => m.model)).toEqual(['churn']);
    const versions = JSON.parse((await get('/api/models/churn/versions', admin)).text) as {
      versions: Array<{ version: number }>;
    };
    expect(versions.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect((await get('/api/models/nope/versions', admin)).status).toBe(404);
  });
});

describe('predict', () => {
  it('answers the logistic math by hand for features ingested through Event Hubs', async () => {
    const r = await predict('churn', { entityId: 'u1', includeFeatures: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      model: 'churn',
      entityId: 'u1',
      modelVersion: 1,
      routedBy: 'production',
      meaning: 'probability of churn within 30 days',
    });
    expect(Object.values(r.body.features)).toEqual(U1);
    expect(r.body.prediction).toBeCloseTo(A.expected(U1), 6);
    expect(r.body.timing.totalMs).toBeGreaterThan(0);
    expect(r.body.requestId).toEqual(expect.any(String));
  });

  it('applies overrides for a what-if', async () => {
    const r = await predict('churn', { entityId: 'u1', overrides: { 'user_purchases:spend_7d': 500 } });
    const x = [...U1];
    x[4] = 500;
    expect(r.body.prediction).toBeCloseTo(A.expected(x), 6);
  });

  it('answers 422 naming the missing features when the signature requires them', async () => {
    const r = await predict('churn', { entityId: 'u2' }); // clicks, but no purchases
    expect(r.status).toBe(422);
    expect(r.body.details.map((d: { where: string }) => d.where)).toEqual(
      CHURN_V1.filter((f) => f.startsWith('user_purchases:')).map((f) => `entity u2 / ${f}`),
    );
    expect(r.body.error).toMatch(/default in the signature policy/);
    const nobody = await predict('churn', { entityId: 'nobody' });
    expect(nobody.status).toBe(422);
    expect(nobody.body.details).toHaveLength(9);
  });

  it('fills defaults when the signature says so, and reports which', async () => {
    const lenient = await register('churn-lenient', {
      onnxBase64: A.onnxBase64,
      signature: signature({ default: { onMissing: { default: 0 } } }),
      alias: 'production',
    });
    expect(lenient.status).toBe(201);
    const r = await predict('churn-lenient', { entityId: 'u2', includeFeatures: true });
    expect(r.status).toBe(200);
    expect(r.body.defaulted).toEqual(CHURN_V1.filter((f) => f.startsWith('user_purchases:')));
    // u2: one click on one page, nothing bought (0 per click), active.
    const x = [1, 1, 1, 0, 0, 0, 0, 0, 1];
    expect(Object.values(r.body.features)).toEqual(x);
    expect(r.body.prediction).toBeCloseTo(A.expected(x), 6);
  });

  it('answers 404 for an unknown model and 400 naming a bad body', async () => {
    expect((await predict('nope', { entityId: 'u1' })).status).toBe(404);
    const bad = await predict('churn', { entityId: 'u1', entityIds: ['u2'] });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0]).toMatchObject({
      where: 'body.entityId',
      problem: 'give exactly one of entityId or entityIds',
    });
    const override = await predict('churn', { entityId: 'u1', overrides: { 'user_clicks:nope': 1 } });
    expect(override.status).toBe(400);
    expect(override.body.details[0].where).toBe('overrides.user_clicks:nope');
  });

  it('needs a function key', async () => {
    const res = await fetch(`${host.baseUrl}/api/predict/churn`, {
      method: 'POST',
      body: JSON.stringify({ entityId: 'u1' }),
    });
    expect(res.status).toBe(401);
  });
});

describe('canary, pin, shadow', () => {
  // Every feature overridden: the routing, not the store, is under test here.
  const everyFeature = Object.fromEntries(CHURN_V1.map((f, i) => [f, i + 1]));
  const X = CHURN_V1.map((_, i) => i + 1);
  const ids = Array.from({ length: 1000 }, (_, i) => `user-${i}`);

  it('sends each entity to the canary by its hash, stickily, at the share set', async () => {
    expect((await post('/api/models/churn/aliases', { alias: 'canary', version: 2 }, admin)).status).toBe(200);
    const t = await post('/api/models/churn/traffic', { production: 70, canary: 30 }, admin);
    expect(t.body.model.traffic).toEqual({ production: 70, canary: 30 });

    const first = await predict('churn', { entityIds: ids, overrides: everyFeature });
    expect(first.status).toBe(200);
    const versions = first.body.predictions.map((p: { modelVersion: number }) => p.modelVersion) as number[];
    // Exactly the entities whose bucket is below 30% of 10,000 see the canary.
    expect(versions).toEqual(ids.map((id) => (bucketOf('churn', id) < 3000 ? 2 : 1)));
    const share = versions.filter((v) => v === 2).length / ids.length;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
    first.body.predictions.forEach((p: { modelVersion: number; prediction: number; routedBy: string }) => {
      expect(p.routedBy).toBe(p.modelVersion === 2 ? 'canary' : 'production');
      expect(p.prediction).toBeCloseTo(byVersion[p.modelVersion]!.expected(X), 6);
    });

    // Asked again one by one, in another order: each entity keeps its version.
    for (const i of [999, 0, 500, 17, 256]) {
      const one = await predict('churn', { entityId: ids[i], overrides: everyFeature });
      expect(one.body.modelVersion).toBe(versions[i]);
    }
  });

  it('the pin header chooses the version (number or alias) for every entity', async () => {
    const v2 = await predict('churn', { entityId: 'u1' }, { 'x-strata-model-version': '2' });
    expect(v2.body).toMatchObject({ modelVersion: 2, routedBy: 'pinned' });
    expect(v2.body.prediction).toBeCloseTo(B.expected(U1), 6);
    const v3 = await predict('churn', { entityId: 'u1' }, { 'x-strata-model-version': 'v3' });
    expect(v3.body.prediction).toBeCloseTo(C.expected(U1), 6);
    const canary = await predict('churn', { entityIds: ['u1', 'user-1'] }, { 'x-strata-model-version': 'canary' });
    expect(canary.status).toBe(422); // user-1 has no features
    const unknown = await predict('churn', { entityId: 'u1' }, { 'x-strata-model-version': 'blue' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no alias "blue"/);
  });

  it('a shadow never changes the answer, and its predictions are logged beside the live ones', async () => {
    expect((await post('/api/models/churn/aliases', { alias: 'shadow', version: 3 }, admin)).status).toBe(200);
    const r = await predict('churn', { entityIds: ids.slice(0, 50), overrides: everyFeature });
    expect(r.status).toBe(200);
    for (const p of r.body.predictions as Array<{ entityId: string; modelVersion: number; prediction: number }>) {
      expect(p.modelVersion).toBe(bucketOf('churn', p.entityId) < 3000 ? 2 : 1);
      expect(p.prediction).toBeCloseTo(byVersion[p.modelVersion]!.expected(X), 6);
    }
    const logged = await eventually(
      async () => {
        const rows = (await loggedPredictions()).filter((row) => row.values.requestId === r.body.requestId);
        return rows.length === 100 ? rows : undefined;
      },
      WAIT_MS,
      'live and shadow predictions of the request in the offline store',
    );
    const shadows = logged.filter((row) => row.values.shadow === true);
    expect(shadows).toHaveLength(50);
    for (const s of shadows) {
      expect(s.values.version).toBe(3);
      expect(s.values.routedBy).toBe('shadow');
      expect(Number(s.values.prediction)).toBeCloseTo(C.expected(X), 6);
    }
  });
});

describe('the prediction log in the offline store', () => {
  it('holds every live prediction with its inputs, and nothing was dead-lettered', async () => {
    const r = await predict('churn', { entityId: 'u1' }, { 'x-strata-model-version': '1' });
    const row = await eventually(
      async () => (await loggedPredictions()).find((x) => x.values.requestId === r.body.requestId),
      WAIT_MS,
      'the prediction in the offline store',
    );
    expect(row.values).toMatchObject({
      model: 'churn',
      version: 1,
      entityId: 'u1',
      routedBy: 'pinned',
      shadow: false,
      predictionId: `${r.body.requestId}:0`,
    });
    // Features are stored as a typed column per key (features.<view:feature>), read back as the record's map.
    expect(Object.values(gatherMap('features', row.values, undefined) ?? {})).toEqual(U1);
    expect(Number(row.values.prediction)).toBeCloseTo(A.expected(U1), 6);
    expect(row.eventTs).toBe(row.values.ts);
    const dead = JSON.parse((await get('/api/dead-letter/predictions')).text) as { deadLetters: unknown[] };
    expect(dead.deadLetters).toEqual([]);
  });
});

describe('observing versions', () => {
  it('GET /api/models/{model}/stats gives p50/p95/p99 and the traffic share per version', async () => {
    const r = await get('/api/models/churn/stats?windowSeconds=300');
    expect(r.status).toBe(200);
    const stats = JSON.parse(r.text) as {
      versions: Array<{
        version: number;
        shadow: boolean;
        requests: number;
        share: number;
        latencyMs: Record<string, number | null>;
      }>;
    };
    const live = stats.versions.filter((v) => !v.shadow);
    expect(live.map((v) => v.version)).toEqual([1, 2, 3]); // 3 answered only when pinned
    expect(live.find((v) => v.version === 2)!.share).toBeGreaterThan(0.2);
    expect(live.reduce((s, v) => s + v.share, 0)).toBeCloseTo(1, 6);
    for (const v of stats.versions) {
      expect(v.latencyMs.p50).toBeGreaterThan(0);
      expect(v.latencyMs.p95).toBeGreaterThanOrEqual(v.latencyMs.p50!);
      expect(v.latencyMs.p99).toBeGreaterThanOrEqual(v.latencyMs.p95!);
    }
    expect(stats.versions.find((v) => v.shadow)).toMatchObject({ version: 3, share: 0 });
    expect((await get('/api/models/nope/stats')).status).toBe(404);
    expect((await get('/api/models/churn/stats?windowSeconds=1')).status).toBe(400);
  });

  it('GET /api/metrics shows Prometheus counters and latency histograms per version', async () => {
    const r = await get('/api/metrics');
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/text\/plain/);
    expect(r.text).toMatch(/strata_predict_requests_total\{model="churn",version="1",shadow="false"\} \d+/);
    expect(r.text).toMatch(/strata_predict_requests_total\{model="churn",version="2",shadow="false"\} \d+/);
    expect(r.text).toMatch(/strata_predict_requests_total\{model="churn",version="3",shadow="true"\} \d+/);
    expect(r.text).toMatch(/strata_predict_errors_total\{model="churn",version="1",shadow="false",status="422"\} \d+/);
    expect(r.text).toMatch(
      /strata_predict_duration_seconds_bucket\{le="0.005",model="churn",version="1",shadow="false"\} \d+/,
    );
    expect((await fetch(`${host.baseUrl}/api/metrics`)).status).toBe(401);
  });
});

describe('promote and roll back', () => {
  it('promote makes the canary production for everyone; rollback returns to the version before', async () => {
    const promoted = await post('/api/models/churn/promote', '', admin);
    expect(promoted.status).toBe(200);
    expect(promoted.body.model).toMatchObject({ aliases: { production: 2 }, traffic: { production: 100, canary: 0 } });
    expect(promoted.body.model.aliases.canary).toBeUndefined();
    const after = await predict('churn', { entityId: 'u1' });
    expect(after.body).toMatchObject({ modelVersion: 2, routedBy: 'production' });
    expect(after.body.prediction).toBeCloseTo(B.expected(U1), 6);

    const rolled = await post('/api/models/churn/rollback', {}, admin);
    expect(rolled.status).toBe(200);
    expect(rolled.body.model.aliases.production).toBe(1);
    const back = await predict('churn', { entityId: 'u1' });
    expect(back.body).toMatchObject({ modelVersion: 1, routedBy: 'production' });
    expect(back.body.prediction).toBeCloseTo(A.expected(U1), 6);

    const history = JSON.parse((await get('/api/models/churn/history', admin)).text) as {
      history: Array<{ action: string }>;
    };
    expect(history.history.map((h) => h.action)).toEqual([
      'register',
      'alias',
      'register',
      'register',
      'alias',
      'traffic',
      'alias',
      'promote',
      'rollback',
    ]);
    const details = JSON.parse((await get('/api/models/churn', admin)).text) as {
      model: { aliases: Record<string, number> };
      versions: unknown[];
      history: unknown[];
    };
    expect(details.model.aliases).toEqual({ production: 1, shadow: 3 });
    expect(details.versions).toHaveLength(3);
  });

  it('promote without a canary is refused with the reason', async () => {
    const r = await post('/api/models/churn/promote', {}, admin);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.error).toMatch(/canary/);
  });
});
