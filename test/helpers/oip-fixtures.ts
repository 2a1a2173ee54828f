/**
 * Fixtures for the Open Inference Protocol tests: the protocol's documented requests and
 * responses (quoted from their sources, below), and an iris classifier with hand-set weights
 * in the shape KServe's sklearn example serves (input `input-0` FP32 [N, 4]; output `predict`
 * INT64 [N], the class), plus its class probabilities, so outputs can be computed by hand.
 */
import { GraphBuilder } from '../../shared/onnx';

/**
 * KServe, "Deploy Scikit-learn models with InferenceService" (Open Inference Protocol),
 * kserve/website docs/modelserving/v1beta1/sklearn/v2/README.md: the request file
 * `iris-input-v2.json`, sent to POST /v2/models/sklearn-v2-iris/infer.
 */
export const KSERVE_IRIS_REQUEST = {
  inputs: [
    {
      name: 'input-0',
      shape: [2, 4],
      datatype: 'FP32',
      data: [
        [6.8, 2.8, 4.8, 1.4],
        [6.0, 3.4, 4.5, 1.6],
      ],
    },
  ],
};
/** ... and its documented "Expected Output" (id and model_version are the server's own). */
export const KSERVE_IRIS_RESPONSE = {
  model_name: 'sklearn-v2-iris',
  outputs: [{ data: [1, 1], datatype: 'INT64', name: 'predict', shape: [2] }],
};

/**
 * The protocol's own example, kserve/kserve docs/predict-api/v2/required_api.md and
 * kserve/open-inference-protocol specification/protocol/inference_rest.md, "Inference
 * Request Examples": a model with two inputs (UINT32 [2, 2] and BOOL [3]) and one output.
 */
export const SPEC_EXAMPLE_REQUEST = {
  id: '42',
  inputs: [
    { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
    { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
  ],
  outputs: [{ name: 'output0' }],
};
/** ... whose documented response holds output0 as FP32 [3, 2] in flat row-major data. */
export const SPEC_EXAMPLE_RESPONSE = {
  id: '42',
  outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] }],
};

/**
 * Class scores of the iris stand-in, by hand: setosa = 2.5 - petal length, versicolor = 0.5,
 * virginica = petal length + petal width - 6. Columns: sepal length, sepal width, petal
 * length, petal width.
 */
const W = [
  [0, 0, 0],
  [0, 0, 0],
  [-1, 0, 1],
  [0, 0, 1],
];
const B = [2.5, 0.5, -6];

export function irisScores(x: number[]): number[] {
  return B.map((b, c) => b + x.reduce((s, v, i) => s + v * W[i]![c]!, 0));
}
export const irisClass = (x: number[]): number => {
  const s = irisScores(x);
  return s.indexOf(Math.max(...s));
};
export function irisProbabilities(x: number[]): number[] {
  const e = irisScores(x).map(Math.exp);
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** input-0 float [N, 4] -> predict int64 [N] (ArgMax of the scores) and probabilities float [N, 3] (Softmax). */
export function irisModel(opts: { input?: string } = {}): Uint8Array {
  const g = new GraphBuilder('iris');
  const x = g.input(opts.input ?? 'input-0', ['N', 4]);
  const w = g.constant('W', [4, 3], W.flat());
  const b = g.constant('B', [3], B);
  const [mm] = g.node('MatMul', [x, w]);
  const [scores] = g.node('Add', [mm!, b]);
  g.node('ArgMax', [scores!], { outputs: ['predict'], attrs: { axis: 1, keepdims: 0 } });
  g.node('Softmax', [scores!], { outputs: ['probabilities'], attrs: { axis: -1 } });
  g.output('predict', ['N'], 'int64');
  g.output('probabilities', ['N', 3]);
  return g.build({ doc: 'iris stand-in: hand-set linear scores' });
}

/** A signature for the iris model over four features (`refs`, in column order). */
export function irisSignature(refs: string[], service = 'iris') {
  return {
    featureService: {
      name: service,
      features: refs.map((r) => ({ view: r.split(':')[0]!, feature: r.split(':')[1]! })),
    },
    input: { name: 'input-0' },
    outputs: [
      { name: 'predict', meaning: 'iris class (0 setosa, 1 versicolor, 2 virginica)' },
      { name: 'probabilities', meaning: 'probability of each class' },
    ],
  };
}
