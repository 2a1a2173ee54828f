/**
 * What monitoring needs from a model version's training baseline, and nothing more. Training
 * builds the baseline once per version (over the training set); monitoring compares every
 * window of predictions with it. The shape is minimal on purpose: a builder may store more,
 * but every statistic here is computed from these fields alone.
 *
 * Bins are the contract both sides must share exactly. Edges are the interior cut points,
 * strictly increasing; bin i holds edges[i-1] <= x < edges[i] (left-closed, with
 * edges[-1] = -inf and edges[B-1] = +inf), so there are edges.length + 1 bins: the bin of x
 * is the number of edges <= x. It is the rule training's quantile bins use (shared/training
 * bins.ts, `upperBound`: a tree's "value < cut" split), so the baseline's counts and a window's
 * counts agree on every value that sits exactly on an edge (integers, zero-inflated features).
 * `binIndex` is the rule in TypeScript; window-query.ts counts the same bins in DuckDB.
 */
import { z } from 'zod';

const finite = z.number().finite();
const count = z.number().int().nonnegative();
const rate = z.number().min(0).max(1);

export const NumericBinsSchema = z
  .object({
    /** Interior cut points, strictly increasing (fixed quantiles of the training data, deduplicated). */
    edges: z.array(finite),
    /** Training rows per bin: edges.length + 1 counts. */
    counts: z.array(count),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.counts.length !== b.edges.length + 1) ctx.addIssue({ code: 'custom', path: ['counts'], message: `has ${b.counts.length} counts for ${b.edges.length} edges; there must be edges.length + 1 (one bin below the first edge, one above the last)` });
    for (let i = 1; i < b.edges.length; i++) {
      if (!(b.edges[i]! > b.edges[i - 1]!)) ctx.addIssue({ code: 'custom', path: ['edges', i], message: `must be greater than edges[${i - 1}] (${b.edges[i - 1]}): edges are strictly increasing; drop repeated quantiles` });
    }
  });
export type NumericBins = z.infer<typeof NumericBinsSchema>;

export const NumericFeatureBaselineSchema = z
  .object({
    kind: z.literal('numeric'),
    /** Share of training rows where the feature was missing. */
    nullRate: rate,
    /** Of the non-null training values. */
    min: finite,
    max: finite,
    mean: finite,
    std: z.number().finite().nonnegative(),
    bins: NumericBinsSchema,
    /** Non-null values of a uniform random (reservoir) sample of training rows, for KS and Wasserstein. */
    sample: z.array(finite).min(1, 'must hold at least one value'),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.min > f.max) ctx.addIssue({ code: 'custom', path: ['min'], message: `is greater than max (${f.max})` });
  });
export type NumericFeatureBaseline = z.infer<typeof NumericFeatureBaselineSchema>;

export const CategoricalFeatureBaselineSchema = z
  .object({
    kind: z.literal('categorical'),
    nullRate: rate,
    /** Training rows per category (a builder may keep only the most frequent ones). */
    categories: z.record(z.string(), count),
    /** Non-null training rows in categories not listed above (0 when every category is listed). */
    otherCount: count.default(0),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (Object.keys(f.categories).length === 0) ctx.addIssue({ code: 'custom', path: ['categories'], message: 'must list at least one category' });
  });
export type CategoricalFeatureBaseline = z.infer<typeof CategoricalFeatureBaselineSchema>;

export const FeatureBaselineSchema = z.discriminatedUnion('kind', [NumericFeatureBaselineSchema, CategoricalFeatureBaselineSchema]);
export type FeatureBaseline = z.infer<typeof FeatureBaselineSchema>;

/**
 * A monotone map from the model's score to the observed positive rate on the holdout (e.g. an
 * isotonic fit), applied by linear interpolation. Absent = the scores are already calibrated.
 */
export const CalibrationMapSchema = z
  .object({ scores: z.array(finite).min(2), probabilities: z.array(rate).min(2) })
  .strict()
  .superRefine((c, ctx) => {
    if (c.scores.length !== c.probabilities.length) ctx.addIssue({ code: 'custom', path: ['probabilities'], message: `has ${c.probabilities.length} values for ${c.scores.length} scores` });
    for (let i = 1; i < c.scores.length; i++) {
      if (!(c.scores[i]! > c.scores[i - 1]!)) ctx.addIssue({ code: 'custom', path: ['scores', i], message: 'scores must be strictly increasing' });
      if (c.probabilities[i]! < c.probabilities[i - 1]!) ctx.addIssue({ code: 'custom', path: ['probabilities', i], message: 'probabilities must not decrease (the map is monotone)' });
    }
  });
export type CalibrationMap = z.infer<typeof CalibrationMapSchema>;

export const MonitoringBaselineSchema = z
  .object({
    /** Training rows the baseline was computed over. */
    rows: count,
    /** Per model input, keyed like the prediction log's `features` (`view:feature`). */
    features: z.record(z.string(), FeatureBaselineSchema),
    /** The distribution of the model's first output (a score, a value, or a class). */
    prediction: FeatureBaselineSchema,
    /** For a binary classifier's score: how it maps to the observed positive rate (for estimated performance). */
    calibration: CalibrationMapSchema.optional(),
    /** The training labels' distribution, for label drift. */
    label: FeatureBaselineSchema.optional(),
  })
  .strict();
export type MonitoringBaseline = z.infer<typeof MonitoringBaselineSchema>;

/** The bin of `x` under the left-closed rule above: the number of edges <= x. */
export function binIndex(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The calibrated probability for a score (identity when there is no map; clamped outside it). */
export function calibrate(map: CalibrationMap | undefined, score: number): number {
  if (!map) return Math.min(1, Math.max(0, score));
  const { scores, probabilities } = map;
  if (score <= scores[0]!) return probabilities[0]!;
  const last = scores.length - 1;
  if (score >= scores[last]!) return probabilities[last]!;
  const i = binIndex(scores, score); // scores[i-1] <= score < scores[i]
  const x0 = scores[i - 1]!;
  const x1 = scores[i]!;
  const y0 = probabilities[i - 1]!;
  const y1 = probabilities[i]!;
  return y0 + ((score - x0) / (x1 - x0)) * (y1 - y0);
}
