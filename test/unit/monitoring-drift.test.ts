/**
 * Drift verdicts: insufficient data on tiny windows, significance on small ones, effect size on
 * large ones (a million rows from the baseline's own distribution raise nothing), Bonferroni
 * across features, dataset drift by share, the prediction and label judged on their own.
 */
import { describe, expect, it } from 'vitest';
import type { Baseline, ColumnBaseline } from '../../shared/training/baseline';
import { featureColumns } from '../../shared/monitoring/baseline';
import { DEFAULT_DRIFT_POLICY, DriftPolicySchema, driftReport, featureDrift } from '../../shared/monitoring/drift';
import { summarizeValues, type WindowAggregates } from '../../shared/monitoring/window';
import {
  baselineOf,
  categoricalBaseline,
  categories,
  draw,
  golden,
  normals,
  numericBaseline,
} from '../helpers/monitoring-fixtures';

const SHARES = { red: 0.4, green: 0.3, blue: 0.2, black: 0.1 };
const NUMERIC = ['age', 'amount', 'score', 'visits'] as const;

/** Feature i ~ N(10·i, (i+1)²): different scales, so the std normalisation matters. */
const feature = (i: number, seed: number, shiftSigmas = 0) => {
  const z = normals(seed);
  return () => 10 * i + (i + 1) * (z() + shiftSigmas);
};

function baseline(): Baseline {
  const features: Record<string, ColumnBaseline> = {};
  NUMERIC.forEach((name, i) => (features[name] = numericBaseline(draw(200_000, feature(i, 100 + i)))));
  features.colour = categoricalBaseline(categories(200_000, SHARES, 99));
  return baselineOf({
    features,
    prediction: numericBaseline(draw(200_000, normals(5))),
    label: categoricalBaseline(categories(200_000, { '0': 0.7, '1': 0.3 }, 98)),
  });
}
const BASE = baseline();
const COLUMNS = featureColumns(BASE);

/** A window of n rows; `shift` moves one numeric feature by that many sigmas, `newColour` adds a share of an unseen category. */
function window(
  n: number,
  seed: number,
  opts: { shift?: { feature: number; sigmas: number }; newColour?: number } = {},
): WindowAggregates {
  const features: WindowAggregates['features'] = {};
  NUMERIC.forEach((name, i) => {
    const sigmas = opts.shift?.feature === i ? opts.shift.sigmas : 0;
    features[name] = summarizeValues(COLUMNS.get(name)!, draw(n, feature(i, seed + i, sigmas)), { seed });
  });
  const shares: Record<string, number> = opts.newColour
    ? {
        ...Object.fromEntries(Object.entries(SHARES).map(([k, v]) => [k, v * (1 - opts.newColour!)])),
        purple: opts.newColour,
      }
    : SHARES;
  features.colour = summarizeValues(COLUMNS.get('colour')!, categories(n, shares, seed + 50));
  return { rows: n, features };
}

const verdicts = (r: ReturnType<typeof driftReport>) =>
  Object.fromEntries(r.features.map((f) => [f.feature, f.status]));

