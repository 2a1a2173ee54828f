/**
 * Gradient-boosted tree ensembles as ONNX, the shape XGBoost/LightGBM exports take.
 * Binary (ai.onnx.ml TreeEnsembleClassifier): p(class 1) = sigmoid(baseScore + sum of leaf
 * values), outputs `label` int64 [N] and `probabilities` float [N, 2] ([p0, p1]).
 * Regression (TreeEnsembleRegressor): baseScore + sum of leaf values, output float [N, 1].
 */
import { ValidationError, type ErrorDetail } from '../errors';
import { GraphBuilder, ML_DOMAIN, type ModelMetadata } from './graph';

/** A split sends a row left when x[feature] < threshold (a missing value, NaN, goes where `missingGoesLeft` says). */
export interface TreeSplit {
  feature: number;
  threshold: number;
  /** Index of the child node in the same tree; children come after their parent. */
  left: number;
  right: number;
  missingGoesLeft?: boolean;
}
export interface TreeLeaf {
  /** Added to the ensemble's logit. */
  value: number;
}
export type TreeNode = TreeSplit | TreeLeaf;

export interface TreeEnsembleSpec {
  nFeatures: number;
  /** Each tree is a node list; node 0 is its root. */
  trees: TreeNode[][];
  /** Logit every row starts from (default 0). */
  baseScore?: number;
  inputName?: string;
  labelName?: string;
  probabilitiesName?: string;
  featureNames?: string[];
  meta?: ModelMetadata;
}

/** The node attributes both ensembles share, and the leaves' (tree, node, weight) triples. */
function flatten(spec: TreeEnsembleSpec) {
  const problems = checkTrees(spec);
  if (problems.length) throw new ValidationError('the trees do not form a valid ensemble', problems);
  const a = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    values: [] as number[],
    modes: [] as string[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    missingTrue: [] as number[],
    leafTreeIds: [] as number[],
    leafNodeIds: [] as number[],
    leafWeights: [] as number[],
  };
  spec.trees.forEach((tree, t) => {
    tree.forEach((n, i) => {
      a.treeIds.push(t);
      a.nodeIds.push(i);
      if ('value' in n) {
        a.featureIds.push(0);
        a.values.push(0);
        a.modes.push('LEAF');
        a.trueIds.push(0);
        a.falseIds.push(0);
        a.missingTrue.push(0);
        a.leafTreeIds.push(t);
        a.leafNodeIds.push(i);
        a.leafWeights.push(n.value);
      } else {
        a.featureIds.push(n.feature);
        a.values.push(n.threshold);
        a.modes.push('BRANCH_LT');
        a.trueIds.push(n.left);
        a.falseIds.push(n.right);
        a.missingTrue.push(n.missingGoesLeft ? 1 : 0);
      }
    });
  });
  const nodeAttrs = {
    nodes_treeids: { ints: a.treeIds },
    nodes_nodeids: { ints: a.nodeIds },
    nodes_featureids: { ints: a.featureIds },
    nodes_values: { floats: a.values },
    nodes_modes: a.modes,
    nodes_truenodeids: { ints: a.trueIds },
    nodes_falsenodeids: { ints: a.falseIds },
    nodes_missing_value_tracks_true: { ints: a.missingTrue },
  };
  return { nodeAttrs, leaves: { treeIds: a.leafTreeIds, nodeIds: a.leafNodeIds, weights: a.leafWeights } };
}

function withFeatureNames(spec: TreeEnsembleSpec, doc: string): ModelMetadata {
  const props = { ...spec.meta?.props };
  if (spec.featureNames) props['strata.feature_names'] = JSON.stringify(spec.featureNames);
  return { doc, ...spec.meta, props };
}

