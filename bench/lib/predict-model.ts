/**
 * The model the predict benchmarks serve: a logistic regression over 20 features of one
 * online-store view (a real ONNX model run by onnxruntime), registered as production through
 * the registry the host reads, and the features of `entities` entities written through the
 * real online store. Feature i of entity e is ((e·31 + i·17) mod 100) / 10.
 */
import { RedisOnlineStore } from '../../shared/features/online/redis';
import { storageFor } from '../../shared/azure/storage';
import { logisticRegressionModel } from '../../shared/onnx';
import { ServingService } from '../../shared/serving/service';
import { ModelTable } from '../../shared/azure/model-table';
import type { FeatureRow } from '../../shared/features/definitions/values';

export const MODEL = 'bench-logistic';
export const VIEW = 'bench_features';
export const FEATURES = Array.from({ length: 20 }, (_, i) => `f${i}`);
export const WEIGHTS = FEATURES.map((_, i) => ((i % 5) - 2) / 10);
export const BIAS = -0.3;

export const featureValue = (e: number, i: number): number => ((e * 31 + i * 17) % 100) / 10;

/** The model's answer for entity e, by hand. */
export const expectedPrediction = (e: number): number =>
  1 / (1 + Math.exp(-(WEIGHTS.reduce((z, w, i) => z + w * featureValue(e, i), 0) + BIAS)));

/** Write the features and register the model; returns the ONNX artifact. */
export async function seedPredictModel(o: {
  storageConnectionString: string;
  redisUrl: string;
  entities: number;
}): Promise<Uint8Array> {
  const store = new RedisOnlineStore(o.redisUrl);
  const now = Date.now();
  const rows: FeatureRow[] = Array.from({ length: o.entities }, (_, e) => ({
    entityId: `e${e}`,
    eventTs: now - 60_000,
    createdTs: now - 60_000,
    values: Object.fromEntries(FEATURES.map((f, i) => [f, featureValue(e, i)])),
  }));
  await store.write(VIEW, rows);
  const artifact = logisticRegressionModel({ weights: WEIGHTS, bias: BIAS });
  const serving = new ServingService({
    models: new ModelTable(storageFor(o.storageConnectionString)),
    store,
    sessionGraceMs: 1000,
  });
  await serving.register(MODEL, {
    artifact,
    alias: 'production',
    signature: {
      featureService: { name: 'bench20', features: FEATURES.map((feature) => ({ view: VIEW, feature })) },
      input: { name: 'features' },
      outputs: [{ name: 'probability', meaning: 'probability of class 1' }],
    },
  });
  await serving.close();
  await store.close();
  return artifact;
}
