/**
 * Fixtures for the serving tests: models with known weights and their signatures, a
 * collecting prediction sink, feature rows, and a whole serving stack on real Azurite
 * and Redis (the Redis online store).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { logisticRegressionModel } from '../../shared/onnx';
import type { FeatureRow, FeatureValue } from '../../shared/features/definitions/values';
import type { OnlineKey, OnlineRecord, OnlineStore, OnlineWriteResult } from '../../shared/features/online/types';
import { storageFor } from '../../shared/azure/storage';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { startRedis } from '../../local/processes/redis';
import { EmbeddedOnlineStore, RedisOnlineStore } from '../../shared/features/online';
import type { ModelSignatureInput, OnMissing } from '../../shared/serving/signature';
import type { PredictionRecord, PredictionSink } from '../../shared/serving/prediction-log';
import { ServingService, type ServingOptions } from '../../shared/serving/service';
import { ModelTable } from '../../shared/azure/model-table';
import { BUSY_REDIS } from './wait';
import type { StrataError } from '../../shared/errors';

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
export const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** `view:feature` refs -> a signature whose input is `features` and output `probability`. */
export function signatureFor(
  refs: string[],
  opts: {
    service?: string;
    onMissing?: OnMissing;
    features?: Record<string, { onMissing: OnMissing; maxStalenessMs?: number }>;
    input?: string;
    output?: string;
  } = {},
): ModelSignatureInput {
  return {
    featureService: {
      name: opts.service ?? 'svc',
      features: refs.map((r) => {
        const [view, feature] = r.split(':') as [string, string];
        return { view, feature };
      }),
    },
    input: { name: opts.input ?? 'features' },
    outputs: [{ name: opts.output ?? 'probability', meaning: 'probability of class 1' }],
    policy: { default: { onMissing: opts.onMissing ?? 'required' }, features: opts.features ?? {} },
  };
}

/** A logistic model over `refs` with its signature, and the hand math for a row of values. */
export function logistic(
  refs: string[],
  weights: number[],
  bias: number,
  sig: Parameters<typeof signatureFor>[1] = {},
) {
  return {
    artifact: logisticRegressionModel({ weights, bias }),
    signature: signatureFor(refs, sig),
    expected: (x: number[]) => sigmoid(dot(weights, x) + bias),
  };
}

/** The error a call refuses with; fails the test when it does not refuse. */
export async function refused(p: Promise<unknown>, what = 'the call'): Promise<StrataError> {
  try {
    await p;
  } catch (e) {
    return e as StrataError;
  }
  throw new Error(`expected ${what} to be refused`);
}

export class CollectingSink implements PredictionSink {
  readonly batches: PredictionRecord[][] = [];
  get records(): PredictionRecord[] {
    return this.batches.flat();
  }
  async send(records: PredictionRecord[]): Promise<void> {
    this.batches.push(records);
  }
}

/** A feature row for `write`. */
export function row(entityId: string, values: Record<string, FeatureValue>, eventTs = Date.now()): FeatureRow {
  return { entityId, eventTs, createdTs: eventTs, values };
}

/**
 * A real online store, counting the read() calls serving makes (the "one round trip per
 * request" rule); everything else goes straight through.
 */
export class CountingStore implements OnlineStore {
  reads = 0;
  constructor(readonly inner: OnlineStore) {}
  get kind() {
    return this.inner.kind;
  }
  write(view: string, rows: FeatureRow[], ttlMs?: number): Promise<OnlineWriteResult> {
    return this.inner.write(view, rows, ttlMs);
  }
  forgetAfter(view: string, entityIds: string[], eventTs: number): Promise<number> {
    return this.inner.forgetAfter(view, entityIds, eventTs);
  }
  read(keys: OnlineKey[]): Promise<Array<OnlineRecord | null>> {
    this.reads++;
    return this.inner.read(keys);
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}

export type StoreKind = 'redis' | 'embedded';

/** The Redis online store over a real redis-server on a free port (default), or the embedded store. */
export async function startOnlineStore(
  kind: StoreKind = 'redis',
): Promise<{ store: CountingStore; stop(): Promise<void> }> {
  if (kind === 'embedded') {
    const store = new CountingStore(new EmbeddedOnlineStore());
    return { store, stop: () => store.close() };
  }
  const redis = await startRedis();
  const store = new CountingStore(new RedisOnlineStore(redis.url, BUSY_REDIS));
  return {
    store,
    async stop() {
      await store.close();
      await redis.stop();
    },
  };
}

export interface ServingStack {
  azurite: AzuriteHandle;
  serving: ServingService;
  store: CountingStore;
  sink: CollectingSink;
  /** A fresh ServingService on the same storage (another instance), stopped with the stack. */
  another(opts?: Partial<ServingOptions>): ServingService;
  stop(): Promise<void>;
}

/** Azurite + Redis + a ServingService on them, with a collecting prediction sink. */
export async function startServingStack(
  opts: { graceMs?: number; refreshMs?: number; store?: StoreKind } = {},
): Promise<ServingStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-serving-'));
  const [azurite, online] = await Promise.all([startAzurite({ location: dir }), startOnlineStore(opts.store)]);
  const storage = storageFor(azurite.connectionString);
  const sink = new CollectingSink();
  const services: ServingService[] = [];
  const make = (o: Partial<ServingOptions> = {}) => {
    const s = new ServingService({
      models: new ModelTable(storage),
      store: online.store,
      sink,
      sessionGraceMs: opts.graceMs ?? 200,
      refreshMs: opts.refreshMs ?? 60_000,
      log: { maxDelayMs: 5 },
      ...o,
    });
    services.push(s);
    return s;
  };
  const serving = make();
  return {
    azurite,
    serving,
    store: online.store,
    sink,
    another: make,
    async stop() {
      for (const s of services) await s.close();
      await Promise.all([azurite.stop(), online.stop()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
