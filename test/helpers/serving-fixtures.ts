/**
 * Fixtures for the serving tests: models with known weights and their signatures, a
 * collecting prediction sink, feature rows, and a whole serving stack on real Azurite
 * and Redis.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { logisticRegressionModel } from '../../shared/onnx';
import type { FeatureRow, FeatureValue } from '../../shared/features/types';
import type { OnlineKey, OnlineRecord, OnlineStore, OnlineWriteResult } from '../../shared/features/online/types';
import { storageFor } from '../../shared/storage/clients';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import type { ModelSignatureInput, OnMissing } from '../../shared/serving/signature';
import type { PredictionRecord, PredictionSink } from '../../shared/serving/prediction-log';
import { ServingService, type ServingOptions } from '../../shared/serving/service';

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
export const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** `view:feature` refs -> a signature whose input is `features` and output `probability`. */
export function signatureFor(
  refs: string[],
  opts: { service?: string; onMissing?: OnMissing; features?: Record<string, { onMissing: OnMissing; maxStalenessMs?: number }>; input?: string; output?: string } = {},
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
export function logistic(refs: string[], weights: number[], bias: number, sig: Parameters<typeof signatureFor>[1] = {}) {
  return {
    artifact: logisticRegressionModel({ weights, bias }),
    signature: signatureFor(refs, sig),
    expected: (x: number[]) => sigmoid(dot(weights, x) + bias),
  };
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
 * Interim in-process OnlineStore with the contract's semantics (newest (eventTs, createdTs)
 * wins), used until the feature-store engineer's EmbeddedOnlineStore/RedisOnlineStore land.
 */
export class InterimOnlineStore implements OnlineStore {
  readonly kind = 'embedded' as const;
  private readonly data = new Map<string, OnlineRecord>();
  reads = 0;
  async write(view: string, rows: FeatureRow[]): Promise<OnlineWriteResult> {
    let applied = 0;
    for (const r of rows) {
      const k = `${view}\u0000${r.entityId}`;
      const cur = this.data.get(k);
      if (cur && (cur.eventTs > r.eventTs || (cur.eventTs === r.eventTs && cur.createdTs >= r.createdTs))) continue;
      this.data.set(k, { values: { ...r.values }, eventTs: r.eventTs, createdTs: r.createdTs });
      applied++;
    }
    return { applied, skipped: rows.length - applied };
  }
  async read(keys: OnlineKey[]): Promise<Array<OnlineRecord | null>> {
    this.reads++;
    return keys.map((k) => this.data.get(`${k.view}\u0000${k.entityId}`) ?? null);
  }
  async ping() {
    return { ok: true, version: 'interim' };
  }
  async close() {}
}

export interface ServingStack {
  azurite: AzuriteHandle;
  serving: ServingService;
  store: OnlineStore;
  sink: CollectingSink;
  /** A fresh ServingService on the same storage (another instance), stopped with the stack. */
  another(opts?: Partial<ServingOptions>): ServingService;
  stop(): Promise<void>;
}

export async function startServingStack(opts: { store: OnlineStore; graceMs?: number; refreshMs?: number }): Promise<ServingStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-serving-'));
  const azurite = await startAzurite({ location: dir });
  const storage = storageFor(azurite.connectionString);
  const sink = new CollectingSink();
  const services: ServingService[] = [];
  const make = (o: Partial<ServingOptions> = {}) => {
    const s = new ServingService({
      storage, store: opts.store, sink, sessionGraceMs: opts.graceMs ?? 200, refreshMs: opts.refreshMs ?? 60_000,
      log: { maxDelayMs: 5 }, ...o,
    });
    services.push(s);
    return s;
  };
  const serving = make();
  return {
    azurite, serving, store: opts.store, sink,
    another: make,
    async stop() {
      for (const s of services) await s.close();
      await azurite.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
