/**
 * The Open Inference Protocol as a client meets it, over HTTP against the local host running
 * Strata's app on real Azurite, Redis and onnxruntime: the protocol's documented requests and
 * responses (cited in test/helpers/oip-fixtures.ts), entity ids with features ingested through
 * Event Hubs (the same number predict answers), metrics and the prediction log, the /v2 redirect
 * to /api/v2, and errors in the protocol's shape.
 */
import { gatherMap } from '../../shared/features/ingest/number-maps';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, RedisHandle } from '../../local/processes/redis';
import { startHostProcess, HostProcess, ROOT, ADMIN_KEY, FUNCTION_KEY, eventually } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';
import { ingestChurnUsers, U1_CHURN_V1 } from '../helpers/churn-users';
import { logisticRegressionModel } from '../../shared/onnx';
import { storageFor } from '../../shared/azure/storage';
import { OfflineStore } from '../../shared/features/offline/store';
import { featureRepo } from '../../shared/definitions';
import {
  KSERVE_IRIS_REQUEST,
  KSERVE_IRIS_RESPONSE,
  SPEC_EXAMPLE_REQUEST,
  irisModel,
  irisSignature,
} from '../helpers/oip-fixtures';

const tmp = tempDir();
let azurite: AzuriteHandle;
let redis: RedisHandle;
let host: HostProcess;

const admin = { 'x-functions-key': ADMIN_KEY, 'content-type': 'application/json' };
const fkey = { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' };

// Four numeric features of the app stand in for the iris columns (the app serves only its own features).
const IRIS_STAND_IN = [
  'user_purchases:purchases_7d',
  'user_purchases:spend_7d',
  'user_purchases:avg_order_30d',
  'user_purchases:max_order_30d',
];
// A churn_v1 model (shared/definitions/churn.ts); u1's values by hand in test/helpers/churn-users.ts.
const W = [0.3, -0.2, 0.5, 0.8, -0.01, 0.02, -0.015, 0.05, -1.2];
const B = -0.4;
const U1 = U1_CHURN_V1;
const churnOf = (x: number[]) => 1 / (1 + Math.exp(-(W.reduce((s, w, i) => s + w * x[i]!, 0) + B)));

async function call(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = fkey,
  redirect: 'manual' | 'follow' = 'manual',
) {
  const res = await fetch(`${host.baseUrl}${url}`, {
    method,
    headers,
    redirect,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body: json, text };
}
const infer = (model: string, body: unknown, version?: string) =>
  call('POST', `/api/v2/models/${model}${version ? `/versions/${version}` : ''}/infer`, body);

beforeAll(async () => {
  [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp.dir, 'azurite') }), startRedis()]);
  host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { REDIS_URL: redis.url },
  });
  const register = async (model: string, onnx: Uint8Array, signature: unknown) => {
    const r = await call(
      'POST',
      `/api/models/${model}/versions`,
      { onnxBase64: Buffer.from(onnx).toString('base64'), signature, alias: 'production' },
      admin,
    );
    expect(r.status, r.text).toBe(201);
  };
  const sig = irisSignature(IRIS_STAND_IN);
  await register('sklearn-v2-iris', irisModel(), { ...sig, outputs: [sig.outputs[0]] });
  await register('churn', logisticRegressionModel({ weights: W, bias: B }), {
    featureService: 'churn_v1',
    input: { name: 'features' },
    outputs: [{ name: 'probability', meaning: 'probability of churn within 30 days' }],
  });
  await ingestChurnUsers(host.baseUrl, { admin: ADMIN_KEY, function: FUNCTION_KEY });
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await Promise.all([azurite?.stop(), redis?.stop()]);
  tmp.cleanup();
});

