/**
 * Store summaries: a robust (median/MAD) score of a day partition's summary against the
 * previous days. A day with 10x the usual nulls is an anomaly; ordinary day-to-day variation,
 * and a history that never moved, are not.
 */
import { describe, expect, it } from 'vitest';
import { AnomalyPolicySchema, scoreSummary, type PartitionSummary } from '../../shared/monitoring/summary-anomaly';
import { mulberry32 } from '../../shared/monitoring/window';

/** A day of a view: ~10,000 rows (±3%), `amount` null ~2% (±0.3 points), mean ~50 (±1), quantiles alongside. */
function day(
  rand: () => number,
  overrides: { nullRate?: number; rows?: number; mean?: number } = {},
): PartitionSummary {
  const jitter = (x: number, spread: number) => x + (rand() * 2 - 1) * spread;
  const mean = overrides.mean ?? jitter(50, 1);
  return {
    rows: overrides.rows ?? Math.round(jitter(10_000, 300)),
    features: {
      amount: {
        nullRate: overrides.nullRate ?? jitter(0.02, 0.003),
        mean,
        quantiles: { p50: mean - 2, p95: mean + 30 },
      },
      country: { nullRate: 0 },
    },
  };
}

describe('store summary anomaly score', () => {
  const rand = mulberry32(3);
  const history = Array.from({ length: 14 }, () => day(rand));

  it('normal variation scores as normal, day after day', () => {
    const r = mulberry32(4);
    for (let d = 0; d < 20; d++) {
      const s = scoreSummary(day(r), history);
      expect(s.status, JSON.stringify(s.metrics[0])).toBe('normal');
      expect(s.history).toBe(14);
      expect(s.score).toBeLessThan(3.5);
    }
  });

  it('a day with 10x the nulls is an anomaly, and the null rate is what it names', () => {
    const s = scoreSummary(day(mulberry32(5), { nullRate: 0.2 }), history);
    expect(s.status).toBe('anomaly');
    expect(s.metrics[0]).toMatchObject({ metric: 'amount.nullRate', value: 0.2, anomaly: true });
    expect(s.metrics[0]!.z).toBeGreaterThan(10);
    expect(s.metrics.filter((m) => m.anomaly).map((m) => m.metric)).toEqual(['amount.nullRate']);
  });

  it('a half-empty day and a shifted mean are anomalies too', () => {
    expect(scoreSummary(day(mulberry32(6), { rows: 5_000 }), history).metrics[0]).toMatchObject({
      metric: 'rows',
      anomaly: true,
    });
    const shifted = scoreSummary(day(mulberry32(7), { mean: 60 }), history);
    expect(
      shifted.metrics
        .filter((m) => m.anomaly)
        .map((m) => m.metric)
        .sort(),
    ).toEqual(['amount.mean', 'amount.p50']);
  });

  it('a metric that never moved is not alarmed by a tiny change (scale floors), but is by a real one', () => {
    const flat = history.map((h) => ({ ...h, features: { ...h.features, country: { nullRate: 0 } } }));
    const tiny = day(mulberry32(8));
    tiny.features.country = { nullRate: 0.001 };
    expect(scoreSummary(tiny, flat).metrics.find((m) => m.metric === 'country.nullRate')).toMatchObject({
      median: 0,
      scale: 0.01,
      anomaly: false,
    });
    const real = day(mulberry32(8));
    real.features.country = { nullRate: 0.1 };
    expect(scoreSummary(real, flat).metrics[0]).toMatchObject({ metric: 'country.nullRate', z: 10, anomaly: true });
  });

  it('the score by hand: z = (x - median) / (1.4826 * MAD)', () => {
    const hist = [10, 11, 12, 13, 14, 15, 16].map((rows) => ({ rows, features: {} }));
    // median 13, |deviations| = 3,2,1,0,1,2,3 -> MAD 2; scale 2.9652 (above the 5% floor 0.65).
    const s = scoreSummary({ rows: 24, features: {} }, hist);
    expect(s.metrics[0]!.scale).toBeCloseTo(1.4826 * 2, 12);
    expect(s.metrics[0]!.z).toBeCloseTo(11 / (1.4826 * 2), 12); // 3.71 >= 3.5 (23 rows would be 3.37: normal)
    expect(s.status).toBe('anomaly');
  });

  it('too little history gives no verdict; only the newest maxHistory summaries count', () => {
    expect(scoreSummary(day(rand), history.slice(0, 6))).toMatchObject({
      status: 'insufficient_history',
      history: 6,
      metrics: [],
    });
    const policy = AnomalyPolicySchema.parse({ maxHistory: 7 });
    const old = Array.from({ length: 30 }, () => ({ rows: 1_000, features: {} }));
    const recent = Array.from({ length: 7 }, () => ({ rows: 10_000, features: {} }));
    expect(scoreSummary({ rows: 10_000, features: {} }, [...old, ...recent], policy)).toMatchObject({
      status: 'normal',
      history: 7,
    });
  });
});
