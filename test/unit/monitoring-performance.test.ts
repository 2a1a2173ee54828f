/**
 * Realized performance against scikit-learn, and the confidence-based estimate against the
 * realized values on calibrated synthetic data.
 *
 * References: Debian's python3-sklearn 1.2.1 (/usr/bin/python3), on the inputs below:
 *   PHI = 0.6180339887498949; g = lambda i: (i * PHI) % 1.0
 *   p = [(floor(g(i + 1) * 17) + 0.37) / 17.5 for i in range(200)]      # 17 tied values, none on a bin edge
 *   y = [1 if g(i * i + 500) < p[i] else 0 for i in range(200)]
 *   roc_auc_score(y, p), accuracy_score(y, p >= 0.5), log_loss(y, p), brier_score_loss(y, p)
 *   calibration_curve(y, p, n_bins=10) -> ECE = sum(count * |prob_true - prob_pred|) / n
 *   yr = [g(i + 1) * 10 ...]; pr = [yr[i] + g(i + 300) - 0.5 ...]: mean_squared_error (sqrt), mean_absolute_error, r2_score
 */
import { describe, expect, it } from 'vitest';
import { estimatePerformance, scoreHistogram } from '../../shared/monitoring/performance-estimated';
import { calibrationError, realizedPerformance } from '../../shared/monitoring/performance-realized';
import { auc, binaryMetrics } from '../../shared/training/metrics';
import { mulberry32 } from '../../shared/monitoring/window';
import { golden, normals } from '../helpers/monitoring-fixtures';

const n = 200;
const p = golden(n, 1, (x) => (Math.floor(x * 17) + 0.37) / 17.5);
const u = Array.from({ length: n }, (_, i) => ((i * i + 500) * 0.6180339887498949) % 1);
const y = p.map((pi, i) => (u[i]! < pi ? 1 : 0));

describe('realized performance', () => {
  it("binary metrics (training's functions, through the window) match scikit-learn (ties in the scores)", () => {
    expect(y.reduce<number>((a, b) => a + b, 0)).toBe(103);
    const m = realizedPerformance({ task: 'binary', labels: y, predictions: p, windowPredictions: n }).metrics;
    expect(m.auc).toBeCloseTo(0.7900610549494546, 12);
    expect(m.accuracy).toBeCloseTo(0.7, 12);
    expect(m.logLoss).toBeCloseTo(0.5527366324552407, 12);
    expect(m.brier).toBeCloseTo(0.1882801632653061, 12);
    expect(m.calibrationError).toBeCloseTo(0.06576571428571422, 12);
    expect(calibrationError(binaryMetrics(y, p).calibration)).toBe(m.calibrationError);
  });

  it('AUC by hand: the scikit-learn docs example, ties count one half, one class has none', () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 15);
    expect(auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])).toBeCloseTo((1 + 0.5 + 1 + 1) / 4, 15);
    expect(auc([1, 1], [0.2, 0.3])).toBeNull();
  });

  it('regression metrics match scikit-learn', () => {
    const yr = golden(n, 1, (x) => x * 10);
    const pr = yr.map((v, i) => v + (((i + 300) * 0.6180339887498949) % 1) - 0.5);
    const m = realizedPerformance({ task: 'regression', labels: yr, predictions: pr, windowPredictions: n }).metrics;
    expect(m.rmse).toBeCloseTo(0.28797141268273263, 12);
    expect(m.mae).toBeCloseTo(0.24916407864998816, 12);
    expect(m.r2).toBeCloseTo(0.9900018075511782, 12);
  });

  it('reports the share of the window labelled, and no metrics without labels', () => {
    const r = realizedPerformance({ task: 'binary', labels: y, predictions: p, windowPredictions: 800 });
    expect(r).toMatchObject({ kind: 'realized', task: 'binary', predictions: 800, labelled: 200, labelledShare: 0.25 });
    expect(r.metrics.auc).toBeCloseTo(0.7900610549494546, 12);
    expect(realizedPerformance({ task: 'regression', labels: [], predictions: [], windowPredictions: 10 })).toEqual({
      kind: 'realized',
      task: 'regression',
      predictions: 10,
      labelled: 0,
      labelledShare: 0,
      metrics: {},
    });
  });
});

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const logit = (s: number) => Math.log(s / (1 - s));