export function treeEnsembleClassifierModel(spec: TreeEnsembleSpec): Uint8Array {
  const { nodeAttrs, leaves } = flatten(spec);
  const inputName = spec.inputName ?? 'features';
  const labelName = spec.labelName ?? 'label';
  const probName = spec.probabilitiesName ?? 'probabilities';
  const g = new GraphBuilder('strata_tree_ensemble');
  const x = g.input(inputName, ['N', spec.nFeatures]);
  g.node('TreeEnsembleClassifier', [x], {
    domain: ML_DOMAIN,
    outputs: [labelName, probName],
    attrs: {
      ...nodeAttrs,
      // All leaves vote for one class id: onnxruntime's binary case, scores [1 - p, p].
      class_treeids: { ints: leaves.treeIds },
      class_nodeids: { ints: leaves.nodeIds },
      class_ids: { ints: leaves.treeIds.map(() => 0) },
      class_weights: { floats: leaves.weights },
      classlabels_int64s: { ints: [0, 1] },
      base_values: { floats: [spec.baseScore ?? 0] },
      post_transform: 'LOGISTIC',
    },
  });
  g.output(labelName, ['N'], 'int64');
  g.output(probName, ['N', 2]);
  return g.build(withFeatureNames(spec, 'gradient-boosted trees: probabilities [p(class 0), p(class 1)]'));
}

/**
 * A regression ensemble (ai.onnx.ml TreeEnsembleRegressor): value = baseScore + sum of leaf
 * values. Output `variable` float [N, 1] (name it with `outputName`).
 */
export function treeEnsembleRegressorModel(spec: TreeEnsembleSpec & { outputName?: string }): Uint8Array {
  const { nodeAttrs, leaves } = flatten(spec);
  const inputName = spec.inputName ?? 'features';
  const outName = spec.outputName ?? 'variable';
  const g = new GraphBuilder('strata_tree_ensemble_regressor');
  const x = g.input(inputName, ['N', spec.nFeatures]);
  g.node('TreeEnsembleRegressor', [x], {
    domain: ML_DOMAIN,
    outputs: [outName],
    attrs: {
      ...nodeAttrs,
      target_treeids: { ints: leaves.treeIds },
      target_nodeids: { ints: leaves.nodeIds },
      target_ids: { ints: leaves.treeIds.map(() => 0) },
      target_weights: { floats: leaves.weights },
      n_targets: 1,
      base_values: { floats: [spec.baseScore ?? 0] },
      aggregate_function: 'SUM',
      post_transform: 'NONE',
    },
  });
  g.output(outName, ['N', 1]);
  return g.build(withFeatureNames(spec, 'gradient-boosted trees: predicted value'));
}

function checkTrees(spec: TreeEnsembleSpec): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (!Number.isInteger(spec.nFeatures) || spec.nFeatures < 1)
    out.push({ where: 'nFeatures', problem: `must be a whole number >= 1, got ${spec.nFeatures}` });
  if (spec.trees.length === 0) out.push({ where: 'trees', problem: 'needs at least one tree' });
  spec.trees.forEach((tree, t) => {
    if (tree.length === 0) out.push({ where: `trees[${t}]`, problem: 'has no nodes' });
    tree.forEach((n, i) => {
      const at = `trees[${t}][${i}]`;
      if ('value' in n) {
        if (!Number.isFinite(n.value))
          out.push({ where: `${at}.value`, problem: `must be a finite number, got ${n.value}` });
        return;
      }
      if (!Number.isInteger(n.feature) || n.feature < 0 || n.feature >= spec.nFeatures) {
        out.push({
          where: `${at}.feature`,
          problem: `must be a column index 0..${spec.nFeatures - 1}, got ${n.feature}`,
        });
      }
      if (!Number.isFinite(n.threshold))
        out.push({ where: `${at}.threshold`, problem: `must be a finite number, got ${n.threshold}` });
      for (const side of ['left', 'right'] as const) {
        const c = n[side];
        if (!Number.isInteger(c) || c <= i || c >= tree.length) {
          out.push({
            where: `${at}.${side}`,
            problem: `must point to a later node of the same tree (${i + 1}..${tree.length - 1}), got ${c}`,
          });
        }
      }
    });
  });
  if (spec.featureNames && spec.featureNames.length !== spec.nFeatures) {
    out.push({
      where: 'featureNames',
      problem: `has ${spec.featureNames.length} names for ${spec.nFeatures} input columns`,
    });
  }
  return out;
}
