/**
 * Logistic regression with an L2 penalty, fitted by Newton's method (IRLS) on standardised
 * features, exported with the standardisation folded into the weights: the ONNX graph is
 * Imputer (missing -> the training mean) -> MatMul -> Add -> Sigmoid on the raw features.
 *
 * Objective: sum of log losses + l2/2 · ||w||² over standardised coefficients (the intercept
 * is not penalised), so l2 means the same whatever the features' units.
 *
 * Speed: an exact Hessian costs F²/2 multiply-adds per row, a gradient 2F. So the fit first
 * runs Newton to convergence on a strided subsample (`warmStartRows`), then takes full-data
 * steps with that subsample's Hessian scaled to the full row count: on a representative
 * subsample it is within a fraction of a percent of the full Hessian, so each cheap
 * gradient-only pass converges almost like Newton. If a step fails to lower the loss the fit
 * falls back to exact full-data Newton steps with backtracking. Deterministic: no randomness
 * but the subsample's offset, taken from the seed.
 */
import { z } from 'zod';
import { logisticRegressionModel } from '../onnx';
import { ValidationError } from '../errors';
import type { DenseData } from './data';
import { parseParams, type FitContext, type FittedModel, type SyncTrainer, type TrainingRows } from './trainer';

export const LogisticParamsSchema = z
  .object({
    /** L2 penalty on standardised coefficients (on the summed loss). */
    l2: z.number().min(0, 'must be >= 0').default(1),
    /** Newton steps at most (warm start and full data each). */
    maxIterations: z.number().int().min(1).max(1000).default(100),
    /** Stop when no standardised coefficient moves by more than this in a step. */
    tolerance: z.number().positive().default(1e-6),
    /** Rows the warm start uses (0 = no warm start: exact Newton on all rows). */
    warmStartRows: z.number().int().min(0).default(50_000),
    /** Share of the newest training rows held out to report a validation loss curve (no early stopping). */
    validationFraction: z.number().min(0).max(0.5).default(0),
  })
  .strict();
export type LogisticParams = z.output<typeof LogisticParamsSchema>;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

interface Standardised {
  /** Row-major standardised values (missing = 0, the mean). */
  s: Float32Array;
  mean: Float64Array;
  scale: Float64Array;
}

function standardise(data: DenseData, fitRows: number): Standardised {
  const F = data.featureNames.length;
  const n = data.nRows;
  const sum = new Float64Array(F);
  const sumSq = new Float64Array(F);
  const count = new Float64Array(F);
  const x = data.x;
  for (let r = 0; r < fitRows; r++) {
    const base = r * F;
    for (let f = 0; f < F; f++) {
      const v = x[base + f]!;
      if (v === v) {
        sum[f]! += v;
        count[f]!++;
      }
    }
  }
  const mean = new Float64Array(F);
  for (let f = 0; f < F; f++) mean[f] = count[f] ? sum[f]! / count[f]! : 0;
  for (let r = 0; r < fitRows; r++) {
    const base = r * F;
    for (let f = 0; f < F; f++) {
      const v = x[base + f]!;
      if (v === v) sumSq[f]! += (v - mean[f]!) ** 2;
    }
  }
  const scale = new Float64Array(F);
  // A constant (or empty) feature keeps scale 1: its standardised value is 0 and its weight stays 0.
  for (let f = 0; f < F; f++) scale[f] = count[f]! > 1 && sumSq[f]! > 0 ? Math.sqrt(sumSq[f]! / count[f]!) : 1;
  const s = new Float32Array(n * F);
  for (let r = 0; r < n; r++) {
    const base = r * F;
    for (let f = 0; f < F; f++) {
      const v = x[base + f]!;
      s[base + f] = v === v ? (v - mean[f]!) / scale[f]! : 0;
    }
  }
  return { s, mean, scale };
}

interface Pass {
  loss: number;
  rows: number;
  g: Float64Array;
  /** Lower triangle, (F+1)², intercept last; only when asked for. */
  h?: Float64Array;
}

