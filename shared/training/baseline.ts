/**
 * The training baseline monitoring compares live windows against: computed once per model
 * version from the training rows and the model's predictions on them, stored as JSON.
 *
 * Per feature (and for the prediction and the label): count, nulls and null rate, min, max,
 * mean, standard deviation (population), fixed quantile bins with counts, and category
 * frequencies when the column has few distinct values. Plus a bounded, seeded reservoir
 * sample of rows (features, prediction, label) for tests that need raw values (KS, plots).
 *
 * This is the one baseline type: training writes it, monitoring (shared/monitoring) reads it
 * as it is. What monitoring needs beyond the statistics is here too: each column's own sample
 * (its non-missing values in the row sample, for KS and Wasserstein), a `categorical` flag (a
 * column declared categorical whose distinct values fit `maxCategories` is compared by its
 * category frequencies, chi-square and Jensen-Shannon, instead of its bins), and an optional
 * calibration map for estimated performance (absent = the scores are calibrated as they are).
 *
 * Bins are fixed by their edges, so a live window is counted into the same bins and PSI or
 * chi-square compare counts bin by bin. The rule (`binIndex`): values are compared as
 * float32 (Math.fround, what the model is fed); bin 0 holds v < edges[0], bin i holds
 * edges[i-1] <= v < edges[i], the last bin (edges.length) holds v >= edges[edges.length-1].
 * Missing values (null/NaN) are not in any bin: they are `nullCount`. Edges are distinct
 * values of the data at its quantiles (from a sample of up to `edgeSampleRows` rows), so
 * every bin of a continuous feature holds about rows / bins rows; a column with at most
 * `bins` distinct values gets one bin per value.
 */
import { quantileCuts, upperBound } from './bins';
import type { DataChunk, DataSource } from './data';
import { RowReservoir } from './reservoir';

export const BASELINE_SCHEMA = 'strata.baseline/1';

export interface ColumnBaseline {
  name: string;
  /** Non-missing values. */
  count: number;
  nullCount: number;
  /** nullCount / rows. */
  nullRate: number;
  /** null when every value is missing. */
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  /** Bin edges (ascending, distinct); see `binIndex` for the rule. */
  edges: number[];
  /** counts[i] = values in bin i; length edges.length + 1; sums to count. */
  counts: number[];
  /**
   * Value frequencies, ascending by value, when there are at most `maxCategories` distinct values; else null.
   * Training writes numbers (its columns are numeric codes); a string value is a category of a text column.
   */
  categories: Array<{ value: number | string; count: number }> | null;
  /** Compare by category frequencies (declared categorical and `categories` is set), else by bins. */
  categorical: boolean;
  /**
   * Non-missing values of this column in the row sample, ascending (baselines stored before
   * that are in sample order): KS and Wasserstein walk sorted values, and each window then
   * finds the baseline's side already sorted.
   */
  sample: number[];
}

/**
 * A monotone map from the model's score to the observed positive rate on the holdout (e.g. an
 * isotonic fit), applied by linear interpolation: `scores` strictly increasing, `probabilities`
 * non-decreasing, the same length (at least 2).
 */
export interface CalibrationMap {
  scores: number[];
  probabilities: number[];
}

export interface Baseline {
  schema: typeof BASELINE_SCHEMA;
  rows: number;
  /** The bin rule, in words, for whoever reads the JSON without this file. */
  binRule: string;
  features: ColumnBaseline[];
  /** The model's prediction on the training rows (probability of class 1, or the value). */
  prediction: ColumnBaseline;
  label: ColumnBaseline;
  sample: {
    seed: number;
    /** Columns of each sample row: the features, then `prediction`, then `label`. */
    columns: string[];
    /** Rows in training order; null = missing. */
    rows: Array<Array<number | null>>;
  };
  /** For a binary classifier's score: how it maps to the observed positive rate (estimated performance). */
  calibration?: CalibrationMap;
}

