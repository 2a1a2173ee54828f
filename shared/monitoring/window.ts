/**
 * What the window side must supply per feature, so the statistics never need every raw row.
 * A window of a million predictions becomes, per feature: counts per baseline bin (or per
 * baseline category), null and out-of-range counts, and a bounded uniform sample
 * of raw values (KS and Wasserstein need values, not bins). DuckDB computes these over all
 * rows (window-query.ts); `summarizeValues` below is the same contract over values in memory,
 * the reference the DuckDB builder is tested against and a convenience for small inputs.
 *
 * The contract, exactly:
 * - `rows` counts every row of the window, `nulls` those where the feature is missing (null,
 *   NaN or absent); every other count is over the non-null values.
 * - numeric values are taken as float32 (Math.fround: what the model is fed, and training's
 *   bin rule); `binCounts[i]` counts values in baseline bin i (baseline.ts: left-closed,
 *   edges.length + 1 bins); `belowRange`/`aboveRange` count values < baseline min / > max;
 *   `sample` holds the non-null values of a uniform random sample of at most `sampleSize`
 *   window rows, and every non-null value when the window has no more rows than that (so a
 *   small window's KS test sees all of it), ascending (the order KS and Wasserstein walk them
 *   in, and one that does not depend on the order rows were read in).
 * - categorical: `counts` per category the baseline lists (absent = 0); `otherCount` the
 *   values in no listed category; `unknown` the most frequent of those, by count (a bounded
 *   list, for the report: when the baseline lists every training category they are new).
 */
import { binIndex, categoryCounts, categoryKey, type ColumnBaseline } from './baseline';
import { ascendingFloat32 } from './statistics/ascending-float32';

export { categoryKey };

export interface NumericWindowAggregate {
  kind: 'numeric';
  rows: number;
  nulls: number;
  binCounts: number[];
  belowRange: number;
  aboveRange: number;
  sample: Float64Array;
}

export interface CategoricalWindowAggregate {
  kind: 'categorical';
  rows: number;
  nulls: number;
  counts: Record<string, number>;
  otherCount: number;
  unknown: Array<{ value: string; count: number }>;
}

export type WindowFeatureAggregate = NumericWindowAggregate | CategoricalWindowAggregate;

/** One window of one model version, as the statistics take it. */
export interface WindowAggregates {
  /** Rows (predictions) in the window. */
  rows: number;
  /** Keyed like the baseline's features. */
  features: Record<string, WindowFeatureAggregate>;
  prediction?: WindowFeatureAggregate;
  /** Labels that arrived for the window's predictions (label drift). */
  label?: WindowFeatureAggregate;
}

/** Non-null values in the window. */
export const presentCount = (w: WindowFeatureAggregate): number => w.rows - w.nulls;

/** How many unknown categories a window reports by name. */
export const UNKNOWN_CATEGORIES_LISTED = 10;

export interface SummarizeOptions {
  /** Rows kept in the sample (default 10,000). */
  sampleSize?: number;
  /** Seed of the sample (default 1). */
  seed?: number;
}

type Raw = number | string | boolean | null | undefined;
const isMissing = (v: Raw): v is null | undefined =>
  v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));

/** The window contract computed from one feature's values in memory (one entry per window row). */
export function summarizeValues(
  baseline: ColumnBaseline,
  values: ArrayLike<Raw>,
  opts: SummarizeOptions = {},
): WindowFeatureAggregate {
  const n = values.length;
  let nulls = 0;
  if (baseline.categorical) {
    const listed = categoryCounts(baseline);
    const counts: Record<string, number> = {};
    const unknown = new Map<string, number>();
    let otherCount = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (isMissing(v)) {
        nulls++;
        continue;
      }
      const k = categoryKey(v);
      if (listed.has(k)) counts[k] = (counts[k] ?? 0) + 1;
      else {
        otherCount++;
        unknown.set(k, (unknown.get(k) ?? 0) + 1);
      }
    }
    return {
      kind: 'categorical',
      rows: n,
      nulls,
      counts,
      otherCount,
      unknown: topCounts(unknown, UNKNOWN_CATEGORIES_LISTED),
    };
  }
  const binCounts = new Array<number>(baseline.edges.length + 1).fill(0);
  const lo = baseline.min ?? Infinity;
  const hi = baseline.max ?? -Infinity;
  let belowRange = 0;
  let aboveRange = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isMissing(v)) {
      nulls++;
      continue;
    }
    // Values as float32, as the model is fed them and training's bins compare them.
    const x = Math.fround(Number(v));
    binCounts[binIndex(baseline.edges, x)]!++;
    if (x < lo) belowRange++;
    else if (x > hi) aboveRange++;
  }
  const rows = sampleRows(n, opts.sampleSize ?? 10_000, opts.seed ?? 1);
  const sample: number[] = [];
  for (const i of rows) {
    const v = values[i];
    if (!isMissing(v)) sample.push(Number(v));
  }
  return {
    kind: 'numeric',
    rows: n,
    nulls,
    binCounts,
    belowRange,
    aboveRange,
    sample: ascendingFloat32(sample),
  };
}

/** The `k` largest counts, ties by name, as a list. */
export function topCounts(counts: Map<string, number>, k: number): Array<{ value: string; count: number }> {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([value, count]) => ({ value, count }));
}

/** Indices of a uniform random sample of `size` out of `n` rows (all of them when n <= size): seeded reservoir sampling. */
export function sampleRows(n: number, size: number, seed: number): number[] {
  if (n <= size) return Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(seed);
  const kept = Array.from({ length: size }, (_, i) => i);
  for (let i = size; i < n; i++) {
    const j = Math.floor(rand() * (i + 1));
    if (j < size) kept[j] = i;
  }
  return kept.sort((a, b) => a - b);
}

/** mulberry32: a small seeded generator, enough for sampling (not for cryptography). */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
