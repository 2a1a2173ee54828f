/**
 * A boosted tree ensemble as flat typed arrays, how it predicts, and how it becomes ONNX.
 *
 * Every node of every tree sits in one set of arrays (trees are contiguous, a child comes
 * after its parent, node 0 of a tree is its root). A split sends a row left when
 * x[feature] < threshold, a missing value (NaN) where `missingLeft` says: exactly
 * onnxruntime's BRANCH_LT with nodes_missing_value_tracks_true. Thresholds, leaf values and
 * the base score are float32 values, so the ONNX file holds the same numbers the trainer
 * used; the trainer's predictions and onnxruntime's differ only by float32 summation.
 *
 * The same splits also carry their bin ("bin <= splitBin goes left", bin 0 = missing), so
 * binned rows (training, validation) are scored without going back to floats.
 */
import { treeEnsembleClassifierModel, treeEnsembleRegressorModel, type TreeNode } from '../../onnx';
import type { Task } from '../data';

/** Per-node arrays of one or more trees (feature -1 = leaf). */
export interface TreeArrays {
  feature: Int32Array;
  threshold: Float32Array;
  splitBin: Uint8Array;
  missingLeft: Uint8Array;
  /** Children as indices within the tree (0-based from the tree's root). */
  left: Int32Array;
  right: Int32Array;
  /** Leaf values (learning rate applied), float32. */
  value: Float64Array;
}

export interface Ensemble extends TreeArrays {
  task: Task;
  nFeatures: number;
  baseScore: number;
  /** Start of each tree's nodes; treeStart[nTrees] = total nodes. */
  treeStart: Int32Array;
}

export const nTrees = (e: Ensemble): number => e.treeStart.length - 1;

/** Grows an ensemble one tree at a time. */
export class EnsembleBuilder {
  private readonly starts: number[] = [0];
  private readonly f: number[] = [];
  private readonly t: number[] = [];
  private readonly b: number[] = [];
  private readonly m: number[] = [];
  private readonly l: number[] = [];
  private readonly r: number[] = [];
  private readonly v: number[] = [];

  constructor(
    readonly task: Task,
    readonly nFeatures: number,
    readonly baseScore: number,
  ) {}

  get trees(): number {
    return this.starts.length - 1;
  }

  /** Add a tree given as per-node arrays (index = node id within the tree). */
  add(tree: GrownTree): void {
    for (let i = 0; i < tree.size; i++) {
      this.f.push(tree.feature[i]!);
      this.t.push(tree.threshold[i]!);
      this.b.push(tree.splitBin[i]!);
      this.m.push(tree.missingLeft[i]!);
      this.l.push(tree.left[i]!);
      this.r.push(tree.right[i]!);
      this.v.push(tree.value[i]!);
    }
    this.starts.push(this.f.length);
  }

  /** The ensemble of the first `trees` trees. */
  build(trees = this.trees): Ensemble {
    const end = this.starts[trees]!;
    return {
      task: this.task,
      nFeatures: this.nFeatures,
      baseScore: this.baseScore,
      treeStart: Int32Array.from(this.starts.slice(0, trees + 1)),
      feature: Int32Array.from(this.f.slice(0, end)),
      threshold: Float32Array.from(this.t.slice(0, end)),
      splitBin: Uint8Array.from(this.b.slice(0, end)),
      missingLeft: Uint8Array.from(this.m.slice(0, end)),
      left: Int32Array.from(this.l.slice(0, end)),
      right: Int32Array.from(this.r.slice(0, end)),
      value: Float64Array.from(this.v.slice(0, end)),
    };
  }
}

/** One grown tree. */
export interface GrownTree extends TreeArrays {
  size: number;
}

/** The leaf of one tree a float row reaches. */
function leafOf(e: Ensemble, start: number, x: Float32Array, base: number): number {
  let n = start;
  while (e.feature[n]! >= 0) {
    const v = x[base + e.feature[n]!]!;
    const goLeft = v !== v ? e.missingLeft[n] === 1 : v < e.threshold[n]!;
    n = start + (goLeft ? e.left[n]! : e.right[n]!);
  }
  return n;
}