/** Sum of log losses, gradient and (optionally) Hessian over rows from, from+step, ... < to. */
function pass(
  s: Float32Array,
  y: Float64Array,
  F: number,
  w: Float64Array,
  from: number,
  to: number,
  step: number,
  withHessian: boolean,
): Pass {
  const D = F + 1;
  const g = new Float64Array(D);
  const h = withHessian ? new Float64Array(D * D) : undefined;
  let loss = 0;
  let rows = 0;
  const b = w[F]!;
  for (let r = from; r < to; r += step) {
    const base = r * F;
    let z = b;
    for (let j = 0; j < F; j++) z += w[j]! * s[base + j]!;
    const yi = y[r]!;
    // One exp for both: e = exp(-|z|); log loss = log(1 + e) + max(z, 0) - y z; sigmoid from e.
    const ez = Math.exp(-Math.abs(z));
    loss += Math.log1p(ez) + (z > 0 ? z : 0) - yi * z;
    const p = z >= 0 ? 1 / (1 + ez) : ez / (1 + ez);
    const e = p - yi;
    for (let j = 0; j < F; j++) g[j]! += e * s[base + j]!;
    g[F]! += e;
    if (h) {
      const wi = p * (1 - p);
      for (let j = 0; j < F; j++) {
        const ws = wi * s[base + j]!;
        const row = j * D;
        for (let k = 0; k <= j; k++) h[row + k]! += ws * s[base + k]!;
        h[F * D + j]! += ws;
      }
      h[F * D + F]! += wi;
    }
    rows++;
  }
  return { loss, rows, g, h };
}

/** Add the L2 penalty (not on the intercept) to a pass's loss, gradient and Hessian. */
function penalise(p: Pass, w: Float64Array, F: number, l2: number): void {
  const D = F + 1;
  for (let j = 0; j < F; j++) {
    p.loss += 0.5 * l2 * w[j]! * w[j]!;
    p.g[j]! += l2 * w[j]!;
    if (p.h) p.h[j * D + j]! += l2;
  }
}

/** Solve H d = g for symmetric positive definite H (lower triangle given) by Cholesky. */
export function choleskySolve(h: Float64Array, g: Float64Array, D: number): Float64Array {
  const L = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = h[i * D + j]!;
      for (let k = 0; k < j; k++) s -= L[i * D + k]! * L[j * D + k]!;
      if (i === j) {
        // A tiny ridge keeps a singular Hessian (a constant feature with l2 = 0) solvable.
        L[i * D + i] = Math.sqrt(s > 1e-12 ? s : 1e-12);
      } else L[i * D + j] = s / L[j * D + j]!;
    }
  }
  const z = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    let s = g[i]!;
    for (let k = 0; k < i; k++) s -= L[i * D + k]! * z[k]!;
    z[i] = s / L[i * D + i]!;
  }
  const d = new Float64Array(D);
  for (let i = D - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < D; k++) s -= L[k * D + i]! * d[k]!;
    d[i] = s / L[i * D + i]!;
  }
  return d;
}

const maxAbs = (d: Float64Array) => d.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