describe('sample-size-aware drift decisions', () => {
  it('a 20-row window is "insufficient data" for every feature and for the dataset, even when shifted', () => {
    const r = driftReport(BASE, window(20, 1, { shift: { feature: 0, sigmas: 3 }, newColour: 0.5 }));
    expect(r.features.every((f) => f.status === 'insufficient_data' && f.method === undefined)).toBe(true);
    expect(r.dataset).toMatchObject({ status: 'insufficient_data', tested: 0, drifted: 0 });
  });

  it('a small window from the baseline distribution does not drift (KS and chi-square, Bonferroni over 5 features)', () => {
    const r = driftReport(BASE, window(500, 2));
    expect(verdicts(r)).toEqual({
      age: 'no_drift',
      amount: 'no_drift',
      score: 'no_drift',
      visits: 'no_drift',
      colour: 'no_drift',
    });
    expect(r.features.map((f) => f.method)).toEqual(['ks', 'ks', 'ks', 'ks', 'chi_square']);
    expect(r.alphaPerFeature).toBeCloseTo(0.05 / 5, 15);
    for (const f of r.features) expect(f.statistics.psi).toBeGreaterThanOrEqual(0);
  });

  it('a small window with a 0.5 sigma shift in one feature and a new category in another flags exactly those two', () => {
    const r = driftReport(BASE, window(500, 3, { shift: { feature: 1, sigmas: 0.5 }, newColour: 0.1 }));
    expect(verdicts(r)).toEqual({
      age: 'no_drift',
      amount: 'drift',
      score: 'no_drift',
      visits: 'no_drift',
      colour: 'drift',
    });
    const amount = r.features.find((f) => f.feature === 'amount')!;
    expect(amount.method).toBe('ks');
    expect(amount.score).toBeLessThan(1e-6);
    expect(amount.threshold).toBe(r.alphaPerFeature);
    expect(r.dataset).toMatchObject({ status: 'no_drift', tested: 5, drifted: 2, share: 0.4 });
  });

  it('a 1M-row window drawn from the baseline distribution raises nothing (effect sizes far below their thresholds)', () => {
    const r = driftReport(BASE, window(1_000_000, 4));
    expect(verdicts(r)).toEqual({
      age: 'no_drift',
      amount: 'no_drift',
      score: 'no_drift',
      visits: 'no_drift',
      colour: 'no_drift',
    });
    for (const f of r.features) {
      expect(f.method).toBe(f.kind === 'numeric' ? 'wasserstein' : 'jensen_shannon');
      expect(f.score!).toBeLessThan(f.threshold! / 3);
      expect(f.statistics.psi!).toBeLessThan(0.01);
    }
    expect(r.dataset.status).toBe('no_drift');
  });

  it('a large window with a 0.5 sigma shift and 10% of a new category flags both by effect size', () => {
    const r = driftReport(BASE, window(50_000, 5, { shift: { feature: 2, sigmas: 0.5 }, newColour: 0.1 }));
    expect(verdicts(r)).toEqual({
      age: 'no_drift',
      amount: 'no_drift',
      score: 'drift',
      visits: 'no_drift',
      colour: 'drift',
    });
    const score = r.features.find((f) => f.feature === 'score')!;
    // Wasserstein between N(0,1) and N(0.5,1) is 0.5 sigma; the sample estimates it.
    expect(score.score!).toBeGreaterThan(0.45);
    expect(score.score!).toBeLessThan(0.55);
    // PSI sees it too (reported, not deciding).
    expect(score.statistics.psi!).toBeGreaterThan(0.2);
  });

  it('dataset drift when at least half the features drift', () => {
    const base = window(50_000, 6, { shift: { feature: 0, sigmas: 1 }, newColour: 0.3 });
    const two = window(50_000, 7, { shift: { feature: 3, sigmas: 1 } });
    base.features.visits = two.features.visits!; // a third drifted feature
    const r = driftReport(BASE, base);
    expect(r.dataset).toMatchObject({ status: 'drift', tested: 5, drifted: 3, share: 0.6, threshold: 0.5 });
  });

  it('Bonferroni: a p-value between alpha/m and alpha drifts alone but not among 5 features', () => {
    // KS p = 0.0415 (scipy: ks_2samp(golden(300, 1000) + 0.08, golden(2000, 1), method='asymp')).
    const b = numericBaseline(golden(2000, 1), { sampleSize: 2000 });
    const w = summarizeValues(
      b,
      golden(300, 1000, (x) => x + 0.08),
    );
    const alone = featureDrift('x', b, w);
    expect(alone.score).toBeCloseTo(0.041466278784290544, 6);
    expect(alone.status).toBe('drift');
    const five = baselineOf({ features: { x: b, y: b, z: b, u: b, v: b }, prediction: b });
    const same = summarizeValues(b, golden(300, 1000));
    const r = driftReport(five, { rows: 300, features: { x: w, y: same, z: same, u: same, v: same } });
    expect(r.features[0]).toMatchObject({ feature: 'x', status: 'no_drift', threshold: 0.01 });
  });

  it('the prediction and the label are judged on their own, outside the features family', () => {
    const n = 50_000;
    const w = window(n, 8);
    const z = normals(9);
    w.prediction = summarizeValues(
      BASE.prediction,
      draw(n, () => z() + 1),
    ); // predictions moved by 1 sigma
    w.label = summarizeValues(BASE.label, categories(n, { '0': 0.5, '1': 0.5 }, 10));
    const r = driftReport(BASE, w);
    expect(r.prediction).toMatchObject({ feature: 'prediction', status: 'drift', method: 'wasserstein' });
    expect(r.prediction!.score!).toBeGreaterThan(0.9); // N(0,1) vs N(1,1): 1 sigma
    expect(r.prediction!.score!).toBeLessThan(1.1);
    expect(r.label).toMatchObject({ feature: 'label', status: 'drift', method: 'jensen_shannon' });
    expect(r.dataset).toMatchObject({ status: 'no_drift', tested: 5, drifted: 0 });
  });

  it('the policy is configurable and validated; a window that does not match its baseline is refused by name', () => {
    expect(DriftPolicySchema.parse({ minCount: 30 })).toEqual({ ...DEFAULT_DRIFT_POLICY, minCount: 30 });
    expect(() => DriftPolicySchema.parse({ smallWindowMax: 50_000 })).toThrow(/at most 10000/);
    const w = window(200, 11);
    expect(() => driftReport(BASE, { rows: 200, features: { height: w.features.age! } })).toThrow(
      /"height" is not in the baseline/,
    );
    expect(() => driftReport(BASE, { rows: 200, features: { age: w.features.colour! } })).toThrow(
      /"age": the baseline is numeric/,
    );
    const short = { ...w.features.age!, binCounts: [200] };
    expect(() => driftReport(BASE, { rows: 200, features: { age: short } })).toThrow(
      /"age": the window has 1 bin counts but the baseline has \d+ bins/,
    );
  });
});
