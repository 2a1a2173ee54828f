/**
 * Feature freshness at prediction time, per window and feature: how old each online value was
 * when a prediction used it. The predictor logs it with every prediction (`featureAgeMs`, the
 * prediction's time minus the event time the online store keeps with the value), so it is part
 * of the window's one scan (window-query.ts `extra`): the exact count and max over all rows,
 * and p50/p95 over the window's bounded uniform sample (the ages ride along with the sampled
 * rows; a window no larger than the sample has exact quantiles). DuckDB's `approx_quantile`
 * (a t-digest per feature) cost about 2 s per million rows × 20 features, four times the
 * window's histograms; the sample's quantiles are as close (a 10,000-row sample puts p95
 * within about ±0.5 percentile) for nothing. Over the predictions that read a value
 * (defaulted, overridden and given values have no age and are not counted). Records logged
 * before the age existed have none either: a window of only those has no freshness rather
 * than failing.
 */
import type { ExtraAggregates, SampleColumns } from './window-query';

export interface FeatureFreshness {
  /** Predictions whose value of this feature came from the online store. */
  count: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** The prediction log's field holding the ages (a number map: a column per feature, prediction-columns.ts). */
export const AGE_FIELD = 'featureAgeMs';

/** The window scan's share of the work, given each feature's age expression over the window relation. */
export function freshnessAggregates(ages: Record<string, string>): ExtraAggregates {
  const aggregates: Record<string, string> = {};
  const sampled: Record<string, string> = {};
  Object.values(ages).forEach((v, i) => {
    aggregates[`age_n${i}`] = `count(${v})`;
    aggregates[`age_max${i}`] = `max(${v})`;
    sampled[`age_s${i}`] = v;
  });
  return { aggregates, sampled };
}

/** Freshness per feature from the scan's row and sample; features no prediction read are absent. */
export function readFreshness(
  ages: Record<string, string>,
  row: Record<string, unknown>,
  sample: SampleColumns,
): Record<string, FeatureFreshness> {
  const out: Record<string, FeatureFreshness> = {};
  Object.keys(ages).forEach((f, i) => {
    const count = Number(row[`age_n${i}`] ?? 0);
    if (!(count > 0)) return;
    const seen: number[] = [];
    for (const v of sample[`age_s${i}`] ?? []) if (v !== null && v !== undefined) seen.push(Number(v));
    seen.sort((a, b) => a - b);
    const maxMs = Number(row[`age_max${i}`]);
    // A feature read by rows the sample missed: its max is the best estimate there is.
    out[f] = { count, p50Ms: quantile(seen, 0.5) ?? maxMs, p95Ms: quantile(seen, 0.95) ?? maxMs, maxMs };
  });
  return out;
}

/** Linear interpolation between closest ranks (numpy's default) of sorted values; undefined when empty. */
function quantile(sorted: readonly number[], p: number): number | undefined {
  if (!sorted.length) return undefined;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo]! + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]!);
}
