/**
 * Data quality of one window, per feature, from the same aggregates drift uses (no second
 * pass over the rows): how often the feature is missing against how often it was missing in
 * training, how many values fall outside the range training saw, and how many categories
 * training never saw. These are rates for gauges and alert rules to threshold; the rules
 * decide what is bad, this only measures.
 */
import type { FeatureBaseline, MonitoringBaseline } from './baseline';
import { presentCount, type WindowAggregates, type WindowFeatureAggregate } from './window';

export interface FeatureQuality {
  feature: string;
  rows: number;
  nulls: number;
  nullRate: number;
  baselineNullRate: number;
  /** numeric: values below the training min or above the training max, over non-null values. */
  outOfRange?: { below: number; above: number; share: number };
  /**
   * categorical: values in no category the baseline lists, over non-null values, with the
   * most frequent of them. When the baseline kept only its top categories (otherCount > 0)
   * these are "not among the listed ones" rather than new; `baselineOtherShare` says how
   * common that was in training.
   */
  unknownCategories?: { count: number; share: number; baselineOtherShare: number; top: Array<{ value: string; count: number }> };
}

export interface QualityReport {
  rows: number;
  features: FeatureQuality[];
  prediction?: FeatureQuality;
}

export function qualityReport(baseline: MonitoringBaseline, window: WindowAggregates): QualityReport {
  const features = Object.entries(window.features).map(([name, w]) => {
    const b = baseline.features[name];
    if (!b) throw new RangeError(`window feature "${name}" is not in the baseline`);
    return featureQuality(name, b, w);
  });
  const report: QualityReport = { rows: window.rows, features };
  if (window.prediction) report.prediction = featureQuality('prediction', baseline.prediction, window.prediction);
  return report;
}

export function featureQuality(feature: string, baseline: FeatureBaseline, w: WindowFeatureAggregate): FeatureQuality {
  const present = presentCount(w);
  const share = (k: number) => (present > 0 ? k / present : 0);
  const q: FeatureQuality = { feature, rows: w.rows, nulls: w.nulls, nullRate: w.rows > 0 ? w.nulls / w.rows : 0, baselineNullRate: baseline.nullRate };
  if (w.kind === 'numeric') {
    q.outOfRange = { below: w.belowRange, above: w.aboveRange, share: share(w.belowRange + w.aboveRange) };
  } else if (baseline.kind === 'categorical') {
    const listed = Object.values(baseline.categories).reduce((a, b) => a + b, 0);
    const total = listed + baseline.otherCount;
    q.unknownCategories = { count: w.otherCount, share: share(w.otherCount), baselineOtherShare: total > 0 ? baseline.otherCount / total : 0, top: w.unknown };
  }
  return q;
}
