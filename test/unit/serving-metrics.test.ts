import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS, ServingMetrics, quantile } from '../../shared/serving/metrics';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('serving metrics', () => {
  it('reports p50/p95/p99 per version from the fixed buckets', () => {
    const m = new ServingMetrics();
    // 90 fast (0.8 ms), 9 medium (4 ms), 1 slow (40 ms)
    for (let i = 0; i < 90; i++) m.observe('churn', 1, { latencyMs: 0.8, predictions: 1, shadow: false });
    for (let i = 0; i < 9; i++) m.observe('churn', 1, { latencyMs: 4, predictions: 1, shadow: false });
    m.observe('churn', 1, { latencyMs: 40, predictions: 1, shadow: false });
    const v = m.stats('churn').versions[0]!;
    expect(v.requests).toBe(100);
    expect(v.latencyMs.p50).toBeGreaterThan(0.5);
    expect(v.latencyMs.p50).toBeLessThanOrEqual(1);
    expect(v.latencyMs.p95).toBeGreaterThan(3);
    expect(v.latencyMs.p95).toBeLessThanOrEqual(4);
    expect(v.latencyMs.p99).toBeGreaterThan(3);
    expect(v.latencyMs.p99).toBeLessThanOrEqual(50);
  });

  it('gives each live version its share of predictions; shadows are listed but take no share', () => {
    const m = new ServingMetrics();
    m.observe('churn', 1, { latencyMs: 1, predictions: 90, shadow: false });
    m.observe('churn', 2, { latencyMs: 1, predictions: 10, shadow: false });
    m.observe('churn', 3, { latencyMs: 1, predictions: 100, shadow: true });
    m.error('churn', 2, 422);
    const s = m.stats('churn');
    expect(s.predictions).toBe(100);
    expect(s.errors).toBe(1);
    expect(s.versions.map((v) => [v.version, v.shadow, v.share])).toEqual([
      [1, false, 0.9],
      [2, false, 0.1],
      [3, true, 0],
    ]);
    expect(s.versions[1]!.errors).toBe(1);
  });

  it('forgets observations older than the window', () => {
    const c = clock();
    const m = new ServingMetrics({ windowMs: 60_000, slotMs: 10_000, now: c.now });
    m.observe('churn', 1, { latencyMs: 1, predictions: 1, shadow: false });
    c.advance(30_000);
    m.observe('churn', 1, { latencyMs: 1, predictions: 1, shadow: false });
    expect(m.stats('churn').requests).toBe(2);
    c.advance(45_000);
    expect(m.stats('churn').requests).toBe(1);
    expect(m.stats('churn', 10_000).requests).toBe(0);
    c.advance(60_000);
    expect(m.stats('churn').versions).toEqual([]);
  });

  it('exports Prometheus text with the same fixed buckets on every instance, so histograms add up', async () => {
    const a = new ServingMetrics();
    const b = new ServingMetrics();
    const both = new ServingMetrics();
    const latencies = [0.3, 0.9, 2.5, 2.5, 12, 700];
    latencies.forEach((ms, i) => {
      (i % 2 ? a : b).observe('churn', 1, { latencyMs: ms, predictions: 1, shadow: false });
      both.observe('churn', 1, { latencyMs: ms, predictions: 1, shadow: false });
    });
    const buckets = async (m: ServingMetrics) => {
      const h = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'strata_predict_duration_seconds')!;
      return (h.values as Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>)
        .filter((v) => v.metricName === 'strata_predict_duration_seconds_bucket')
        .map((v) => [String(v.labels.le), v.value] as const);
    };
    const [ba, bb, bboth] = await Promise.all([buckets(a), buckets(b), buckets(both)]);
    expect(ba.map(([le]) => le)).toEqual(bboth.map(([le]) => le));
    expect(ba.length).toBe(LATENCY_BUCKETS_MS.length + 1);
    expect(ba.map(([, v], i) => v + bb[i]![1])).toEqual(bboth.map(([, v]) => v));
    const text = await both.registry.metrics();
    expect(text).toContain(
      'strata_predict_duration_seconds_bucket{le="0.001",model="churn",version="1",shadow="false"} 2',
    );
    expect(text).toContain('strata_predict_requests_total{model="churn",version="1",shadow="false"} 6');
  });

  it("exports exactly what prom-client's own inc/observe per request would (text and JSON)", async () => {
    // The reference: the same metrics counted the direct way, label set by label set.
    const ref = new Registry();
    const labelNames = ['model', 'version', 'shadow'] as const;
    const registers = [ref];
    const requests = new Counter({
      name: 'strata_predict_requests_total',
      help: 'Predict requests served, per model version',
      labelNames,
      registers,
    });
    const predictions = new Counter({
      name: 'strata_predictions_total',
      help: 'Entities predicted, per model version',
      labelNames,
      registers,
    });
    const errors = new Counter({
      name: 'strata_predict_errors_total',
      help: 'Predict requests that failed, per model version and HTTP status',
      labelNames: [...labelNames, 'status'],
      registers,
    });
    const latency = new Histogram({
      name: 'strata_predict_duration_seconds',
      help: 'Predict latency per model version (fixed buckets: merge across instances by summing)',
      labelNames,
      buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
      registers,
    });
    const m = new ServingMetrics();
    // Bounds exactly, just above them, overflow, zero, fractions whose seconds sum rounds.
    const latencies = [0, 0.25, 0.2500001, 1, 1.1, 3, 7.5, 9.99, 10000, 10000.5, 12345, 0.1 + 0.2, 42.42];
    const series = [
      ['churn', 1, false],
      ['churn', 2, false],
      ['churn', 3, true],
      ['fraud', 7, false],
    ] as const;
    let n = 0;
    for (let round = 0; round < 3; round++) {
      for (const ms of latencies) {
        const [model, version, shadow] = series[n++ % series.length]!;
        const o = { latencyMs: ms * (round + 1), predictions: (n % 5) + 1, shadow };
        m.observe(model, version, o);
        const labels = { model, version: String(version), shadow: String(shadow) };
        requests.inc(labels);
        predictions.inc(labels, o.predictions);
        latency.observe(labels, o.latencyMs / 1000);
        if (n % 4 === 0) {
          m.error(model, version, 503, shadow);
          errors.inc({ ...labels, status: '503' });
        }
      }
    }
    expect(await m.registry.metrics()).toBe(await ref.metrics());
    expect(await m.registry.getMetricsAsJSON()).toEqual(await ref.getMetricsAsJSON());
    // A later scrape reports what was observed since, not a second copy.
    m.observe('churn', 1, { latencyMs: 2, predictions: 3, shadow: false });
    requests.inc({ model: 'churn', version: '1', shadow: 'false' });
    predictions.inc({ model: 'churn', version: '1', shadow: 'false' }, 3);
    latency.observe({ model: 'churn', version: '1', shadow: 'false' }, 0.002);
    expect(await m.registry.metrics()).toBe(await ref.metrics());
  });

  it('interpolates inside a bucket and reports the last bound for the overflow bucket', () => {
    const counts = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
    counts[2] = 10; // (0.5, 1] ms
    expect(quantile(counts, 0.5)).toBeCloseTo(0.75, 9);
    expect(quantile(new Array(LATENCY_BUCKETS_MS.length + 1).fill(0), 0.5)).toBeNull();
    const overflow = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
    overflow[LATENCY_BUCKETS_MS.length] = 1;
    expect(quantile(overflow, 0.99)).toBe(LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]);
  });
});
