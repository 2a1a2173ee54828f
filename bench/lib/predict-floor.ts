/**
 * The bare predict floor's work for one request, shared by the floor server (bench/fixtures/
 * predict-floor-server) and bench/predict-cpu: one ioredis HGETALL of the entity's features,
 * one onnxruntime run, and with a log the same prediction record Strata writes
 * (PredictionRecordSchema) handed to the same writer (PredictionLog). No routing, keys,
 * validation, policy or metrics.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import * as ort from 'onnxruntime-node';
import { EVENT_TS_FIELD } from '../../shared/features/online/codec';
import { sampleKeyOf, type PredictionLog } from '../../shared/serving/prediction-log';

export interface FloorModel {
  redis: Redis;
  session: ort.InferenceSession;
  /** Redis key of an entity's hash, without the entity: `<prefix>:<view>`. */
  keyPrefix: string;
  view: string;
  model: string;
  features: readonly string[];
  log?: PredictionLog;
}

/** The same session options Strata uses (shared/serving/sessions.ts): one thread for small models. */
export function floorSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

/** Predict for one entity; `t0` is when the request arrived (performance.now()), for the record's latency. */
export async function floorPredict(m: FloorModel, entityId: string, t0: number): Promise<number> {
  const hash = await m.redis.hgetall(`${m.keyPrefix}:${entityId}`);
  const n = m.features.length;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Number(hash[m.features[i]!]!.slice(1)); // values are "n<number>"
  const input = m.session.inputNames[0]!;
  const output = m.session.outputNames[0]!;
  const out = await m.session.run({ [input]: new ort.Tensor('float32', x, [1, n]) });
  const prediction = (out[output]!.data as Float32Array)[0]!;
  if (m.log) {
    const ts = Date.now();
    const age = ts - Number(hash[EVENT_TS_FIELD]);
    const values: Record<string, number> = {};
    for (let i = 0; i < n; i++) values[`${m.view}:${m.features[i]!}`] = Number(hash[m.features[i]!]!.slice(1)); // as read (Strata logs doubles, not float32)
    const requestId = randomUUID();
    const predictionId = `${requestId}:0`;
    m.log.add([
      {
        predictionId,
        requestId,
        ts,
        model: m.model,
        version: 1,
        entityId,
        routedBy: 'production',
        shadow: false,
        features: values,
        defaulted: [],
        viewAgeMs: { [m.view]: age },
        overridden: [],
        prediction,
        predictionNumber: prediction,
        sampleKey: sampleKeyOf(predictionId),
        outputs: { [output]: prediction },
        latencyMs: performance.now() - t0,
      },
    ]);
  }
  return prediction;
}
