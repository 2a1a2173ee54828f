/**
 * Realized performance: metrics over the window's predictions that have a label. The metrics
 * are training's own (shared/training/metrics.ts: AUC with ties one half, log loss clipped to
 * [1e-15, 1 - 1e-15], accuracy at 0.5, Brier, a 10-bin calibration curve; RMSE/MAE/R²), so a
 * window's number and the holdout's number a version was promoted on are the same function.
 * What is monitoring's own is the window's side: coverage (the share of predictions
 * labelled), the expected calibration error read off the curve, and the shared result shape.
 */
import { binaryMetrics, regressionMetrics, type CalibrationBin } from '../training/metrics';
import type { PerformanceResult, PerformanceTask } from './performance';

type Values = ArrayLike<number>;

/** Expected calibration error: the count-weighted mean |mean score - positive rate| over the bins. */
export function calibrationError(curve: readonly CalibrationBin[]): number {
  let n = 0;
  let gap = 0;
  for (const b of curve) {
    if (!b.count) continue;
    n += b.count;
    gap += b.count * Math.abs(b.meanPredicted! - b.fractionPositive!);
  }
  return n ? gap / n : 0;
}

export interface RealizedInput {
  task: PerformanceTask;
  /** Labels of the labelled predictions (0/1 for binary). */
  labels: Values;
  /** Their predictions (binary: the score of class 1), in the same order. */
  predictions: Values;
  /** Predictions in the window, labelled or not. */
  windowPredictions: number;
}

export function realizedPerformance(input: RealizedInput): PerformanceResult {
  const { task, labels: y, predictions: p, windowPredictions } = input;
  if (y.length !== p.length) throw new RangeError(`${y.length} labels but ${p.length} predictions`);
  const labelled = y.length;
  const base = {
    kind: 'realized' as const,
    task,
    predictions: windowPredictions,
    labelled,
    labelledShare: windowPredictions > 0 ? labelled / windowPredictions : 0,
  };
  if (labelled === 0) return { ...base, metrics: {} };
  if (task === 'regression') {
    const m = regressionMetrics(y, p);
    return { ...base, metrics: { rmse: m.rmse, mae: m.mae, r2: m.r2 } };
  }
  const m = binaryMetrics(y, p);
  return {
    ...base,
    metrics: {
      auc: m.auc,
      accuracy: m.accuracy,
      logLoss: m.logLoss,
      brier: m.brier,
      calibrationError: calibrationError(m.calibration),
    },
  };
}
