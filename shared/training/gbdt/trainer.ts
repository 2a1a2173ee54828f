/**
 * The gradient-boosted trees trainer: histogram boosting (XGBoost's `hist`, LightGBM's
 * approach) for binary log loss and squared error, on rows binned to one byte per cell.
 *
 * Per tree: gradients and hessians of every fit row (float32, interleaved), the tree's row
 * sample and feature sample from the seed, best-first growth with histogram subtraction
 * (grow.ts), leaf values added straight to the margins of the rows each leaf holds; rows
 * outside the sample and validation rows are scored by walking the new tree on their bins.
 * Early stopping keeps the trees up to the best validation loss.
 */
import { ValidationError } from '../../errors';
import { binDense, type BinnedData } from '../bins';
import {
  parseParams,
  marginLoss,
  type FitContext,
  type FittedModel,
  type SyncTrainer,
  type TrainingRows,
} from '../trainer';
import { GbdtParamsSchema, type GbdtParams } from './params';
import { TreeGrower } from './grow';
import { EnsembleBuilder, addTreeBinned, addTreesBinned, describeTree, link, predictMargins, toOnnx } from './model';
import { createKernels } from './parallel';
import { allocateKernelData, histogramLength } from './histogram';

export type { GbdtParams } from './params';

function baseScore(binary: boolean, y: Float64Array, n: number): number {
  let s = 0;
  for (let r = 0; r < n; r++) s += y[r]!;
  const mean = s / n;
  if (!binary) return Math.fround(mean);
  const p = Math.min(1 - 1e-6, Math.max(1e-6, mean));
  return Math.fround(Math.log(p / (1 - p)));
}