describe('server', () => {
  it('is live and ready without a key, and describes itself', async () => {
    expect(await call('GET', '/api/v2/health/live', undefined, {})).toMatchObject({
      status: 200,
      body: { live: true },
    });
    expect(await call('GET', '/api/v2/health/ready', undefined, {})).toMatchObject({
      status: 200,
      body: { ready: true },
    });
    const meta = await call('GET', '/api/v2', undefined, {});
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual({
      name: 'strata',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      extensions: ['strata_entity_id'],
    });
  });

  it('/v2/... on the local host redirects to /api/v2/... keeping method, body and query', async () => {
    const r = await call('GET', '/v2/health/ready?code=abc', undefined, {});
    expect(r.status).toBe(307);
    expect(r.headers.get('location')).toBe('/api/v2/health/ready?code=abc');
    // A client that follows redirects (fetch, curl -L) re-sends the POST with its body.
    const followed = await call(
      'POST',
      `/v2/models/sklearn-v2-iris/infer?code=${FUNCTION_KEY}`,
      KSERVE_IRIS_REQUEST,
      { 'content-type': 'application/json' },
      'follow',
    );
    expect(followed.status, followed.text).toBe(200);
    expect(followed.body.outputs).toEqual(KSERVE_IRIS_RESPONSE.outputs);
  });
});

describe('models', () => {
  it("KServe's documented iris request, sent as its curl sends it, gets the documented outputs", async () => {
    const r = await infer('sklearn-v2-iris', KSERVE_IRIS_REQUEST);
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.body).toMatchObject({ ...KSERVE_IRIS_RESPONSE, model_version: '1', id: expect.any(String) });
    expect(r.body.outputs).toEqual(KSERVE_IRIS_RESPONSE.outputs);
  });

  it('metadata and readiness, with and without a version', async () => {
    const m = await call('GET', '/api/v2/models/sklearn-v2-iris');
    expect(m.status).toBe(200);
    expect(m.body).toMatchObject({
      name: 'sklearn-v2-iris',
      versions: ['1'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'predict', datatype: 'INT64', shape: [-1] }],
      strata: { version: '1', features: IRIS_STAND_IN },
    });
    expect((await call('GET', '/api/v2/models/sklearn-v2-iris/versions/1')).body.strata.version).toBe('1');
    expect(await call('GET', '/api/v2/models/sklearn-v2-iris/ready')).toMatchObject({
      status: 200,
      body: { name: 'sklearn-v2-iris', ready: true },
    });
    expect(await call('GET', '/api/v2/models/sklearn-v2-iris/versions/production/ready')).toMatchObject({
      status: 200,
      body: { ready: true },
    });
  });

  it('entity_id reads features ingested through Event Hubs and answers what predict answers', async () => {
    const r = await infer('churn', {
      id: 'u1-check',
      inputs: [{ name: 'entity_id', shape: [1], datatype: 'BYTES', data: ['u1'] }],
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({
      model_name: 'churn',
      model_version: '1',
      id: 'u1-check',
      parameters: { routed_by: 'production' },
    });
    expect(r.body.outputs[0]).toMatchObject({ name: 'probability', datatype: 'FP32', shape: [1, 1] });
    expect(r.body.outputs[0].data[0]).toBeCloseTo(churnOf(U1), 6);
    const p = await call('POST', '/api/predict/churn', { entityId: 'u1' });
    expect(p.body.prediction).toBeCloseTo(r.body.outputs[0].data[0], 6);
    // The same features as a tensor: the same number.
    const t = await infer('churn', { inputs: [{ name: 'features', shape: [1, 9], datatype: 'FP32', data: [U1] }] });
    expect(t.body.outputs[0].data[0]).toBeCloseTo(churnOf(U1), 6);
  });

  it('counts in the metrics and reaches the prediction log in the offline store', async () => {
    const r = await infer('sklearn-v2-iris', { id: 'logged', ...KSERVE_IRIS_REQUEST });
    const requestId = r.body.parameters.request_id as string;
    const metrics = await call('GET', '/api/metrics');
    expect(metrics.text).toMatch(/strata_predictions_total\{[^}]*model="sklearn-v2-iris"[^}]*\} [1-9]/);
    const offline = await OfflineStore.open({
      storage: storageFor(azurite.connectionString),
      cacheDir: path.join(tmp.dir, 'offline-cache'),
    });
    const rows = await eventually(
      async () => {
        const all = await offline.readRows('src.predictions', { version: featureRepo.source('predictions').version });
        const mine = all.filter((x) => x.values.requestId === requestId);
        return mine.length === 2 ? mine : undefined;
      },
      30_000,
      'the two rows of the request in src.predictions',
    );
    expect(
      rows.map((x) => [x.values.entityId, x.values.model, x.values.version, Number(x.values.prediction)]).sort(),
    ).toEqual([
      ['oip:logged:0', 'sklearn-v2-iris', 1, 1],
      ['oip:logged:1', 'sklearn-v2-iris', 1, 1],
    ]);
    // Features are stored as a typed column per key (features.<name>), read back as the record's map.
    expect(gatherMap('features', rows.find((x) => x.values.entityId === 'oip:logged:0')!.values, undefined)).toEqual(
      Object.fromEntries(IRIS_STAND_IN.map((f, i) => [f, KSERVE_IRIS_REQUEST.inputs[0]!.data[0]![i]])),
    );
  });
});