/** Raw margins (logit for binary, value for regression) of row-major float rows. */
export function predictMargins(e: Ensemble, x: Float32Array, nRows: number): Float64Array {
  const out = new Float64Array(nRows).fill(e.baseScore);
  const T = nTrees(e);
  const F = e.nFeatures;
  for (let t = 0; t < T; t++) {
    const start = e.treeStart[t]!;
    for (let r = 0; r < nRows; r++) out[r]! += e.value[leafOf(e, start, x, r * F)]!;
  }
  return out;
}

/** margins[r - rowFrom] += sign × (the tree's leaf for binned row r), for rows [rowFrom, rowTo). */
/** The walk reads an Ensemble (with a tree's start) or one GrownTree (start 0). */
export function addTreeBinned(
  t: TreeArrays,
  start: number,
  bins: Uint8Array,
  stride: number,
  rowFrom: number,
  rowTo: number,
  margins: Float64Array,
  sign = 1,
): void {
  for (let r = rowFrom; r < rowTo; r++) {
    const base = r * stride;
    let n = start;
    while (t.feature[n]! >= 0) {
      const b = bins[base + t.feature[n]!]!;
      const goLeft = b === 0 ? t.missingLeft[n] === 1 : b <= t.splitBin[n]!;
      n = start + (goLeft ? t.left[n]! : t.right[n]!);
    }
    margins[r - rowFrom]! += sign * t.value[n]!;
  }
}

/** addTreeBinned for trees [from, to) of an ensemble. */
export function addTreesBinned(
  e: Ensemble,
  from: number,
  to: number,
  bins: Uint8Array,
  stride: number,
  rowFrom: number,
  rowTo: number,
  margins: Float64Array,
  sign = 1,
): void {
  for (let t = from; t < to; t++) addTreeBinned(e, e.treeStart[t]!, bins, stride, rowFrom, rowTo, margins, sign);
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Margins to predictions: probabilities for binary, values for regression (in place). */
export function link(task: Task, margins: Float64Array): Float64Array {
  if (task === 'binary') for (let i = 0; i < margins.length; i++) margins[i] = sigmoid(margins[i]!);
  return margins;
}

export function toOnnx(e: Ensemble, featureNames: readonly string[], meta: Record<string, string>): Uint8Array {
  const trees: TreeNode[][] = [];
  for (let t = 0; t < nTrees(e); t++) {
    const nodes: TreeNode[] = [];
    for (let n = e.treeStart[t]!; n < e.treeStart[t + 1]!; n++) {
      if (e.feature[n]! < 0) nodes.push({ value: e.value[n]! });
      else
        nodes.push({
          feature: e.feature[n]!,
          threshold: e.threshold[n]!,
          left: e.left[n]!,
          right: e.right[n]!,
          missingGoesLeft: e.missingLeft[n] === 1,
        });
    }
    trees.push(nodes);
  }
  if (trees.length === 0) trees.push([{ value: 0 }]);
  const spec = {
    nFeatures: e.nFeatures,
    trees,
    baseScore: e.baseScore,
    featureNames: [...featureNames],
    meta: { props: meta },
  };
  return e.task === 'binary' ? treeEnsembleClassifierModel(spec) : treeEnsembleRegressorModel(spec);
}

/** The ensemble as JSON for the run record (one object per tree, nested). */
export function describeTree(e: Ensemble, t: number, featureNames: readonly string[]): unknown {
  const start = e.treeStart[t]!;
  const node = (i: number): unknown => {
    const n = start + i;
    if (e.feature[n]! < 0) return { leaf: e.value[n] };
    return {
      feature: featureNames[e.feature[n]!],
      lessThan: e.threshold[n],
      missing: e.missingLeft[n] ? 'left' : 'right',
      left: node(e.left[n]!),
      right: node(e.right[n]!),
    };
  };
  return node(0);
}
