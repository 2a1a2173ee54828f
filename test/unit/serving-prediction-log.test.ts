import { describe, expect, it } from 'vitest';
import {
  PredictionLog,
  PredictionRecordSchema,
  sampleKeyOf,
  type PredictionRecord,
  type PredictionSink,
} from '../../shared/serving/prediction-log';
import { CollectingSink } from '../helpers/serving-fixtures';

function records(n: number, from = 0): PredictionRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    predictionId: `r1:${from + i}`,
    requestId: 'r1',
    ts: 1_700_000_000_000,
    model: 'churn',
    version: 1,
    entityId: `u${from + i}`,
    routedBy: 'production',
    shadow: false,
    features: { 'user:a': 1 },
    defaulted: [],
    overridden: [],
    prediction: 0.5,
    outputs: { probability: 0.5 },
    latencyMs: 1.2,
  }));
}

// Generous: timers fire late on a busy machine; the wait ends as soon as the condition holds.
const until = async (cond: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 2));
  }
};

/** A sink that fails its first `failures` sends, like an Event Hub that is briefly unreachable. */
class FlakySink extends CollectingSink {
  constructor(private failures: number) {
    super();
  }
  override async send(r: PredictionRecord[]): Promise<void> {
    if (this.failures-- > 0) throw new Error('hub unreachable');
    await super.send(r);
  }
}

describe('prediction log', () => {
  it('sends full batches at once and the rest after the delay, in order', async () => {
    const sink = new CollectingSink();
    const log = new PredictionLog(sink, { maxBatch: 100, maxDelayMs: 20 });
    log.add(records(250));
    await until(() => sink.records.length === 250);
    expect(sink.batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(sink.records.map((r) => r.entityId)).toEqual(records(250).map((r) => r.entityId));
  });

  it('waits at most maxDelayMs for a batch to fill', async () => {
    const sink = new CollectingSink();
    const log = new PredictionLog(sink, { maxBatch: 100, maxDelayMs: 10 });
    log.add(records(3));
    expect(sink.records.length).toBe(0);
    await until(() => sink.records.length === 3);
  });

  it('retries a failing sink and loses nothing', async () => {
    const sink = new FlakySink(2);
    const errors: unknown[] = [];
    const log = new PredictionLog(sink, { maxBatch: 10, maxDelayMs: 1, onError: (e) => errors.push(e) });
    log.add(records(25));
    await until(() => sink.records.length === 25);
    expect(errors.length).toBe(2);
    expect(sink.records.map((r) => r.entityId)).toEqual(records(25).map((r) => r.entityId));
    expect(log.stats()).toMatchObject({ sent: 25, failedSends: 2, dropped: 0, buffered: 0 });
  });

  it('keeps at most maxBuffered records while the sink is down, dropping the oldest and counting them', async () => {
    const down: PredictionSink = {
      send: async () => {
        throw new Error('down');
      },
    };
    const log = new PredictionLog(down, { maxBatch: 1000, maxDelayMs: 1000, maxBuffered: 50 });
    log.add(records(80));
    expect(log.stats()).toMatchObject({ dropped: 30, buffered: 50 });
    const up = new CollectingSink();
    const log2 = new PredictionLog(up, { maxBatch: 1000, maxDelayMs: 1000, maxBuffered: 50 });
    log2.add(records(80));
    await log2.flush();
    expect(up.records[0]!.entityId).toBe('u30');
  });

  it('flush sends everything buffered before it resolves', async () => {
    const sink = new CollectingSink();
    const log = new PredictionLog(sink, { maxBatch: 7, maxDelayMs: 60_000 });
    log.add(records(20));
    await log.flush();
    expect(sink.records.length).toBe(20);
  });

  it('defines the record schema ingest uses for the predictions source', () => {
    expect(PredictionRecordSchema.safeParse(records(1)[0]).success).toBe(true);
    const bad = PredictionRecordSchema.safeParse({ ...records(1)[0], version: 0, routedBy: 'somewhere' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['routedBy', 'version']);
  });

  it("gives each record a sample key: its id's SHA-1, first six bytes, a whole number below 2^48", () => {
    // The reference: printf 'r1:e1' | sha1sum -> 8eba7e6d4299... ; 0x8eba7e6d4299 = 156931636150937.
    expect(sampleKeyOf('r1:e1')).toBe(0x8eba7e6d4299);
    expect(sampleKeyOf('r1:e1')).toBe(156931636150937);
    const keys = Array.from({ length: 1000 }, (_, i) => sampleKeyOf(`r${i}:u${i}`));
    expect(keys.every((k) => Number.isInteger(k) && k >= 0 && k < 2 ** 48)).toBe(true);
    expect(new Set(keys).size).toBe(1000);
    expect(PredictionRecordSchema.safeParse({ ...records(1)[0], sampleKey: 2 ** 48 }).success).toBe(false);
    expect(PredictionRecordSchema.safeParse({ ...records(1)[0], sampleKey: sampleKeyOf('r1:0') }).success).toBe(true);
  });
});
