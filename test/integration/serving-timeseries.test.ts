/**
 * GET /api/models/{m}/timeseries's core: per version and bucket, requests, predictions and
 * exact latency quantiles from the prediction log's segments (src.predictions) in a real
 * offline store (Azurite + DuckDB). Expectations are computed by hand from the records.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { useAzurite } from '../helpers/storage';
import { storageFor } from '../../shared/azure/storage';
import { OfflineStore } from '../../shared/features/offline/store';
import { featureRepo } from '../../shared/definitions';
import { sourceColumns, sourceSegmentView } from '../../shared/features/ingest/service';
import { predictionTimeseries, timeseriesRange } from '../../shared/serving/timeseries';
import type { FeatureRow } from '../../shared/features/definitions/values';

const storage = useAzurite('strata-timeseries-');
const source = featureRepo.source('predictions');
const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
const MIN = 60_000;
let offline: OfflineStore;

interface Rec {
  id: string;
  request: string;
  at: number;
  model?: string;
  version: number;
  routedBy?: string;
  shadow?: boolean;
  latencyMs: number;
}

function row(r: Rec): FeatureRow {
  const values = {
    predictionId: r.id,
    requestId: r.request,
    ts: r.at,
    model: r.model ?? 'churn',
    version: r.version,
    entityId: `e-${r.id}`,
    routedBy: r.routedBy ?? (r.shadow ? 'shadow' : 'production'),
    shadow: r.shadow ?? false,
    features: '{}',
    defaulted: '[]',
    overridden: '[]',
    prediction: '0.5',
    outputs: '{}',
    latencyMs: r.latencyMs,
  };
  return { entityId: r.id, eventTs: r.at, createdTs: r.at + 500, values };
}

async function commit(batch: string, recs: Rec[]): Promise<void> {
  await offline.writeRows(
    {
      view: sourceSegmentView('predictions'),
      version: source.version,
      columns: sourceColumns(source),
      lineage: { input: { kind: 'file', source: 'predictions', sha256: batch } },
    },
    recs.map(row),
  );
}

beforeAll(async () => {
  offline = await OfflineStore.open({
    storage: storageFor(storage.connectionString),
    cacheDir: path.join(storage.dir, 'cache'),
  });
  // Minute 0: v1 answers four single requests (1, 2, 3, 4 ms); v2 one batch of three entities (10 ms);
  // a shadow v3 copy of r1 (7 ms). Minute 1: v1 once (5 ms). Another model and an earlier record do not count.
  await commit('a', [
    { id: 'r1', request: 'r1', at: T0 + 1_000, version: 1, latencyMs: 1 },
    { id: 'r2', request: 'r2', at: T0 + 2_000, version: 1, latencyMs: 2 },
    { id: 'r3', request: 'r3', at: T0 + 3_000, version: 1, latencyMs: 3 },
    { id: 'r4', request: 'r4', at: T0 + 4_000, version: 1, latencyMs: 4 },
    { id: 'r5:0', request: 'r5', at: T0 + 5_000, version: 2, routedBy: 'canary', latencyMs: 10 },
    { id: 'r5:1', request: 'r5', at: T0 + 5_000, version: 2, routedBy: 'canary', latencyMs: 10 },
    { id: 'r5:2', request: 'r5', at: T0 + 5_000, version: 2, routedBy: 'canary', latencyMs: 10 },
    { id: 'r1:shadow:3', request: 'r1', at: T0 + 1_500, version: 3, shadow: true, latencyMs: 7 },
    { id: 'x1', request: 'x1', at: T0 + 6_000, model: 'other', version: 1, latencyMs: 99 },
    { id: 'old', request: 'old', at: T0 - MIN, version: 1, latencyMs: 50 },
  ]);
  await commit('b', [{ id: 'r6', request: 'r6', at: T0 + MIN + 1_000, version: 1, latencyMs: 5 }]);
  // The same record again in another batch (the log resent it): counted once.
  await commit('c', [{ id: 'r6', request: 'r6', at: T0 + MIN + 1_000, version: 1, latencyMs: 5 }]);
});

describe('prediction timeseries from the offline store', () => {
  it('counts requests once per version, predictions per entity, and gives exact quantiles per bucket and in total', async () => {
    const ts = await predictionTimeseries(offline, source.version, 'churn', {
      from: T0,
      to: T0 + 3 * MIN,
      stepMs: MIN,
    });
    expect(ts.buckets).toEqual([T0, T0 + MIN, T0 + 2 * MIN]);
    expect(ts.versions.map((v) => [v.version, v.shadow, v.routedBy])).toEqual([
      [1, false, ['production']],
      [2, false, ['canary']],
      [3, true, ['shadow']],
    ]);
    const [v1, v2, v3] = ts.versions;
    expect(v1!.requests).toEqual([4, 1, 0]);
    expect(v1!.predictions).toEqual([4, 1, 0]);
    expect(v1!.requestsPerSecond).toEqual([4 / 60, 1 / 60, 0]);
    // quantile_cont over 1, 2, 3, 4: position q * 3 between the sorted values.
    expect(v1!.latencyMs.p50[0]).toBeCloseTo(2.5, 9);
    expect(v1!.latencyMs.p95[0]).toBeCloseTo(3.85, 9);
    expect(v1!.latencyMs.p99[0]).toBeCloseTo(3.97, 9);
    expect([v1!.latencyMs.p50[1], v1!.latencyMs.p99[1], v1!.latencyMs.p50[2]]).toEqual([5, 5, null]);
    // Over 1..5: positions q * 4.
    expect(v1!.totals).toEqual({
      requests: 5,
      predictions: 5,
      latencyMs: { p50: 3, p95: expect.closeTo(4.8, 9), p99: expect.closeTo(4.96, 9) },
    });
    expect([v2!.requests, v2!.predictions, v2!.latencyMs.p50]).toEqual([
      [1, 0, 0],
      [3, 0, 0],
      [10, null, null],
    ]);
    expect([v3!.requests, v3!.totals.latencyMs.p50]).toEqual([[1, 0, 0], 7]);
  });

  it('answers an empty series for a range without predictions', async () => {
    const ts = await predictionTimeseries(offline, source.version, 'churn', {
      from: T0 + 10 * MIN,
      to: T0 + 12 * MIN,
      stepMs: MIN,
    });
    expect([ts.versions, ts.buckets.length, ts.segments]).toEqual([[], 2, 0]);
  });
});

describe('timeseries query parameters', () => {
  it('defaults to the last hour in one-minute buckets, and refuses bad ranges naming the parameter', () => {
    expect(timeseriesRange({}, 3_600_000 * 10)).toEqual({ from: 3_600_000 * 9, to: 3_600_000 * 10, stepMs: 60_000 });
    expect(timeseriesRange({ from: 10, to: 5 })).toEqual({
      problem: { where: 'query.from', problem: expect.stringContaining('before to') },
    });
    expect(timeseriesRange({ from: 0, to: 86_400_000 * 2, step: 60_000 })).toEqual({
      problem: { where: 'query.step', problem: expect.stringContaining('at most 1440') },
    });
  });
});