describe('errors in the protocol shape', () => {
  const onlyError = (r: { body: unknown }) => expect(Object.keys(r.body as object)).toEqual(['error']);
  const tensor = (o: Record<string, unknown>) => ({ inputs: [{ ...KSERVE_IRIS_REQUEST.inputs[0], ...o }] });

  it.each([
    ['bad JSON', '{"inputs": [', 400, /not valid JSON/],
    ['no body', '', 400, /body: .*expected object/],
    ['a wrong datatype', tensor({ datatype: 'INT64' }), 400, /inputs\[0\]\.datatype: must be FP32/],
    ['a wrong shape', tensor({ shape: [4, 2] }), 400, /inputs\[0\]\.shape: must be \[N, 4\]/],
    ['data that does not fill the shape', tensor({ shape: [3, 4] }), 400, /inputs\[0\]\.data/],
    ['the spec example (two inputs, UINT32)', SPEC_EXAMPLE_REQUEST, 400, /takes one input tensor/],
    ['an unknown output', { ...KSERVE_IRIS_REQUEST, outputs: [{ name: 'output0' }] }, 400, /no output "output0"/],
  ])('%s is answered with its status and {"error"}', async (_what, body, status, message) => {
    const r = await call('POST', '/api/v2/models/sklearn-v2-iris/infer', body);
    expect(r.status, r.text).toBe(status);
    onlyError(r);
    expect(r.body.error).toMatch(message);
  });

  it('unknown models and versions are 404, a malformed version 400', async () => {
    for (const url of [
      '/api/v2/models/nope',
      '/api/v2/models/nope/ready',
      '/api/v2/models/sklearn-v2-iris/versions/7',
      '/api/v2/models/sklearn-v2-iris/versions/canary/ready',
    ]) {
      const r = await call('GET', url);
      expect(r.status, url).toBe(404);
      onlyError(r);
    }
    expect((await infer('nope', KSERVE_IRIS_REQUEST)).status).toBe(404);
    expect((await infer('sklearn-v2-iris', KSERVE_IRIS_REQUEST, '7')).status).toBe(404);
    const bad = await infer('sklearn-v2-iris', KSERVE_IRIS_REQUEST, 'Not.An.Alias');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/version/);
  });

  it('models and infer need the function key; binary tensors are refused', async () => {
    expect((await call('POST', '/api/v2/models/sklearn-v2-iris/infer', KSERVE_IRIS_REQUEST, {})).status).toBe(401);
    expect((await call('GET', '/api/v2/models/sklearn-v2-iris', undefined, {})).status).toBe(401);
    const binary = await call('POST', '/api/v2/models/sklearn-v2-iris/infer', KSERVE_IRIS_REQUEST, {
      ...fkey,
      'inference-header-content-length': '120',
    });
    expect(binary.status).toBe(400);
    expect(binary.body.error).toMatch(/binary_data=False/);
  });
});
