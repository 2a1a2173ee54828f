import { describe, expect, it } from 'vitest';
import { gbdtTrainer } from '../../shared/training/gbdt/trainer';
import { logisticTrainer } from '../../shared/training/logistic';
import { binDense } from '../../shared/training/bins';
import { denseData } from '../../shared/training/data';
import { auc, r2, rmse } from '../../shared/training/metrics';
import { ValidationError } from '../../shared/errors';
import {
  fitContext,
  regressionSet,
  rowsOf,
  withMissing,
  xorSet,
  type SyntheticSet,
  maxAbsDiff,
} from '../helpers/training-fixtures';

const dense = (s: SyntheticSet) => denseData(s.features, s.x, s.y);
const gbdt = (
  s: SyntheticSet,
  params: unknown = {},
  o: { seed?: number; threads?: number; task?: 'binary' | 'regression' } = {},
) =>
  gbdtTrainer.fit(
    dense(s),
    gbdtTrainer.parseParams(params),
    fitContext(o.task ?? 'binary', o.seed ?? 1, o.threads ?? 1),
  );
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('gradient-boosted trees, binary', () => {
  const data = xorSet(24_000, 21);
  const train = rowsOf(data, 0, 20_000);
  const holdout = rowsOf(data, 20_000, 24_000);

  it('beats logistic regression on an XOR-like interaction by a clear AUC margin', () => {
    const trees = gbdt(train, { trees: 60, maxDepth: 4, learningRate: 0.2 });
    const linear = logisticTrainer.fit(dense(train), logisticTrainer.parseParams({}), fitContext('binary'));
    const aTrees = auc(holdout.y, trees.predict(holdout.x, holdout.n))!;
    const aLinear = auc(holdout.y, linear.predict(holdout.x, holdout.n))!;
    // The Bayes AUC of this signal is 0.9; a linear model cannot see x0·x1.
    expect(aTrees).toBeGreaterThan(0.85);
    expect(aLinear).toBeLessThan(0.6);
    expect(aTrees - aLinear).toBeGreaterThan(0.25);
  });

  it('reports progress as trees built out of the total, and per-tree loss curves', () => {
    const ctx = fitContext('binary');
    const m = gbdtTrainer.fit(dense(train), gbdtTrainer.parseParams({ trees: 12 }), ctx);
    expect(ctx.reports.map((r) => r.done)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(ctx.reports.every((r) => r.total === 12 && r.unit === 'trees')).toBe(true);
    expect(m.curves.train).toHaveLength(12);
    expect(m.curves.train.at(-1)!).toBeLessThan(m.curves.train[0]!);
  });

  it('is deterministic for a seed, with row and column subsampling', () => {
    const p = { trees: 6, subsample: 0.7, colsample: 0.6 };
    expect(same(gbdt(train, p, { seed: 3 }).onnx, gbdt(train, p, { seed: 3 }).onnx)).toBe(true);
    expect(same(gbdt(train, p, { seed: 3 }).onnx, gbdt(train, p, { seed: 4 }).onnx)).toBe(false);
  });

  it('keeps every tree within the depth and leaf limits', () => {
    const m = gbdt(train, { trees: 5, maxDepth: 8, maxLeaves: 5 });
    expect(m.summary.leaves as number).toBeLessThanOrEqual(5 * 5);
    const depthOf = (n: any): number => ('leaf' in n ? 0 : 1 + Math.max(depthOf(n.left), depthOf(n.right)));
    const d3 = gbdt(train, { trees: 3, maxDepth: 3 });
    expect(depthOf(d3.summary.firstTree)).toBeLessThanOrEqual(3);
    expect(d3.summary.leaves as number).toBeLessThanOrEqual(3 * 8);
  });

  it('stops early when the validation loss stops improving and keeps the best trees', () => {
    // Pure noise labels: every tree after the first few only overfits.
    const noisy = { ...train, y: train.y.map((_, i) => ((i * 7919) % 13 < 6 ? 1 : 0)) };
    const m = gbdt(noisy, {
      trees: 300,
      learningRate: 0.5,
      maxDepth: 6,
      validationFraction: 0.25,
      earlyStoppingRounds: 5,
    });
    const built = m.summary.treesBuilt as number;
    const kept = m.summary.treesKept as number;
    expect(built).toBeLessThan(300);
    expect(built - kept).toBe(5);
    expect(m.curves.bestIteration).toBe(kept);
    expect(Math.min(...m.curves.validation)).toBe(m.curves.validation[kept - 1]);
    expect(m.validationRows).toBe(5_000);
  });

  it('predicts on bins exactly what it predicts on floats (training predictions = predict on the same rows)', () => {
    const withNa = withMissing(train, 1, 0.1, 5);
    const m = gbdt(withNa, { trees: 8, validationFraction: 0.1 });
    const p = m.predict(withNa.x, withNa.n);
    expect(maxAbsDiff(p, m.trainPredictions)).toBeLessThan(1e-12);
  });

  it('on two threads gives a model as good, reproducible for the seed', () => {
    const one = gbdt(train, { trees: 10, learningRate: 0.3 }, { threads: 1 });
    const two = gbdt(train, { trees: 10, learningRate: 0.3 }, { threads: 2 });
    const again = gbdt(train, { trees: 10, learningRate: 0.3 }, { threads: 2 });
    expect(same(two.onnx, again.onnx)).toBe(true);
    const a1 = auc(holdout.y, one.predict(holdout.x, holdout.n))!;
    const a2 = auc(holdout.y, two.predict(holdout.x, holdout.n))!;
    expect(Math.abs(a1 - a2)).toBeLessThan(0.005);
  });
});

describe('missing values', () => {
  // x0 carries the signal (y = 1 when x0 > 0); where x0 is missing, y is 1: those rows are like high x0.
  function missingIsHigh(n: number, seed: number): SyntheticSet {
    const base = withMissing(xorSet(n, seed, 2), 0, 0.15, seed);
    const F = base.features.length;
    const y = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const v = base.x[r * F]!;
      y[r] = Number.isNaN(v) || v > 0 ? 1 : 0;
    }
    return { ...base, y };
  }

  it('go the learned default direction: with the rows they looked like in training', () => {
    const m = gbdt(missingIsHigh(10_000, 8), { trees: 10, maxDepth: 2, learningRate: 0.5 });
    const row = (x0: number) => Float32Array.from([x0, 0.5, 0.1, 0.2]);
    const pMissing = m.predict(row(Number.NaN), 1)[0]!;
    expect(pMissing).toBeGreaterThan(0.9);
    expect(pMissing).toBeCloseTo(m.predict(row(0.9), 1)[0]!, 6);
    const root = m.summary.firstTree as { feature: string; missing: string; lessThan: number };
    expect(root.feature).toBe('f0');
    expect(root.missing).toBe('right');
  });

  it('learn the other direction when missing rows look like low values', () => {
    const s = missingIsHigh(10_000, 9);
    const F = s.features.length;
    const flipped = { ...s, y: s.y.map((v, r) => (Number.isNaN(s.x[r * F]!) ? 0 : v)) };
    const m = gbdt(flipped, { trees: 10, maxDepth: 2, learningRate: 0.5 });
    expect(m.predict(Float32Array.from([Number.NaN, 0.5, 0.1, 0.2]), 1)[0]!).toBeLessThan(0.1);
    expect((m.summary.firstTree as { missing: string }).missing).toBe('left');
  });

  it('never seen in training go to the child with more rows', () => {
    const s = xorSet(5_000, 10, 0);
    const F = s.features.length;
    // y = 1 only for the top 20% of x0: the big child is the left (low) one.
    const y = s.y.map((_, r) => (s.x[r * F]! > 0.6 ? 1 : 0));
    const m = gbdt({ ...s, y }, { trees: 1, maxDepth: 1, learningRate: 1 });
    const root = m.summary.firstTree as { missing: string };
    expect(root.missing).toBe('left');
    expect(m.predict(Float32Array.from([Number.NaN, 0]), 1)[0]!).toBeCloseTo(
      m.predict(Float32Array.from([-0.5, 0]), 1)[0]!,
      9,
    );
  });
});

