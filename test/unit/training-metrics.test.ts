import { describe, expect, it } from 'vitest';
import {
  accuracy,
  auc,
  binaryMetrics,
  brier,
  calibrationCurve,
  logLoss,
  mae,
  r2,
  regressionMetrics,
  rmse,
  LOG_LOSS_EPS,
} from '../../shared/training/metrics';
import { Random } from '../../shared/training/random';

/** AUC by definition: over every (positive, negative) pair, 1 if the positive scores higher, 1/2 on a tie. */
function pairwiseAuc(y: number[], p: number[]): number {
  let wins = 0;
  let pairs = 0;
  y.forEach((yi, i) => {
    if (yi !== 1) return;
    y.forEach((yj, j) => {
      if (yj !== 0) return;
      pairs++;
      wins += p[i]! > p[j]! ? 1 : p[i] === p[j] ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('AUC', () => {
  it('counts a tie between a positive and a negative as one half', () => {
    // positives 0.35, 0.8, 0.4; negatives 0.1, 0.4, 0.4
    // 0.35 beats 0.1 (1); 0.8 beats all three (3); 0.4 beats 0.1 and ties both 0.4s (1 + 0.5 + 0.5) -> 6 of 9
    expect(auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.4, 0.4])).toBeCloseTo(6 / 9, 12);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, 1/2 when every score is equal', () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).toBe(1);
    expect(auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])).toBe(0);
    expect(auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });

  it('agrees with the pairwise definition on data with many ties', () => {
    const rng = new Random(7);
    const y = Array.from({ length: 400 }, () => (rng.next() < 0.3 ? 1 : 0));
    const p = y.map((v) => Math.round((rng.next() + v * 0.3) * 10) / 10);
    expect(auc(y, p)).toBeCloseTo(pairwiseAuc(y, p), 12);
  });

  it('is null when only one class is present', () => {
    expect(auc([1, 1], [0.2, 0.9])).toBeNull();
    expect(auc([0, 0], [0.2, 0.9])).toBeNull();
  });
});

describe('log loss, accuracy, Brier', () => {
  it('match the hand-computed values', () => {
    const y = [1, 0, 1];
    const p = [0.9, 0.2, 0.6];
    // -(ln 0.9 + ln 0.8 + ln 0.6) / 3
    expect(logLoss(y, p)).toBeCloseTo((0.10536051565782628 + 0.2231435513142097 + 0.5108256237659907) / 3, 12);
    // (0.1² + 0.2² + 0.4²) / 3
    expect(brier(y, p)).toBeCloseTo(0.07, 12);
    expect(accuracy(y, p)).toBe(1);
    // 0.5 counts as class 1: rows 2 and 3 are wrong
    expect(accuracy([1, 0, 0, 1], [0.7, 0.5, 0.8, 0.1])).toBe(0.25);
  });

  it('clips probabilities so a confident mistake costs -ln(1e-15), not infinity', () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(LOG_LOSS_EPS), 9);
    // 1 - 1e-15 is not exact in float64, so the other side is -ln(1.11e-15)
    expect(logLoss([0], [1])).toBeCloseTo(-Math.log(LOG_LOSS_EPS), 2);
  });
});

describe('calibration curve', () => {
  it('bins predictions in tenths with the mean prediction and the share of positives', () => {
    const bins = calibrationCurve([0, 1, 0, 1, 1], [0.05, 0.15, 0.12, 0.95, 1], 10);
    expect(bins).toHaveLength(10);
    expect(bins[0]).toEqual({ lower: 0, upper: 0.1, count: 1, meanPredicted: 0.05, fractionPositive: 0 });
    expect(bins[1]!.count).toBe(2);
    expect(bins[1]!.meanPredicted).toBeCloseTo(0.135, 12);
    expect(bins[1]!.fractionPositive).toBe(0.5);
    // 1.0 falls in the last bin
    expect(bins[9]).toMatchObject({ count: 2, fractionPositive: 1 });
    expect(bins[9]!.meanPredicted).toBeCloseTo(0.975, 12);
    expect(bins[5]).toMatchObject({ count: 0, meanPredicted: null, fractionPositive: null });
  });
});

describe('regression metrics', () => {
  it('RMSE, MAE and R² match the hand-computed values', () => {
    const y = [1, 2, 3, 4];
    const p = [1.5, 2, 2, 5];
    // errors 0.5, 0, -1, 1: MSE 2.25 / 4; SS_tot around 2.5 = 5
    expect(rmse(y, p)).toBeCloseTo(0.75, 12);
    expect(mae(y, p)).toBeCloseTo(0.625, 12);
    expect(r2(y, p)).toBeCloseTo(1 - 2.25 / 5, 12);
    expect(regressionMetrics(y, p)).toEqual({
      task: 'regression',
      rows: 4,
      rmse: rmse(y, p),
      mae: mae(y, p),
      r2: r2(y, p),
    });
  });

  it('R² of constant labels is 1 for exact predictions and 0 otherwise (as scikit-learn)', () => {
    expect(r2([3, 3], [3, 3])).toBe(1);
    expect(r2([3, 3], [3, 4])).toBe(0);
  });
});

describe('binary metrics together', () => {
  it('reports rows, positives and every metric', () => {
    const m = binaryMetrics([1, 0, 1, 0], [0.8, 0.3, 0.4, 0.6]);
    expect(m).toMatchObject({ task: 'binary', rows: 4, positives: 2, auc: 0.75, accuracy: 0.5 });
    expect(m.brier).toBeCloseTo((0.04 + 0.09 + 0.36 + 0.36) / 4, 12);
    expect(m.calibration.reduce((s, b) => s + b.count, 0)).toBe(4);
  });
});