export function fitGbdt(data: BinnedData, params: GbdtParams, ctx: FitContext): FittedModel {
  const binary = ctx.task === 'binary';
  const n = data.nRows;
  const nValid = Math.floor(n * params.validationFraction);
  const nFit = n - nValid;
  if (nFit < 2)
    throw new ValidationError('too few training rows', [
      { where: 'rows', problem: `${nFit} rows to fit; trees need at least 2` },
    ]);
  const F = data.nFeatures;
  const y = data.y;
  const base = baseScore(binary, y, nFit);
  const shared = allocateKernelData(binary, data.bins, data.stride, y, nFit);
  const { margins, rows } = shared;
  margins.fill(base);
  const validMargins = new Float64Array(nValid).fill(base);
  const outside = params.subsample < 1 ? new Uint32Array(nFit) : undefined;
  const kernels = createKernels(shared, ctx.threads, histogramLength(data.stride));
  const grower = new TreeGrower(data, kernels, {
    maxDepth: params.maxDepth,
    maxLeaves: params.maxLeaves,
    minChildWeight: params.minChildWeight,
    l2: params.l2,
    minSplitGain: params.minSplitGain,
    learningRate: params.learningRate,
  });
  const ensemble = new EnsembleBuilder(ctx.task, F, base);
  const rowRng = ctx.random('gbdt-rows');
  const colRng = ctx.random('gbdt-columns');
  const allFeatures = Int32Array.from({ length: F }, (_, f) => f);
  const nCols = Math.max(1, Math.round(params.colsample * F));
  const curveStep = Math.max(1, Math.ceil(nFit / params.curveRows));
  const train: number[] = [];
  const validation: number[] = [];
  let best = { loss: Infinity, trees: 0 };
  try {
    for (let t = 0; t < params.trees; t++) {
      ctx.signal?.throwIfAborted();
      kernels.gradients(nFit);
      let inTree = nFit;
      let nOutside = 0;
      if (outside) {
        inTree = 0;
        for (let r = 0; r < nFit; r++) {
          if (rowRng.next() < params.subsample) rows[inTree++] = r;
          else outside[nOutside++] = r;
        }
      } else for (let r = 0; r < nFit; r++) rows[r] = r;
      const features = nCols < F ? colRng.choose(F, nCols) : allFeatures;
      const tree = grower.grow(inTree, features, margins);
      ensemble.add(tree);
      if (nOutside) {
        const one = new Float64Array(1);
        for (let i = 0; i < nOutside; i++) {
          const r = outside![i]!;
          one[0] = 0;
          addTreeBinned(tree, 0, data.bins, data.stride, r, r + 1, one);
          margins[r]! += one[0]!;
        }
      }
      train.push(marginLoss(ctx.task, y, margins, 0, nFit, curveStep));
      if (nValid) {
        addTreeBinned(tree, 0, data.bins, data.stride, nFit, n, validMargins);
        let loss = 0;
        if (binary) {
          for (let i = 0; i < nValid; i++) {
            const m = validMargins[i]!;
            loss += Math.log1p(Math.exp(-Math.abs(m))) + (m > 0 ? m : 0) - y[nFit + i]! * m;
          }
          loss /= nValid;
        } else {
          for (let i = 0; i < nValid; i++) loss += (validMargins[i]! - y[nFit + i]!) ** 2;
          loss = Math.sqrt(loss / nValid);
        }
        validation.push(loss);
        if (loss < best.loss) best = { loss, trees: t + 1 };
      } else best = { loss: train.at(-1)!, trees: t + 1 };
      ctx.progress({
        done: t + 1,
        total: params.trees,
        unit: 'trees',
        trainLoss: train.at(-1),
        validationLoss: validation.at(-1),
      });
      if (nValid && t + 1 - best.trees >= params.earlyStoppingRounds) break;
    }
  } finally {
    ctx.helperCpu?.(kernels.close());
  }

  const built = ensemble.trees;
  const model = ensemble.build(best.trees);
  const full = ensemble.build();
  // Trees after the best one (early stopping) come off the margins again.
  if (best.trees < built) {
    addTreesBinned(full, best.trees, built, data.bins, data.stride, 0, nFit, margins, -1);
    addTreesBinned(full, best.trees, built, data.bins, data.stride, nFit, n, validMargins, -1);
  }
  const trainPredictions = new Float64Array(n);
  trainPredictions.set(margins, 0);
  trainPredictions.set(validMargins, nFit);
  link(ctx.task, trainPredictions);
  const onnx = toOnnx(model, data.featureNames, { 'strata.trainer': 'gbdt', 'strata.trees': String(best.trees) });
  return {
    onnx,
    inputName: 'features',
    output: binary
      ? { name: 'probabilities', column: 1, meaning: 'probability of class 1' }
      : { name: 'variable', column: 0, meaning: 'predicted value' },
    predict: (x, nRows) => link(ctx.task, predictMargins(model, x, nRows)),
    trainPredictions,
    validationRows: nValid,
    curves: { loss: binary ? 'logLoss' : 'rmse', train, validation, bestIteration: best.trees },
    summary: {
      treesBuilt: built,
      treesKept: best.trees,
      baseScore: base,
      nodes: model.feature.length,
      leaves: model.feature.reduce((s, f) => s + (f < 0 ? 1 : 0), 0),
      bins: Object.fromEntries(data.featureNames.map((f, i) => [f, data.cuts[i]!.length + 1])),
      firstTree: best.trees ? describeTree(model, 0, data.featureNames) : null,
    },
  };
}

export const gbdtTrainer: SyncTrainer<GbdtParams> = {
  name: 'gbdt',
  description:
    'histogram gradient-boosted trees (binary log loss or squared error), exported as ai.onnx.ml TreeEnsemble',
  tasks: ['binary', 'regression'],
  parseParams: (raw) => parseParams('gbdt', GbdtParamsSchema, raw),
  layout: (p) => ({ kind: 'binned', maxBins: p.maxBins }),
  fit(rows: TrainingRows, params: GbdtParams, ctx: FitContext): FittedModel {
    const binned = rows.kind === 'binned' ? rows : binDense(rows, { maxBins: params.maxBins, seed: ctx.seed });
    return fitGbdt(binned, params, ctx);
  },
};