/** Predictions whose true positive probability is sigmoid(z), z ~ N(mean, sd); the model reports `score(z)`. */
function synthetic(count: number, seed: number, mean: number, sd: number, score: (z: number) => number) {
  const z = normals(seed);
  const coin = mulberry32(seed + 1);
  const scores = new Float64Array(count);
  const labels = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const zi = mean + sd * z();
    scores[i] = score(zi);
    labels[i] = coin() < sigmoid(zi) ? 1 : 0;
  }
  return { scores, labels };
}

/** The estimate's stated tolerance against realized values, on 100,000 predictions. */
const TOLERANCE = { auc: 0.01, accuracy: 0.01, logLoss: 0.01, brier: 0.005 };

function expectWithin(est: ReturnType<typeof estimatePerformance>, real: ReturnType<typeof realizedPerformance>) {
  for (const k of Object.keys(TOLERANCE) as Array<keyof typeof TOLERANCE>) {
    expect(
      Math.abs((est.metrics[k] as number) - (real.metrics[k] as number)),
      `${k}: estimated ${est.metrics[k]} vs realized ${real.metrics[k]}`,
    ).toBeLessThanOrEqual(TOLERANCE[k]);
  }
}

describe('estimated performance (confidence-based, as NannyML CBPE)', () => {
  it('on calibrated scores the estimate is within the stated tolerance of realized, before and after a covariate shift', () => {
    for (const [mean, sd, seed] of [
      [0, 1.5, 1],
      [1.2, 0.8, 2],
      [-2, 2.5, 3],
    ] as const) {
      const { scores, labels } = synthetic(100_000, seed, mean, sd, sigmoid);
      const est = estimatePerformance({ histogram: scoreHistogram(scores) });
      const real = realizedPerformance({
        task: 'binary',
        labels,
        predictions: scores,
        windowPredictions: scores.length,
      });
      expect(est).toMatchObject({ kind: 'estimated', task: 'binary', predictions: 100_000, labelled: 100_000 });
      expectWithin(est, real);
    }
  });

  it('an overconfident model is estimated right through the baseline calibration map, and wrong without it', () => {
    // The model reports sigmoid(2z) but the truth is sigmoid(z): calibrated p = sigmoid(logit(s) / 2).
    const { scores, labels } = synthetic(100_000, 4, 0.5, 1.5, (z) => sigmoid(2 * z));
    // The map as a holdout fit would give it: points spread over the model's score range (in logit steps of 0.25).
    const grid = Array.from({ length: 57 }, (_, i) => sigmoid(2 * (-7 + i * 0.25)));
    const calibration = { scores: grid, probabilities: grid.map((s) => sigmoid(logit(s) / 2)) };
    const real = realizedPerformance({ task: 'binary', labels, predictions: scores, windowPredictions: scores.length });
    expectWithin(estimatePerformance({ histogram: scoreHistogram(scores), calibration }), real);
    const naive = estimatePerformance({ histogram: scoreHistogram(scores) });
    expect((naive.metrics.accuracy as number) - (real.metrics.accuracy as number)).toBeGreaterThan(0.03);
  });

  it('counts what it estimated from and gives no metrics for an empty window', () => {
    const est = estimatePerformance({ histogram: scoreHistogram([0.1, 0.9, NaN]), windowPredictions: 4 });
    expect(est).toMatchObject({ labelled: 2, predictions: 4, labelledShare: 0.5 });
    // Two predictions, one at 0.1 and one at 0.9: expected accuracy = (0.9 + 0.9) / 2 (bin midpoints 0.1005, 0.9005).
    expect(est.metrics.accuracy).toBeCloseTo((1 - 0.1005 + 0.9005) / 2, 12);
    expect(estimatePerformance({ histogram: { counts: new Array(1000).fill(0) } }).metrics).toEqual({});
  });
});
