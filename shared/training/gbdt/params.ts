/**
 * Parameters of the gradient-boosted trees trainer, with XGBoost's meanings (and names a
 * user of XGBoost or LightGBM will recognise in the comments).
 */
import { z } from 'zod';
import { MAX_BINS } from '../bins';

export const GbdtParamsSchema = z
  .object({
    /** Boosting rounds (num_boost_round / n_estimators). */
    trees: z.number().int().min(1).max(10_000).default(100),
    /** Shrinkage on every leaf (eta). */
    learningRate: z.number().positive().max(1).default(0.1),
    /** Deepest split level (max_depth); the root is depth 0. */
    maxDepth: z.number().int().min(1).max(20).default(6),
    /** Leaves per tree at most (max_leaves / num_leaves); 0 = only the depth limits. */
    maxLeaves: z
      .number()
      .int()
      .min(0)
      .max(65_536)
      .refine((v) => v === 0 || v >= 2, 'must be 0 (no limit) or at least 2')
      .default(0),
    /** Least hessian sum in a child (min_child_weight). */
    minChildWeight: z.number().min(0).default(1),
    /** L2 penalty on leaf weights (lambda). */
    l2: z.number().min(0).default(1),
    /** Least loss reduction to make a split (gamma / min_split_gain). */
    minSplitGain: z.number().min(0).default(0),
    /** Share of rows each tree sees, sampled per tree without replacement (subsample). */
    subsample: z.number().gt(0, 'must be > 0').max(1).default(1),
    /** Share of features each tree may split on (colsample_bytree). */
    colsample: z.number().gt(0, 'must be > 0').max(1).default(1),
    /** Value bins per feature, at quantiles (max_bin); bin 0 is kept for missing values. */
    maxBins: z.number().int().min(2).max(MAX_BINS).default(MAX_BINS),
    /** Share of the newest training rows held out for early stopping (0 = none). */
    validationFraction: z.number().min(0).max(0.5).default(0),
    /** Stop when the validation loss has not improved for this many trees (needs validationFraction > 0). */
    earlyStoppingRounds: z.number().int().min(1).default(10),
    /** Rows (a fixed stride sample) the per-tree training loss curve is computed on. */
    curveRows: z.number().int().min(1).default(65_536),
  })
  .strict();
export type GbdtParams = z.output<typeof GbdtParamsSchema>;
