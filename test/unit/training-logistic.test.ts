import { describe, expect, it } from 'vitest';
import { logisticTrainer } from '../../shared/training/logistic';
import { denseData } from '../../shared/training/data';
import { auc } from '../../shared/training/metrics';
import { ValidationError } from '../../shared/errors';
import {
  fitContext,
  linearSet,
  rowsOf,
  withMissing,
  type SyntheticSet,
  maxAbsDiff,
} from '../helpers/training-fixtures';

const dense = (s: SyntheticSet) => denseData(s.features, s.x, s.y);
const fit = (s: SyntheticSet, params: unknown = {}, seed = 1) =>
  logisticTrainer.fit(dense(s), logisticTrainer.parseParams(params), fitContext('binary', seed));

// Features on very different scales and offsets: the exported raw-scale weight is w / scale.
const WEIGHTS = [1.2, -0.8, 0.5, -1.5, 0.3, 0.9];
const SCALE = [1, 100, 0.01, 5, 1, 20];
const SHIFT = [0, 1000, 0, -3, 7, 0];
const rawWeights = WEIGHTS.map((w, j) => w / SCALE[j]!);

describe('logistic regression', () => {
  const data = linearSet(
    60_000,
    WEIGHTS.map((w, j) => w / SCALE[j]!),
    11,
    { bias: -0.4 - WEIGHTS.reduce((s, w, j) => s + (w * SHIFT[j]!) / SCALE[j]!, 0), scale: SCALE, shift: SHIFT },
  );
  const train = rowsOf(data, 0, 50_000);
  const holdout = rowsOf(data, 50_000, 60_000);
  const model = fit(train);

  it('reaches AUC > 0.85 on held-out rows of a known linear signal', () => {
    expect(auc(holdout.y, model.predict(holdout.x, holdout.n))).toBeGreaterThan(0.85);
  });

  it('recovers the sign of every weight, and its size on the raw scale within 10%', () => {
    const w = model.summary.weights as Record<string, number>;
    train.features.forEach((f, j) => {
      expect(Math.sign(w[f]!)).toBe(Math.sign(rawWeights[j]!));
      expect(Math.abs(w[f]! - rawWeights[j]!)).toBeLessThan(0.1 * Math.abs(rawWeights[j]!));
    });
  });

  it('the warm start on a subsample lands on the same optimum as exact Newton on all rows', () => {
    const exact = fit(train, { warmStartRows: 0 });
    const fast = fit(train, { warmStartRows: 5_000 });
    expect(fast.summary.warmStartIterations).toBeGreaterThan(0);
    expect(exact.summary.warmStartIterations).toBe(0);
    const a = exact.predict(holdout.x, holdout.n);
    const b = fast.predict(holdout.x, holdout.n);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });

  it('the training loss curve goes down and ends at the fitted loss', () => {
    const c = model.curves.train;
    expect(c.length).toBeGreaterThan(1);
    for (let i = 1; i < c.length; i++) expect(c[i]!).toBeLessThanOrEqual(c[i - 1]! + 1e-9);
    expect(model.curves.loss).toBe('logLoss');
  });

  it('the L2 penalty shrinks the weights', () => {
    const small = rowsOf(train, 0, 2_000);
    const loose = fit(small, { l2: 0 }).summary.standardisedWeights as Record<string, number>;
    const tight = fit(small, { l2: 2_000 }).summary.standardisedWeights as Record<string, number>;
    const norm = (w: Record<string, number>) => Math.hypot(...Object.values(w));
    expect(norm(tight)).toBeLessThan(0.5 * norm(loose));
  });

  it('gives the same model for the same seed and data', () => {
    expect(Buffer.from(fit(train, {}, 5).onnx).equals(Buffer.from(fit(train, {}, 5).onnx))).toBe(true);
  });

  it('fills a missing value with the training mean: the prediction equals the one at the mean', () => {
    const m = withMissing(train, 0, 0.2, 3);
    const fitted = fit(m);
    const mean = (fitted.summary.mean as Record<string, number>).f0!;
    const row = Float32Array.from([Number.NaN, 1000, 0, -3, 7, 0]);
    const atMean = Float32Array.from([mean, 1000, 0, -3, 7, 0]);
    expect(fitted.predict(row, 1)[0]).toBeCloseTo(fitted.predict(atMean, 1)[0]!, 6);
  });

  it('holds out the newest rows for a validation curve when asked', () => {
    const v = fit(train, { validationFraction: 0.2 });
    expect(v.validationRows).toBe(10_000);
    expect(v.curves.validation).toHaveLength(v.curves.train.length);
  });

  it('refuses invalid params naming the field', () => {
    try {
      logisticTrainer.parseParams({ l2: -1, bogus: 1 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      const where = (e as ValidationError).details.map((d) => d.where);
      expect(where).toContain('params.l2');
      expect(where.join(' ')).toContain('params');
    }
  });

  it('refuses regression', () => {
    expect(() => logisticTrainer.fit(dense(train), logisticTrainer.parseParams({}), fitContext('regression'))).toThrow(
      /binary classification/,
    );
  });
});