export const BIN_RULE =
  'v as float32; bin 0: v < edges[0]; bin i: edges[i-1] <= v < edges[i]; last bin: v >= edges[last]; missing values are nullCount, in no bin';

export interface BaselineOptions {
  /** Quantile bins per column (default 10). */
  bins?: number;
  /** Rows sampled to place the edges (default 100,000). */
  edgeSampleRows?: number;
  /** Rows kept in the stored sample (default 500). */
  sampleRows?: number;
  /** Most distinct values for category frequencies (default 20). */
  maxCategories?: number;
  /** Columns (feature names, or `label`) compared by category frequencies when their distinct values fit maxCategories. */
  categorical?: readonly string[];
  seed?: number;
}

/** The bin of a value under the baseline's rule; -1 for a missing value. */
export function binIndex(edges: readonly number[], v: number | null | undefined): number {
  if (v === null || v === undefined || Number.isNaN(v)) return -1;
  return upperBound(edges, Math.fround(v));
}

/** Count values into the baseline's bins: counts (length edges.length + 1) and missing values. */
export function countBins(
  edges: readonly number[],
  values: Iterable<number | null | undefined>,
): { counts: number[]; nullCount: number } {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let nullCount = 0;
  for (const v of values) {
    const b = binIndex(edges, v);
    if (b < 0) nullCount++;
    else counts[b]!++;
  }
  return { counts, nullCount };
}

/** Running statistics of one column: count, nulls, min, max, and mean/variance by Welford per chunk (merged exactly). */
class ColumnStats {
  count = 0;
  nulls = 0;
  min = Infinity;
  max = -Infinity;
  mean = 0;
  m2 = 0;
  categories: Map<number, number> | undefined = new Map();

  constructor(private readonly maxCategories: number) {}

  /** Add values[start], values[start + step], ... (n of them). */
  addStrided(values: ArrayLike<number>, start: number, step: number, n: number): void {
    let count = 0;
    let nulls = 0;
    let min = this.min;
    let max = this.max;
    let mean = 0;
    let m2 = 0;
    for (let i = 0, k = start; i < n; i++, k += step) {
      const raw = values[k]!;
      if (raw !== raw) {
        nulls++;
        continue;
      }
      const v = Math.fround(raw);
      count++;
      if (v < min) min = v;
      if (v > max) max = v;
      const d = v - mean;
      mean += d / count;
      m2 += d * (v - mean);
    }
    // Chan et al.'s merge of this chunk's (count, mean, m2) into the running ones.
    const total = this.count + count;
    if (count) {
      const delta = mean - this.mean;
      this.m2 += m2 + (delta * delta * this.count * count) / total;
      this.mean += (delta * count) / total;
    }
    this.count = total;
    this.nulls += nulls;
    this.min = min;
    this.max = max;
    const c = this.categories;
    if (c) {
      for (let i = 0, k = start; i < n && this.categories; i++, k += step) {
        const raw = values[k]!;
        if (raw !== raw) continue;
        const v = Math.fround(raw);
        c.set(v, (c.get(v) ?? 0) + 1);
        if (c.size > this.maxCategories) this.categories = undefined;
      }
    }
  }
}

/** counts[bin] += 1 for each non-missing value of the strided slice, by the baseline's rule. */
function countStrided(
  edges: readonly number[],
  counts: number[],
  values: ArrayLike<number>,
  start: number,
  step: number,
  n: number,
): void {
  const e = Float64Array.from(edges);
  const ne = e.length;
  for (let i = 0, k = start; i < n; i++, k += step) {
    const raw = values[k]!;
    if (raw !== raw) continue;
    const v = Math.fround(raw);
    let lo = 0;
    let hi = ne;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo]!++;
  }
}

/**
 * Two passes over the training rows: statistics and samples, then bin counts.
 * `predictions[i]` is the model's prediction for the source's row i.
 */
