/**
 * Data quality of one window, per feature, from the same aggregates drift uses (no second
 * pass over the rows): how often the feature is missing against how often it was missing in
 * training, how many values fall outside the range training saw, and how many categories
 * training never saw. These are rates for gauges and alert rules to threshold; the rules
 * decide what is bad, this only measures.
 */
import { featureColumns, type Baseline, type ColumnBaseline } from './baseline';
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
   * categorical: values in no category the baseline lists (training lists all of a
   * categorical column's values, so these are new), over non-null values, with the most
   * frequent of them.
   */
  unknownCategories?: { count: number; share: number; top: Array<{ value: string; count: number }> };
}

export interface QualityReport {
  rows: number;
  features: FeatureQuality[];
  prediction?: FeatureQuality;
}

export function qualityReport(baseline: Baseline, window: WindowAggregates): QualityReport {
  const columns = featureColumns(baseline);
  const features = Object.entries(window.features).map(([name, w]) => {
    const b = columns.get(name);
    if (!b) throw new RangeError(`window feature "${name}" is not in the baseline`);
    return featureQuality(name, b, w);
  });
  const report: QualityReport = { rows: window.rows, features };
  if (window.prediction) report.prediction = featureQuality('prediction', baseline.prediction, window.prediction);
  return report;
}

export function featureQuality(feature: string, baseline: ColumnBaseline, w: WindowFeatureAggregate): FeatureQuality {
  const present = presentCount(w);
  const share = (k: number) => (present > 0 ? k / present : 0);
  const q: FeatureQuality = {
    feature,
    rows: w.rows,
    nulls: w.nulls,
    nullRate: w.rows > 0 ? w.nulls / w.rows : 0,
    baselineNullRate: baseline.nullRate,
  };
  if (w.kind === 'numeric') {
    q.outOfRange = { below: w.belowRange, above: w.aboveRange, share: share(w.belowRange + w.aboveRange) };
  } else {
    q.unknownCategories = { count: w.otherCount, share: share(w.otherCount), top: w.unknown };
  }
  return q;
}
