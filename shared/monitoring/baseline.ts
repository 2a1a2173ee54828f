/**
 * Monitoring reads the baseline training stores with each version (shared/training/baseline.ts)
 * as it is: one type, no monitoring copy of it. This module only adds the two lookups the
 * statistics need on it: a column by the name the prediction log uses for it, and the
 * calibrated probability of a score (through the baseline's calibration map, if it has one).
 *
 * Bins are the contract both sides share exactly (training's rule, `binIndex` there): values
 * are compared as float32 (what the model is fed), bin i holds edges[i-1] <= v < edges[i], so
 * there are edges.length + 1 bins. window-query.ts counts the same bins in DuckDB.
 */
import type { Baseline, CalibrationMap, ColumnBaseline } from '../training/baseline';
import { binIndex } from '../training/baseline';
import { upperBound } from '../training/bins';

export type { Baseline, CalibrationMap, ColumnBaseline };
export { binIndex };

/** The baseline's features by name (the prediction log's `view:feature` keys). */
export function featureColumns(baseline: Baseline): Map<string, ColumnBaseline> {
  return new Map(baseline.features.map((f) => [f.name, f]));
}

/** The key a category has on both sides: the value as JavaScript prints it (3, 0.5, "DE"). */
export const categoryKey = (v: string | number | boolean): string => String(v);

/** A categorical column's frequencies by category key. */
export function categoryCounts(b: ColumnBaseline): Map<string, number> {
  return new Map((b.categories ?? []).map((c) => [categoryKey(c.value), c.count]));
}

/** The calibrated probability for a score (identity when there is no map; clamped outside it). */
export function calibrate(map: CalibrationMap | undefined, score: number): number {
  if (!map) return Math.min(1, Math.max(0, score));
  const { scores, probabilities } = map;
  if (score <= scores[0]!) return probabilities[0]!;
  const last = scores.length - 1;
  if (score >= scores[last]!) return probabilities[last]!;
  const i = upperBound(scores, score); // scores[i-1] <= score < scores[i]
  const x0 = scores[i - 1]!;
  const x1 = scores[i]!;
  const y0 = probabilities[i - 1]!;
  const y1 = probabilities[i]!;
  return y0 + ((score - x0) / (x1 - x0)) * (y1 - y0);
}
