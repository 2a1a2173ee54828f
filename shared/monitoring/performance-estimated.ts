/**
 * Estimated performance before labels arrive: confidence-based performance estimation, as
 * NannyML's CBPE does. If a binary classifier's scores are calibrated (after the baseline's
 * calibration map, when it has one), a prediction with calibrated probability c is a positive
 * with chance c, so every confusion-matrix cell, and every metric built from them, has an
 * expected value computable without labels. As in NannyML: expected accuracy is the mean of
 * c for predicted positives and 1 - c for predicted negatives; expected AUC uses the expected
 * true and false positives at every threshold (c and 1 - c accumulated from the highest score
 * down); expected log loss and Brier score take the label as Bernoulli(c).
 *
 * It works on a histogram of scores (fine equal-width bins over [0, 1], counted by DuckDB over
 * all rows of a window) rather than on every score, so its cost does not grow with the window;
 * scores in one bin are one tie, and the bin's midpoint stands for them. The estimate is only
 * as good as the calibration: it tracks performance changes caused by covariate shift, not
 * by a changed relation between features and label (concept drift), which needs labels.
 */
import { calibrate, type CalibrationMap } from './baseline';
import { LOG_LOSS_EPS } from '../training/metrics';
import type { PerformanceResult } from './performance';

/**
 * Scores counted in `counts.length` equal-width bins of [0, 1]: bin k holds k/K <= s < (k+1)/K,
 * and 1 falls in the last; scores outside [0, 1], the infinities too, count in the end bins
 * and NaN is missing.
 */
export interface ScoreHistogram {
  counts: number[];
}

export const SCORE_BINS = 1000;

/** The bin of a score in a histogram of `bins` bins (scores outside [0, 1] are clamped). */
export function scoreBin(score: number, bins = SCORE_BINS): number {
  return Math.min(bins - 1, Math.max(0, Math.floor(score * bins)));
}

export function scoreHistogram(scores: ArrayLike<number>, bins = SCORE_BINS): ScoreHistogram {
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!Number.isNaN(s)) counts[scoreBin(s, bins)]!++;
  }
  return { counts };
}

export interface EstimateInput {
  histogram: ScoreHistogram;
  /** The baseline's calibration map; absent = scores are calibrated as they are. */
  calibration?: CalibrationMap;
  /** Predictions in the window (default: the histogram's total). */
  windowPredictions?: number;
  /** The predicted class is 1 at and above this score (default 0.5; best on a bin edge). */
  threshold?: number;
}

export function estimatePerformance(input: EstimateInput): PerformanceResult {
  const { counts } = input.histogram;
  const K = counts.length;
  const threshold = input.threshold ?? 0.5;
  let n = 0;
  let correct = 0;
  let loss = 0;
  let brier = 0;
  const positives = new Float64Array(K);
  const negatives = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const m = counts[k]!;
    if (!m) continue;
    const s = (k + 0.5) / K;
    const c = calibrate(input.calibration, s);
    const q = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, s));
    n += m;
    correct += m * (s >= threshold ? c : 1 - c);
    loss += m * -(c * Math.log(q) + (1 - c) * Math.log(1 - q));
    brier += m * (c * (1 - s) ** 2 + (1 - c) * s ** 2);
    positives[k] = m * c;
    negatives[k] = m * (1 - c);
  }
  const windowPredictions = input.windowPredictions ?? n;
  const base = {
    kind: 'estimated' as const,
    task: 'binary' as const,
    predictions: windowPredictions,
    labelled: n,
    labelledShare: windowPredictions > 0 ? n / windowPredictions : 0,
  };
  if (n === 0) return { ...base, metrics: {} };
  return {
    ...base,
    metrics: { auc: expectedAuc(positives, negatives), accuracy: correct / n, logLoss: loss / n, brier: brier / n },
  };
}

/** The area under the ROC curve of expected counts: negatives below count 1, in the same bin 1/2. */
function expectedAuc(positives: Float64Array, negatives: Float64Array): number | null {
  let totalPos = 0;
  let totalNeg = 0;
  for (let k = 0; k < positives.length; k++) {
    totalPos += positives[k]!;
    totalNeg += negatives[k]!;
  }
  if (totalPos <= 0 || totalNeg <= 0) return null;
  let negBelow = 0;
  let wins = 0;
  for (let k = 0; k < positives.length; k++) {
    wins += positives[k]! * (negBelow + negatives[k]! / 2);
    negBelow += negatives[k]!;
  }
  return wins / (totalPos * totalNeg);
}
