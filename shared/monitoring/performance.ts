/**
 * Model performance for one window, realized (predictions joined to the labels that arrived)
 * or estimated (from the model's calibrated scores, before labels arrive). Both come out in
 * one shape, marked with their kind and the share of the window's predictions labelled, so a
 * store row, a gauge and a chart treat them alike and an estimate is replaced by the realized
 * value as labels land.
 */

export type PerformanceKind = 'realized' | 'estimated';
export type PerformanceTask = 'binary' | 'regression';

/** Metric name → value; null when undefined for the data (AUC with one class). */
export interface PerformanceMetrics {
  auc?: number | null;
  accuracy?: number;
  logLoss?: number;
  brier?: number;
  /** Expected calibration error: the count-weighted mean |mean score - positive rate| over the calibration bins. */
  calibrationError?: number;
  rmse?: number;
  mae?: number;
  r2?: number;
}

/** Every metric name of PerformanceMetrics (a Record of its keys: adding a metric without naming it here does not compile). */
const PERFORMANCE_METRICS: Record<keyof PerformanceMetrics, true> = {
  auc: true,
  accuracy: true,
  logLoss: true,
  brier: true,
  calibrationError: true,
  rmse: true,
  mae: true,
  r2: true,
};
export type PerformanceMetricName = keyof PerformanceMetrics;
export const PERFORMANCE_METRIC_NAMES = Object.keys(PERFORMANCE_METRICS) as PerformanceMetricName[];

export interface PerformanceResult {
  kind: PerformanceKind;
  task: PerformanceTask;
  /** Predictions in the window. */
  predictions: number;
  /** Of them, those with a label (realized) or with a score the estimate used (estimated). */
  labelled: number;
  labelledShare: number;
  metrics: PerformanceMetrics;
}
