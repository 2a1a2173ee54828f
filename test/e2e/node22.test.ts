/**
 * Node 22, the runtime Azure Functions runs Strata on (infra/ targets it), while CI and every
 * other test run on the machine's Node: the local host and the sample app started with Node 22
 * (scripts/node22.ts fetches it from the npm registry once) take events through Event Hubs,
 * serve them online, register an ONNX model and answer predict with the logistic math by hand,
 * on real Azurite, Redis and onnxruntime (its native addon is N-API, loaded by either Node).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { logisticRegressionModel } from '../../shared/onnx';
import { node22 } from '../../scripts/node22';
import { ingestChurnUsers, U1_CHURN_V1 } from '../helpers/churn-users';
import { ADMIN_KEY, FUNCTION_KEY, ROOT, startHostProcess, type HostProcess } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';

const tmp = tempDir();
const runtime = node22();
let azurite: AzuriteHandle;
let redis: RedisHandle;
let host: HostProcess;

beforeAll(async () => {
  if ('unavailable' in runtime) throw new Error(`Node 22 is needed for this test: ${runtime.unavailable}`);
  [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp.dir, 'azurite') }), startRedis()]);
  host = await startHostProcess({
    node: runtime.node,
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { REDIS_URL: redis.url },
  });
  await ingestChurnUsers(host.baseUrl, { admin: ADMIN_KEY, function: FUNCTION_KEY });
});

afterAll(async () => {
  await host?.stop();
  await Promise.all([azurite?.stop(), redis?.stop()]);
  tmp.cleanup();
});

it('the local host names Node 22 as its runtime', () => {
  if ('unavailable' in runtime) throw new Error(runtime.unavailable);
  const version = execFileSync(runtime.node, [path.join(ROOT, 'dist/local/cli.js'), '--version'], { encoding: 'utf8' });
  expect(version).toContain(`Node.js ${runtime.version}`);
  expect(runtime.version).toMatch(/^v22\./);
});

it('on Node 22 predict answers the logistic math by hand for features ingested through Event Hubs', async () => {
  const weights = [0.3, -0.2, 0.5, 0.8, -0.01, 0.02, -0.015, 0.05, -1.2];
  const bias = -0.4;
  const registered = await fetch(`${host.baseUrl}/api/models/churn/versions`, {
    method: 'POST',
    headers: { 'x-functions-key': ADMIN_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({
      onnxBase64: Buffer.from(logisticRegressionModel({ weights, bias })).toString('base64'),
      signature: {
        featureService: 'churn_v1',
        input: { name: 'features' },
        outputs: [{ name: 'probability', meaning: 'probability of churn within 30 days' }],
      },
      alias: 'production',
    }),
  });
  expect(registered.status, await registered.clone().text()).toBe(201);
  const r = await fetch(`${host.baseUrl}/api/predict/churn`, {
    method: 'POST',
    headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ entityId: 'u1' }),
  });
  const body = (await r.json()) as { prediction: number; modelVersion: number };
  expect(r.status, JSON.stringify(body)).toBe(200);
  const z = weights.reduce((s, w, i) => s + w * U1_CHURN_V1[i]!, bias);
  expect(body.modelVersion).toBe(1);
  expect(body.prediction).toBeCloseTo(1 / (1 + Math.exp(-z)), 5);
});
