/**
 * What one closed window of one model version produced, as stored and as the APIs return it:
 * its status (computed, deferred under load, no baseline to compare with, failed), the
 * fingerprint of the prediction segments it read (a late segment changes it, so the window is
 * computed again), and the reports. `windowMetrics` flattens a result into the (feature,
 * metric, value) points that gauges, alert rules and charts read, so they all see the same
 * names.
 */
import type { DriftReport } from './drift';
import type { FeatureFreshness } from './freshness';
import type { QualityReport } from './quality';
import type { OutputContractTally } from './output-contract';
import { PERFORMANCE_METRIC_NAMES, type PerformanceMetricName, type PerformanceResult } from './performance';

export type WindowStatus = 'computed' | 'deferred' | 'no_baseline' | 'failed';

export interface WindowKey {
  model: string;
  version: number;
  /** Window start, epoch ms (the window is [start, end)). */
  start: number;
}

export interface WindowQualityExtras {
  /** Records dead-lettered per source on the window's days (schema violations). */
  deadLetters: Record<string, number>;
  /** Per feature: the share of predictions that used a default because the online value was missing or stale. */
  defaultedShare: Record<string, number>;
  /** Per feature: age of the online value used at prediction time (ms), p50/p95/max over predictions that read one (freshness.ts). */
  freshness: Record<string, FeatureFreshness>;
}

export interface WindowResult extends WindowKey {
  end: number;
  status: WindowStatus;
  /** When it was written. */
  computedAt: number;
  /** Why it is deferred, failed or has no baseline. */
  reason?: string;
  /** Fingerprint of the prediction and label segments read (ids of immutable segments): a late one changes it. */
  inputs: string;
  /**
   * The prediction segments' part of `inputs`: a run that finds it unchanged while `inputs`
   * changed knows only labels arrived, before it counts anything (monitor.ts orders them apart).
   */
  predictionInputs?: string;
  rows: number;
  /**
   * Label records within its horizon ([start, end + horizon)) when it was computed, for a model
   * with labels. With `rows`, what a run compares when the segments' ids changed (monitor.ts).
   */
  labelRows?: number;
  drift?: DriftReport;
  quality?: QualityReport & WindowQualityExtras;
  /** Output-contract violations per output name. */
  contracts?: Record<string, OutputContractTally>;
  /** Per feature (and `prediction`): baseline and window counts per bin (edges) or per category, for charts. */
  histograms?: Record<string, FeatureHistogram>;
  /** Realized (when labels arrived) and estimated (binary classifiers) performance. */
  performance?: PerformanceResult[];
}

export interface FeatureHistogram {
  /** Numeric: the baseline's interior edges (bins.length = edges.length + 1). */
  edges?: number[];
  /** Categorical: the category names, then `(other)`. */
  categories?: string[];
  baseline: number[];
  window: number[];
}

export interface MetricPoint {
  metric: string;
  /** The feature (or `prediction`, `label`, a source, an output, `realized`/`estimated`); '' for the whole window. */
  subject: string;
  value: number;
  /** The statistic a drift score is (ks, chi_square, wasserstein, jensen_shannon). */
  method?: string;
}

/** The order stores give a window's points in: by metric, then subject (code-unit order). */
export const byMetricAndSubject = (a: MetricPoint, b: MetricPoint): number =>
  a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0;

const WINDOW_METRICS = [
  'rows',
  'drift_score',
  'drift_detected',
  'psi',
  'dataset_drift',
  'drifted_share',
  'null_rate',
  'out_of_range_share',
  'unknown_category_share',
  'dead_letters',
  'defaulted_share',
  'feature_age_p50_ms',
  'feature_age_p95_ms',
  'feature_age_max_ms',
  'contract_violations',
  'contract_violation_share',
  'labelled_share',
] as const;
export type WindowMetricName = (typeof WINDOW_METRICS)[number] | `performance_${PerformanceMetricName}`;
/** Every metric name windowMetrics gives (what an alert rule's `metric` may name, besides store_anomaly). */
export const WINDOW_METRIC_NAMES: readonly WindowMetricName[] = [
  ...WINDOW_METRICS,
  ...PERFORMANCE_METRIC_NAMES.map((n) => `performance_${n}` as const),
];

/** Every number of a computed window under its metric name (the names alert rules use). */
export function windowMetrics(r: WindowResult): MetricPoint[] {
  const out: MetricPoint[] = [];
  const push = (metric: WindowMetricName, subject: string, value: number | null | undefined, method?: string) => {
    if (value !== null && value !== undefined && Number.isFinite(value))
      out.push({ metric, subject, value, ...(method ? { method } : {}) });
  };
  if (r.status !== 'computed') return out;
  push('rows', '', r.rows);
  if (r.drift) {
    for (const f of [
      ...r.drift.features,
      ...(r.drift.prediction ? [r.drift.prediction] : []),
      ...(r.drift.label ? [r.drift.label] : []),
    ]) {
      if (f.status === 'insufficient_data') continue;
      push('drift_score', f.feature, f.score, f.method);
      push('drift_detected', f.feature, f.status === 'drift' ? 1 : 0);
      push('psi', f.feature, f.statistics.psi);
    }
    if (r.drift.dataset.status !== 'insufficient_data') {
      push('dataset_drift', '', r.drift.dataset.status === 'drift' ? 1 : 0);
      push('drifted_share', '', r.drift.dataset.share);
    }
  }
  if (r.quality) {
    for (const q of [...r.quality.features, ...(r.quality.prediction ? [r.quality.prediction] : [])]) {
      push('null_rate', q.feature, q.nullRate);
      push('out_of_range_share', q.feature, q.outOfRange?.share);
      push('unknown_category_share', q.feature, q.unknownCategories?.share);
    }
    for (const [source, n] of Object.entries(r.quality.deadLetters)) push('dead_letters', source, n);
    for (const [feature, s] of Object.entries(r.quality.defaultedShare)) push('defaulted_share', feature, s);
    for (const [feature, f] of Object.entries(r.quality.freshness ?? {})) {
      push('feature_age_p50_ms', feature, f.p50Ms);
      push('feature_age_p95_ms', feature, f.p95Ms);
      push('feature_age_max_ms', feature, f.maxMs);
    }
  }
  for (const [output, t] of Object.entries(r.contracts ?? {})) {
    push('contract_violations', output, t.violating);
    push('contract_violation_share', output, t.checked ? t.violating / t.checked : 0);
  }
  for (const p of r.performance ?? []) {
    push('labelled_share', p.kind, p.labelledShare);
    for (const name of PERFORMANCE_METRIC_NAMES) push(`performance_${name}`, p.kind, p.metrics[name]);
  }
  return out;
}
