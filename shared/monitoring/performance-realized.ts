/**
 * Realized performance: metrics over the window's predictions that have a label, in one pass
 * each for the classification and the regression metrics (a window can hold a million
 * labelled rows). Conventions match scikit-learn and training's evaluation: AUC counts ties one
 * half, log loss clips scores to [1e-15, 1 - 1e-15], accuracy predicts 1 at score >= 0.5,
 * calibration uses 10 equal-width bins [k/10, (k+1)/10) with 1 in the last.
 *
 * Training computes the same metrics on its holdout (shared/training/metrics.ts on the
 * training branch, one function per metric). When both are merged, one implementation should
 * serve both (see the report to the lead); the window-specific part here is
 * `realizedPerformance`: coverage (share labelled) and the shared result shape.
 */
import type { PerformanceResult, PerformanceTask } from './performance';

type Values = ArrayLike<number>;
export const LOG_LOSS_EPS = 1e-15;
export const CALIBRATION_BINS = 10;

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  meanPredicted: number | null;
  fractionPositive: number | null;
}

export interface ClassificationMetrics {
  auc: number | null;
  accuracy: number;
  logLoss: number;
  brier: number;
  calibration: CalibrationBin[];
  /** Expected calibration error: count-weighted mean |mean score - positive rate| over the bins. */
  calibrationError: number;
}

export interface RegressionMetrics {
  rmse: number;
  mae: number;
  /** 1 - SS_res / SS_tot; with constant labels 1 when every prediction is exact, else 0 (as scikit-learn). */
  r2: number;
}

function sameLength(y: Values, p: Values): void {
  if (y.length !== p.length) throw new RangeError(`${y.length} labels but ${p.length} predictions`);
  if (y.length === 0) throw new RangeError('no labelled predictions');
}

/** Mann–Whitney AUC from ranks (runs of equal scores share their mean rank); null with one class. */
export function auc(y: Values, p: Values): number | null {
  sameLength(y, p);
  const order = Uint32Array.from({ length: y.length }, (_, i) => i).sort((a, b) => p[a]! - p[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    let runPositives = 0;
    while (j < order.length && p[order[j]!] === p[order[i]!]) runPositives += y[order[j++]!] === 1 ? 1 : 0;
    rankSum += runPositives * ((i + 1 + j) / 2);
    positives += runPositives;
    i = j;
  }
  const negatives = y.length - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function classificationMetrics(y: Values, p: Values, threshold = 0.5): ClassificationMetrics {
  sameLength(y, p);
  const bins = CALIBRATION_BINS;
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  let correct = 0;
  let loss = 0;
  let squared = 0;
  for (let i = 0; i < y.length; i++) {
    const label = y[i] === 1 ? 1 : 0;
    const s = p[i]!;
    if ((s >= threshold ? 1 : 0) === label) correct++;
    const q = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, s));
    loss -= label ? Math.log(q) : Math.log(1 - q);
    squared += (s - label) ** 2;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(s * bins)));
    count[b]!++;
    sumP[b]! += s;
    sumY[b]! += label;
  }
  const n = y.length;
  const calibration: CalibrationBin[] = [];
  let gap = 0;
  for (let b = 0; b < bins; b++) {
    const c = count[b]!;
    calibration.push({ lower: b / bins, upper: (b + 1) / bins, count: c, meanPredicted: c ? sumP[b]! / c : null, fractionPositive: c ? sumY[b]! / c : null });
    if (c) gap += Math.abs(sumP[b]! - sumY[b]!);
  }
  return { auc: auc(y, p), accuracy: correct / n, logLoss: loss / n, brier: squared / n, calibration, calibrationError: gap / n };
}

export function regressionMetrics(y: Values, p: Values): RegressionMetrics {
  sameLength(y, p);
  const n = y.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i]!;
  mean /= n;
  let squared = 0;
  let absolute = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = p[i]! - y[i]!;
    squared += e * e;
    absolute += Math.abs(e);
    total += (y[i]! - mean) ** 2;
  }
  return { rmse: Math.sqrt(squared / n), mae: absolute / n, r2: total === 0 ? (squared === 0 ? 1 : 0) : 1 - squared / total };
}

export interface RealizedInput {
  task: PerformanceTask;
  /** Labels of the labelled predictions (0/1 for binary). */
  labels: Values;
  /** Their predictions (binary: the score of class 1), in the same order. */
  predictions: Values;
  /** Predictions in the window, labelled or not. */
  windowPredictions: number;
  /** Binary: the score at and above which the predicted class is 1 (default 0.5). */
  threshold?: number;
}

export function realizedPerformance(input: RealizedInput): PerformanceResult {
  const { task, labels: y, predictions: p, windowPredictions } = input;
  if (y.length !== p.length) throw new RangeError(`${y.length} labels but ${p.length} predictions`);
  const labelled = y.length;
  const base = { kind: 'realized' as const, task, predictions: windowPredictions, labelled, labelledShare: windowPredictions > 0 ? labelled / windowPredictions : 0 };
  if (labelled === 0) return { ...base, metrics: {} };
  if (task === 'regression') return { ...base, metrics: regressionMetrics(y, p) };
  const m = classificationMetrics(y, p, input.threshold);
  return { ...base, metrics: { auc: m.auc, accuracy: m.accuracy, logLoss: m.logLoss, brier: m.brier, calibrationError: m.calibrationError } };
}
