/**
 * Evaluation metrics, the ones a model card and a promotion gate quote: for binary
 * classification AUC (ties count one half, the Mann-Whitney form), log loss, accuracy at
 * 0.5, Brier score and a calibration curve; for regression RMSE, MAE and R². Inputs are
 * typed arrays of labels and predictions (probabilities of class 1, or values); results are
 * plain JSON (a metric that is undefined for the data, e.g. AUC with one class, is null).
 */
import type { Task } from './data';

export interface CalibrationBin {
  /** Predictions p with lower <= p < upper (the last bin includes 1). */
  lower: number;
  upper: number;
  count: number;
  /** Mean prediction and share of positives in the bin; null when the bin is empty. */
  meanPredicted: number | null;
  fractionPositive: number | null;
}

export interface BinaryMetrics {
  task: 'binary';
  rows: number;
  positives: number;
  auc: number | null;
  logLoss: number;
  accuracy: number;
  brier: number;
  calibration: CalibrationBin[];
}

export interface RegressionMetrics {
  task: 'regression';
  rows: number;
  rmse: number;
  mae: number;
  /** 1 - SS_res / SS_tot; with constant labels 1 when every prediction is exact, else 0 (as scikit-learn). */
  r2: number;
}

export type Metrics = BinaryMetrics | RegressionMetrics;

/** Probabilities are clipped to [EPS, 1 - EPS] for log loss, as scikit-learn does. */
export const LOG_LOSS_EPS = 1e-15;

type Values = ArrayLike<number>;

function checkLengths(y: Values, p: Values): void {
  if (y.length !== p.length) throw new Error(`${y.length} labels but ${p.length} predictions`);
}

/** Area under the ROC curve: P(score of a random positive > a random negative), ties 1/2. */
export function auc(y: Values, p: Values): number | null {
  checkLengths(y, p);
  let nPos = 0;
  for (let i = 0; i < y.length; i++) if (y[i] === 1) nPos++;
  const nNeg = y.length - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  let a = 0;
  let b = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] === 1) pos[a++] = p[i]!;
    else neg[b++] = p[i]!;
  }
  pos.sort();
  neg.sort();
  // For each run of equal positive scores: negatives below count 1, negatives equal count 1/2.
  let below = 0;
  let wins = 0;
  for (let i = 0; i < nPos;) {
    const v = pos[i]!;
    let j = i;
    while (j < nPos && pos[j] === v) j++;
    while (below < nNeg && neg[below]! < v) below++;
    let equal = 0;
    while (below + equal < nNeg && neg[below + equal] === v) equal++;
    wins += (j - i) * (below + equal / 2);
    i = j;
  }
  return wins / (nPos * nNeg);
}

export function logLoss(y: Values, p: Values): number {
  checkLengths(y, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p[i]!));
    s -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / y.length;
}

/** Share of rows where (p >= threshold) equals the label. */
export function accuracy(y: Values, p: Values, threshold = 0.5): number {
  checkLengths(y, p);
  let ok = 0;
  for (let i = 0; i < y.length; i++) if ((p[i]! >= threshold ? 1 : 0) === y[i]) ok++;
  return ok / y.length;
}

export function brier(y: Values, p: Values): number {
  checkLengths(y, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (p[i]! - y[i]!) ** 2;
  return s / y.length;
}

/** Reliability diagram: `bins` equal-width bins over [0, 1]. */
export function calibrationCurve(y: Values, p: Values, bins = 10): CalibrationBin[] {
  checkLengths(y, p);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < y.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p[i]! * bins)));
    count[b]!++;
    sumP[b]! += p[i]!;
    sumY[b]! += y[i]!;
  }
  return Array.from({ length: bins }, (_, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: count[b]!,
    meanPredicted: count[b] ? sumP[b]! / count[b]! : null,
    fractionPositive: count[b] ? sumY[b]! / count[b]! : null,
  }));
}

export function rmse(y: Values, p: Values): number {
  checkLengths(y, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (p[i]! - y[i]!) ** 2;
  return Math.sqrt(s / y.length);
}

export function mae(y: Values, p: Values): number {
  checkLengths(y, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += Math.abs(p[i]! - y[i]!);
  return s / y.length;
}

export function r2(y: Values, p: Values): number {
  checkLengths(y, p);
  let mean = 0;
  for (let i = 0; i < y.length; i++) mean += y[i]!;
  mean /= y.length;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < y.length; i++) {
    res += (y[i]! - p[i]!) ** 2;
    tot += (y[i]! - mean) ** 2;
  }
  if (tot === 0) return res === 0 ? 1 : 0;
  return 1 - res / tot;
}

export function binaryMetrics(y: Values, p: Values, calibrationBins = 10): BinaryMetrics {
  let positives = 0;
  for (let i = 0; i < y.length; i++) if (y[i] === 1) positives++;
  return {
    task: 'binary',
    rows: y.length,
    positives,
    auc: auc(y, p),
    logLoss: logLoss(y, p),
    accuracy: accuracy(y, p),
    brier: brier(y, p),
    calibration: calibrationCurve(y, p, calibrationBins),
  };
}

export function regressionMetrics(y: Values, p: Values): RegressionMetrics {
  return { task: 'regression', rows: y.length, rmse: rmse(y, p), mae: mae(y, p), r2: r2(y, p) };
}

export function evaluate(task: Task, y: Values, p: Values): Metrics {
  return task === 'binary' ? binaryMetrics(y, p) : regressionMetrics(y, p);
}

/** The metric a task's loss curves and early stopping use, and whether lower is better. */
export const LOSS_NAME: Record<Task, 'logLoss' | 'rmse'> = { binary: 'logLoss', regression: 'rmse' };
