/**
 * Dense networks as ONNX: logistic regression (one dense layer + sigmoid) and small MLPs
 * (dense layers with Relu/Tanh/Sigmoid, a sigmoid or softmax head). Input float [N, F];
 * optionally an Imputer first, so a missing value (NaN) is replaced the way training did.
 */
import { ValidationError, type ErrorDetail } from '../errors';
import { GraphBuilder, ML_DOMAIN, type ModelMetadata } from './graph';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'none';
export type Head = 'sigmoid' | 'softmax' | 'none';

export interface DenseLayer {
  /** weights[i][j]: from input unit i to output unit j (shape [in, out], like Keras). */
  weights: number[][];
  /** One bias per output unit. */
  bias: number[];
  /** Applied after the layer; default relu for hidden layers, ignored on the last layer (the head decides). */
  activation?: Activation;
}

export interface MlpSpec {
  layers: DenseLayer[];
  /** Per input column, the value that replaces a missing one (NaN) before the first layer (ai.onnx.ml Imputer). */
  impute?: number[];
  /** Applied to the last layer's output. */
  head: Head;
  /** Graph input name (default `features`). */
  inputName?: string;
  /** Graph output name (default `probability` for sigmoid, `probabilities` for softmax, `score` otherwise). */
  outputName?: string;
  /** Stored in the model's metadata (`strata.feature_names`) so the file says what its columns are. */
  featureNames?: string[];
  meta?: ModelMetadata;
}

export interface LogisticSpec {
  /** One weight per feature, in input column order. */
  weights: number[];
  bias: number;
  /** Per feature, the value that replaces a missing one (NaN), e.g. the training mean. */
  impute?: number[];
  inputName?: string;
  outputName?: string;
  featureNames?: string[];
  meta?: ModelMetadata;
}

const OP: Record<Exclude<Activation, 'none'>, string> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };

/** Logistic regression: input [N, F] -> probability of class 1, [N, 1] (MatMul, Add, Sigmoid). */
export function logisticRegressionModel(spec: LogisticSpec): Uint8Array {
  return mlpModel({
    layers: [{ weights: spec.weights.map((w) => [w]), bias: [spec.bias] }],
    impute: spec.impute,
    head: 'sigmoid',
    inputName: spec.inputName,
    outputName: spec.outputName ?? 'probability',
    featureNames: spec.featureNames,
    meta: { doc: 'logistic regression: probability of class 1', ...spec.meta },
  });
}

/** A multilayer perceptron: input [N, F] -> head([N, out of last layer]). */
export function mlpModel(spec: MlpSpec): Uint8Array {
  const problems = checkLayers(spec);
  if (problems.length) throw new ValidationError('the network weights do not form a valid dense network', problems);
  const first = spec.layers[0]!;
  const nIn = first.weights.length;
  const nOut = spec.layers[spec.layers.length - 1]!.bias.length;
  const inputName = spec.inputName ?? 'features';
  const outputName =
    spec.outputName ?? (spec.head === 'sigmoid' ? 'probability' : spec.head === 'softmax' ? 'probabilities' : 'score');

  const g = new GraphBuilder('strata_mlp');
  let x = g.input(inputName, ['N', nIn]);
  if (spec.impute) {
    [x] = g.node('Imputer', [x], {
      domain: ML_DOMAIN,
      attrs: { imputed_value_floats: { floats: spec.impute }, replaced_value_float: { float: Number.NaN } },
    }) as [string];
  }
  spec.layers.forEach((layer, i) => {
    const last = i === spec.layers.length - 1;
    const w = g.constant(`W${i}`, [layer.weights.length, layer.bias.length], layer.weights.flat());
    const b = g.constant(`B${i}`, [layer.bias.length], layer.bias);
    const [mm] = g.node('MatMul', [x, w]);
    const act: Activation = last ? 'none' : (layer.activation ?? 'relu');
    const headOp = last ? { sigmoid: 'Sigmoid', softmax: 'Softmax', none: undefined }[spec.head] : undefined;
    // The last node writes the graph output directly.
    const addOut = last && !headOp ? [outputName] : 1;
    [x] = g.node('Add', [mm!, b], { outputs: addOut }) as [string];
    if (act !== 'none') [x] = g.node(OP[act], [x]) as [string];
    if (headOp)
      [x] = g.node(headOp, [x], { outputs: [outputName], attrs: headOp === 'Softmax' ? { axis: -1 } : {} }) as [string];
  });
  g.output(outputName, ['N', nOut]);
  const props = { ...spec.meta?.props };
  if (spec.featureNames) props['strata.feature_names'] = JSON.stringify(spec.featureNames);
  return g.build({ ...spec.meta, props });
}

function checkLayers(spec: MlpSpec): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (spec.layers.length === 0) return [{ where: 'layers', problem: 'needs at least one layer' }];
  let width: number | undefined;
  spec.layers.forEach((l, i) => {
    const at = `layers[${i}]`;
    if (l.weights.length === 0) out.push({ where: `${at}.weights`, problem: 'has no rows (one row per input unit)' });
    if (width !== undefined && l.weights.length !== width) {
      out.push({
        where: `${at}.weights`,
        problem: `has ${l.weights.length} rows but the previous layer has ${width} outputs`,
      });
    }
    l.weights.forEach((row, r) => {
      if (row.length !== l.bias.length) {
        out.push({
          where: `${at}.weights[${r}]`,
          problem: `has ${row.length} columns but bias has ${l.bias.length} (one per output unit)`,
        });
      }
      row.forEach((v, c) => {
        if (!Number.isFinite(v))
          out.push({ where: `${at}.weights[${r}][${c}]`, problem: `must be a finite number, got ${v}` });
      });
    });
    l.bias.forEach((v, c) => {
      if (!Number.isFinite(v)) out.push({ where: `${at}.bias[${c}]`, problem: `must be a finite number, got ${v}` });
    });
    width = l.bias.length;
  });
  if (spec.impute) {
    if (spec.impute.length !== spec.layers[0]!.weights.length) {
      out.push({
        where: 'impute',
        problem: `has ${spec.impute.length} values for ${spec.layers[0]!.weights.length} input columns`,
      });
    }
    spec.impute.forEach((v, i) => {
      if (!Number.isFinite(v)) out.push({ where: `impute[${i}]`, problem: `must be a finite number, got ${v}` });
    });
  }
  if (spec.featureNames && spec.featureNames.length !== spec.layers[0]!.weights.length) {
    out.push({
      where: 'featureNames',
      problem: `has ${spec.featureNames.length} names for ${spec.layers[0]!.weights.length} input columns`,
    });
  }
  return out;
}