describe('gradient-boosted trees, regression', () => {
  const data = regressionSet(25_000, 31);
  const train = rowsOf(data, 0, 20_000);
  const holdout = rowsOf(data, 20_000, 25_000);

  it('fits a smooth non-linear function: R² > 0.95 and RMSE near the noise', () => {
    const m = gbdt(train, { trees: 100, learningRate: 0.2, maxDepth: 5 }, { task: 'regression' });
    const p = m.predict(holdout.x, holdout.n);
    expect(r2(holdout.y, p)).toBeGreaterThan(0.95);
    expect(rmse(holdout.y, p)).toBeLessThan(0.35);
    expect(m.curves.loss).toBe('rmse');
    expect(m.output).toEqual({ name: 'variable', column: 0, meaning: 'predicted value' });
  });

  it('starts from the mean: one shallow tree with a tiny learning rate predicts about the mean', () => {
    const m = gbdt(train, { trees: 1, learningRate: 0.001, maxDepth: 1 }, { task: 'regression' });
    const mean = train.y.reduce((s, v) => s + v, 0) / train.n;
    expect(m.predict(holdout.x, 1)[0]!).toBeCloseTo(mean, 2);
  });
});

describe('params', () => {
  it('are validated with the failing field named', () => {
    try {
      gbdtTrainer.parseParams({ maxBins: 300, subsample: 0, maxLeaves: 1 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details.map((d) => d.where).sort()).toEqual([
        'params.maxBins',
        'params.maxLeaves',
        'params.subsample',
      ]);
    }
  });

  it('can be few bins: every split is on one of them', () => {
    const s = regressionSet(3_000, 4, 0);
    const b = binDense(dense(s), { maxBins: 8 });
    expect(b.cuts.every((c) => c.length <= 7)).toBe(true);
    const m = gbdtTrainer.fit(b, gbdtTrainer.parseParams({ trees: 3, maxBins: 8 }), fitContext('regression'));
    const root = m.summary.firstTree as { lessThan: number; feature: string };
    expect(Array.from(b.cuts[Number(root.feature.slice(1))]!)).toContain(root.lessThan);
  });
});
