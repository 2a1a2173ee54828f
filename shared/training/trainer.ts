/**
 * The Trainer contract: what the platform needs from anything that makes a model, so the
 * built-in trainers (logistic regression, gradient-boosted trees) and a user's own trainer
 * written in TypeScript run the same way (in the fit worker, with the same evaluation,
 * baseline and registration after it).
 *
 * A trainer validates its params (throwing ValidationError naming the field), says how it
 * wants its rows (dense float32, or pre-binned bytes for tree learners), and fits: training
 * rows in, an ONNX model out, plus the trainer's own predictions (so the platform can check
 * that onnxruntime agrees with what was trained), loss curves and a JSON summary.
 *
 * Conventions every trainer keeps:
 *  - deterministic for `ctx.seed`: all randomness from `ctx.random(label)`;
 *  - the ONNX graph has one float input [N, features] with a dynamic batch dimension and
 *    numeric tensor outputs (no ZipMap), so it registers in the serving registry as it is;
 *  - predictions are the probability of class 1 (binary) or the value (regression);
 *  - `validationRows` > 0 means the last that many training rows were held out for early
 *    stopping (rows come in time order from a training set, so these are the newest).
 */
import type { z } from 'zod';
import { ValidationError, detailsFromZod } from '../errors';
import type { DenseData, Task } from './data';
import type { BinnedData } from './bins';
import type { Random } from './random';

export type TrainingRows = DenseData | BinnedData;

/** How a trainer wants its rows: floats, or bytes binned at quantile cuts (maxBins per feature). */
export type DataLayout = { kind: 'dense' } | { kind: 'binned'; maxBins: number; sampleRows?: number };

export interface FitProgress {
  /** Units done and in total, e.g. trees built / trees planned, Newton steps / limit. */
  done: number;
  total: number;
  unit: string;
  /** The latest training and validation loss, when the trainer has them. */
  trainLoss?: number;
  validationLoss?: number;
}

export interface FitContext {
  task: Task;
  seed: number;
  /** An independent seeded stream per purpose (same seed + label = same stream). */
  random(label: string): Random;
  /** Call as often as is useful; the runner forwards at most a few messages per second. */
  progress(p: FitProgress): void;
  /** Threads the trainer may use for its own parallel work (1 = only the fit's thread). */
  threads: number;
  /** Set when the fit should stop (job cancelled); check it between iterations. */
  signal?: AbortSignal;
  /** Report CPU time (ms) used on threads the trainer started itself, so the run's CPU time includes it. */
  helperCpu?(ms: number): void;
}

export interface LossCurves {
  /** The loss per iteration: log loss (binary) or RMSE (regression). */
  loss: 'logLoss' | 'rmse';
  train: number[];
  /** Empty when no validation rows were held out. */
  validation: number[];
  /** The iteration kept (early stopping), 1-based; the last one when there is no validation. */
  bestIteration: number;
}

/** Which ONNX output is the prediction, in the serving signature's terms. */
export interface ModelOutput {
  name: string;
  column?: number;
  meaning: string;
}

export interface FittedModel {
  onnx: Uint8Array;
  output: ModelOutput;
  /** Name of the ONNX input (the signature's `input.name`). */
  inputName: string;
  /** The trainer's own predictions for row-major float32 rows (NaN = missing), as onnxruntime should give them. */
  predict(x: Float32Array, nRows: number): Float64Array;
  /** Predictions for every training row, in order. */
  trainPredictions: Float64Array;
  /** The last this many training rows were used only for early stopping. */
  validationRows: number;
  curves: LossCurves;
  /** JSON the run records: coefficients, trees built, best iteration... */
  summary: Record<string, unknown>;
}

export interface Trainer<P = unknown> {
  readonly name: string;
  readonly description: string;
  readonly tasks: readonly Task[];
  /** Validate raw params (JSON from a training config) and fill defaults; the result is recorded with the run. */
  parseParams(raw: unknown): P;
  layout(params: P): DataLayout;
  fit(rows: TrainingRows, params: P, ctx: FitContext): Promise<FittedModel> | FittedModel;
}

/** A trainer whose fit returns synchronously (the built-ins: they are CPU loops). */
export interface SyncTrainer<P = unknown> extends Trainer<P> {
  fit(rows: TrainingRows, params: P, ctx: FitContext): FittedModel;
}

/** A trainer with its params type erased, as the registry holds it. */
export type AnyTrainer = Trainer<any>;

/** Loss of one iteration, for curves: log loss of margins, or RMSE of values. */
export function marginLoss(
  task: Task,
  y: ArrayLike<number>,
  margin: ArrayLike<number>,
  from: number,
  to: number,
  step = 1,
): number {
  let s = 0;
  let n = 0;
  if (task === 'binary') {
    for (let i = from; i < to; i += step) {
      const m = margin[i]!;
      // log(1 + e^-|m|) + max(m, 0) - y m: log loss of sigmoid(m), stable for large |m|.
      s += Math.log1p(Math.exp(-Math.abs(m))) + (m > 0 ? m : 0) - y[i]! * m;
      n++;
    }
    return n ? s / n : NaN;
  }
  for (let i = from; i < to; i += step) {
    const d = margin[i]! - y[i]!;
    s += d * d;
    n++;
  }
  return n ? Math.sqrt(s / n) : NaN;
}

/** Parse a trainer's params with its zod schema; problems are named `params.<field>`. */
export function parseParams<S extends z.ZodType>(trainer: string, schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success)
    throw new ValidationError(`invalid params for trainer "${trainer}"`, detailsFromZod(r.error.issues, 'params'));
  return r.data;
}