export async function computeBaseline(
  source: DataSource,
  predictions: ArrayLike<number>,
  o: BaselineOptions = {},
): Promise<Baseline> {
  const nBins = o.bins ?? 10;
  const seed = o.seed ?? 0;
  const maxCategories = o.maxCategories ?? 20;
  const names = [...source.featureNames, 'prediction', 'label'];
  const W = names.length;
  const F = source.featureNames.length;
  const stats = names.map(() => new ColumnStats(maxCategories));
  const edgeSample = new RowReservoir(o.edgeSampleRows ?? 100_000, W, seed);
  const kept = new RowReservoir(o.sampleRows ?? 500, W, seed + 1);
  /** Column j of a chunk whose first row is the source's row `at`, as (values, start, step). */
  const slice = (c: DataChunk, at: number, j: number): [ArrayLike<number>, number, number] =>
    j < F ? [c.x, j, F] : j === F ? [predictions, at, 1] : [c.y, 0, 1];
  const sampleRow = (sample: RowReservoir, c: DataChunk, r: number, at: number) => {
    const slot = sample.next();
    if (slot < 0) return;
    for (let j = 0; j < F; j++) sample.put(slot, j, c.x[r * F + j]!);
    sample.put(slot, F, predictions[at + r]!);
    sample.put(slot, F + 1, c.y[r]!);
  };
  let row = 0;
  for await (const c of source.chunks()) {
    if (row + c.nRows > predictions.length)
      throw new Error(`baseline: ${predictions.length} predictions for more rows`);
    for (let j = 0; j < W; j++) stats[j]!.addStrided(...slice(c, row, j), c.nRows);
    for (let r = 0; r < c.nRows; r++) {
      sampleRow(edgeSample, c, r, row);
      sampleRow(kept, c, r, row);
    }
    row += c.nRows;
  }
  if (row !== predictions.length) throw new Error(`baseline: ${predictions.length} predictions for ${row} rows`);

  const edges = names.map((_, j) => {
    const col = edgeSample
      .column(j)
      .filter((v) => !Number.isNaN(v))
      .map(Math.fround)
      .sort();
    return quantileCuts(col, nBins);
  });
  const counts = edges.map((e) => new Array<number>(e.length + 1).fill(0));
  row = 0;
  for await (const c of source.chunks()) {
    for (let j = 0; j < W; j++) countStrided(edges[j]!, counts[j]!, ...slice(c, row, j), c.nRows);
    row += c.nRows;
  }

  const declared = new Set(o.categorical ?? []);
  const sampleRows = kept.rowsInOrder();
  const column = (j: number): ColumnBaseline => {
    const s = stats[j]!;
    const categories = s.categories
      ? [...s.categories].sort((a, b) => a[0] - b[0]).map(([value, count]) => ({ value, count }))
      : null;
    const rows = s.count + s.nulls;
    return {
      name: names[j]!,
      count: s.count,
      nullCount: s.nulls,
      nullRate: rows ? s.nulls / rows : 0,
      min: s.count ? s.min : null,
      max: s.count ? s.max : null,
      mean: s.count ? s.mean : null,
      std: s.count ? Math.sqrt(s.m2 / s.count) : null,
      edges: edges[j]!,
      counts: counts[j]!,
      categories,
      categorical: categories !== null && declared.has(names[j]!),
      sample: sampleRows
        .map((r) => r[j]!)
        .filter((v) => !Number.isNaN(v))
        .sort((x, y) => x - y),
    };
  };
  return {
    schema: BASELINE_SCHEMA,
    rows: row,
    binRule: BIN_RULE,
    features: source.featureNames.map((_, j) => column(j)),
    prediction: column(F),
    label: column(F + 1),
    sample: {
      seed,
      columns: names,
      rows: sampleRows.map((r) => r.map((v) => (Number.isNaN(v) ? null : v))),
    },
  };
}