export const logisticTrainer: SyncTrainer<LogisticParams> = {
  name: 'logistic',
  description:
    'L2-regularised logistic regression (Newton/IRLS on standardised features, standardisation folded into the exported weights)',
  tasks: ['binary'],
  parseParams: (raw) => parseParams('logistic', LogisticParamsSchema, raw),
  layout: () => ({ kind: 'dense' }),
  fit(rows: TrainingRows, params: LogisticParams, ctx: FitContext): FittedModel {
    if (rows.kind !== 'dense') throw new Error('logistic regression needs dense rows');
    if (ctx.task !== 'binary')
      throw new ValidationError('logistic regression is for binary classification', [
        { where: 'task', problem: `is ${ctx.task}; use the gbdt trainer for regression` },
      ]);
    const data = rows;
    const F = data.featureNames.length;
    const n = data.nRows;
    const nValid = Math.floor(n * params.validationFraction);
    const nFit = n - nValid;
    if (nFit < 2)
      throw new ValidationError('too few training rows', [
        { where: 'rows', problem: `${nFit} rows to fit; logistic regression needs at least 2` },
      ]);
    const { s, mean, scale } = standardise(data, nFit);
    const D = F + 1;
    const y = data.y;
    let w: Float64Array = new Float64Array(D);
    const train: number[] = [];
    const validation: number[] = [];
    const record = (p: Pass) => {
      train.push(p.loss / p.rows);
      if (nValid) validation.push(pass(s, y, F, w, nFit, n, 1, false).loss / nValid);
      ctx.progress({
        done: train.length,
        total: params.maxIterations * 2,
        unit: 'Newton steps',
        trainLoss: train.at(-1),
        validationLoss: validation.at(-1),
      });
    };

    // 1. Newton to convergence on a strided subsample (the penalty scaled to its share of rows).
    let warmIterations = 0;
    let hWarm: Float64Array | undefined;
    let warmScale = 1;
    const step =
      params.warmStartRows > 0 && nFit > params.warmStartRows * 2 ? Math.ceil(nFit / params.warmStartRows) : 0;
    if (step) {
      const offset = ctx.random('logistic-warm-start').int(step);
      for (let it = 0; it < params.maxIterations; it++) {
        ctx.signal?.throwIfAborted();
        const p = pass(s, y, F, w, offset, nFit, step, true);
        warmScale = nFit / p.rows;
        penalise(p, w, F, params.l2 / warmScale);
        record(p);
        const d = choleskySolve(p.h!, p.g, D);
        for (let j = 0; j < D; j++) w[j]! -= d[j]!;
        warmIterations++;
        hWarm = p.h;
        if (maxAbs(d) < params.tolerance) break;
      }
    }

    // 2. Full data: steps with the warm start's Hessian (scaled), exact Newton if one fails to help.
    let fullIterations = 0;
    let exact = !hWarm;
    let prev: { loss: number; w: Float64Array } | undefined;
    let hFixed: Float64Array | undefined;
    if (hWarm) {
      // The warm pass carried l2 / warmScale on its diagonal, so scaled up it carries l2.
      hFixed = hWarm.map((v) => v * warmScale);
    }
    let stepSize = 1;
    for (let it = 0; it < params.maxIterations; it++) {
      ctx.signal?.throwIfAborted();
      const p = pass(s, y, F, w, 0, nFit, 1, exact);
      penalise(p, w, F, params.l2);
      if (prev && p.loss > prev.loss + 1e-12 * Math.abs(prev.loss)) {
        // The step made things worse: back to the previous point, exact Newton from there.
        w = prev.w;
        if (!exact) exact = true;
        else stepSize /= 2;
        if (stepSize < 1e-6) break;
        continue;
      }
      record(p);
      fullIterations++;
      const d = choleskySolve(exact ? p.h! : hFixed!, p.g, D);
      prev = { loss: p.loss, w: w.slice() };
      for (let j = 0; j < D; j++) w[j]! -= stepSize * d[j]!;
      if (maxAbs(d) * stepSize < params.tolerance) break;
    }

    // Fold the standardisation into raw-feature weights: w·(x - mean)/scale + b.
    const weights = Array.from({ length: F }, (_, j) => w[j]! / scale[j]!);
    let bias = w[F]!;
    for (let j = 0; j < F; j++) bias -= weights[j]! * mean[j]!;
    const exported = {
      weights: weights.map(Math.fround),
      bias: Math.fround(bias),
      impute: Array.from(mean, Math.fround),
    };
    const onnx = logisticRegressionModel({
      weights: exported.weights,
      bias: exported.bias,
      impute: exported.impute,
      featureNames: [...data.featureNames],
      meta: {
        doc: 'logistic regression (strata training): probability of class 1',
        props: { 'strata.trainer': 'logistic' },
      },
    });
    const predict = (x: Float32Array, nRows: number): Float64Array => {
      const out = new Float64Array(nRows);
      for (let r = 0; r < nRows; r++) {
        let z = exported.bias;
        const base = r * F;
        for (let j = 0; j < F; j++) {
          const v = x[base + j]!;
          z += exported.weights[j]! * (v === v ? v : exported.impute[j]!);
        }
        out[r] = sigmoid(z);
      }
      return out;
    };
    return {
      onnx,
      inputName: 'features',
      output: { name: 'probability', meaning: 'probability of class 1' },
      predict,
      trainPredictions: predict(data.x, n),
      validationRows: nValid,
      curves: { loss: 'logLoss', train, validation, bestIteration: train.length },
      summary: {
        weights: Object.fromEntries(data.featureNames.map((f, j) => [f, exported.weights[j]])),
        bias: exported.bias,
        standardisedWeights: Object.fromEntries(data.featureNames.map((f, j) => [f, w[j]])),
        mean: Object.fromEntries(data.featureNames.map((f, j) => [f, mean[j]])),
        scale: Object.fromEntries(data.featureNames.map((f, j) => [f, scale[j]])),
        warmStartIterations: warmIterations,
        fullDataIterations: fullIterations,
        exactNewton: exact,
      },
    };
  },
};
