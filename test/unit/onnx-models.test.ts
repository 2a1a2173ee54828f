import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { logisticRegressionModel, mlpModel, treeEnsembleClassifierModel, type TreeNode } from '../../shared/onnx';
import { ValidationError } from '../../shared/errors';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);

async function run(bytes: Uint8Array, rows: number[][], input = 'features'): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const width = rows[0]!.length;
    const tensor = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, width]);
    return await session.run({ [input]: tensor });
  } finally {
    await session.release();
  }
}

const values = (t: ort.OnnxValue | undefined) => Array.from(t!.data as Float32Array);

describe('logistic regression model', () => {
  const weights = [0.5, -1.25, 2, 0.1];
  const bias = -0.3;
  const rows = [
    [1, 2, 3, 4],
    [0, 0, 0, 0],
    [-2, 0.5, 1.5, 10],
  ];

  it('outputs sigmoid(w·x + b) for one row, shaped [1, 1]', async () => {
    const out = await run(logisticRegressionModel({ weights, bias }), [rows[0]!]);
    expect(out.probability!.dims).toEqual([1, 1]);
    expect(values(out.probability)[0]).toBeCloseTo(sigmoid(dot(weights, rows[0]!) + bias), 6);
  });

  it('outputs one probability per row for a batch', async () => {
    const out = await run(logisticRegressionModel({ weights, bias }), rows);
    expect(out.probability!.dims).toEqual([3, 1]);
    values(out.probability).forEach((p, i) => expect(p).toBeCloseTo(sigmoid(dot(weights, rows[i]!) + bias), 6));
  });

  it('uses the given input and output names and records feature names in the metadata', async () => {
    const bytes = logisticRegressionModel({
      weights: [1, 1],
      bias: 0,
      inputName: 'x',
      outputName: 'p',
      featureNames: ['a', 'b'],
    });
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['p']);
    const meta = session.inputMetadata[0]!;
    expect(meta.isTensor && meta.shape[1]).toBe(2);
    await session.release();
    expect(Buffer.from(bytes).includes(Buffer.from('strata.feature_names'))).toBe(true);
  });

  it('refuses weights that are not finite, naming the position', () => {
    try {
      logisticRegressionModel({ weights: [1, Number.NaN], bias: 0 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details).toEqual([
        { where: 'layers[0].weights[1][0]', problem: 'must be a finite number, got NaN' },
      ]);
    }
  });
});

describe('MLP model', () => {
  // 3 inputs -> 4 hidden (relu) -> 2 hidden (tanh) -> 1 (sigmoid)
  const l0 = {
    weights: [
      [0.2, -0.5, 1, 0.3],
      [0.7, 0.1, -0.4, 0.9],
      [-1.2, 0.6, 0.05, -0.3],
    ],
    bias: [0.1, -0.2, 0, 0.4],
    activation: 'relu' as const,
  };
  const l1 = {
    weights: [
      [0.5, -0.6],
      [1.1, 0.2],
      [-0.7, 0.8],
      [0.3, 0.3],
    ],
    bias: [0, 0.25],
    activation: 'tanh' as const,
  };
  const l2 = { weights: [[1.5], [-2]], bias: [0.05] };
  const rows = [
    [1, 2, 3],
    [-1, 0.5, 2],
    [0, 0, 0],
  ];

  const dense = (x: number[], l: { weights: number[][]; bias: number[] }) =>
    l.bias.map((b, j) => x.reduce((s, xi, i) => s + xi * l.weights[i]![j]!, b));
  const relu = (v: number[]) => v.map((x) => Math.max(0, x));
  const tanh = (v: number[]) => v.map(Math.tanh);

  it('equals the hand-computed forward pass with relu, tanh and a sigmoid head', async () => {
    const out = await run(mlpModel({ layers: [l0, l1, l2], head: 'sigmoid' }), rows);
    expect(out.probability!.dims).toEqual([3, 1]);
    rows.forEach((x, i) => {
      const expected = sigmoid(dense(tanh(dense(relu(dense(x, l0)), l1)), l2)[0]!);
      expect(values(out.probability)[i]).toBeCloseTo(expected, 5);
    });
  });

  it('with a softmax head gives class probabilities that sum to one and equal the hand math', async () => {
    const head = {
      weights: [
        [1, -1, 0.5],
        [0.2, 0.3, -0.4],
        [0, 1, 1],
        [-0.5, 0.5, 0],
      ],
      bias: [0, 0.1, -0.1],
    };
    const out = await run(mlpModel({ layers: [l0, head], head: 'softmax' }), rows);
    expect(out.probabilities!.dims).toEqual([3, 3]);
    const got = values(out.probabilities);
    rows.forEach((x, i) => {
      const z = dense(relu(dense(x, l0)), head);
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      e.forEach((v, k) => expect(got[i * 3 + k]).toBeCloseTo(v / s, 5));
    });
  });

  it('refuses layers whose widths do not chain, saying which layer and why', () => {
    expect(() => mlpModel({ layers: [l0, l2], head: 'sigmoid' })).toThrowError(ValidationError);
    try {
      mlpModel({ layers: [l0, l2], head: 'sigmoid' });
    } catch (e) {
      expect((e as ValidationError).details[0]).toEqual({
        where: 'layers[1].weights',
        problem: 'has 2 rows but the previous layer has 4 outputs',
      });
    }
  });
});

describe('tree ensemble classifier model', () => {
  // tree 0: x0 < 0.5 ? (x1 < 2 ? 0.4 : -0.2) : 1.0 ; tree 1: x2 < -1 ? -0.7 : 0.3
  const trees: TreeNode[][] = [
    [
      { feature: 0, threshold: 0.5, left: 1, right: 2 },
      { feature: 1, threshold: 2, left: 3, right: 4 },
      { value: 1.0 },
      { value: 0.4 },
      { value: -0.2 },
    ],
    [{ feature: 2, threshold: -1, left: 1, right: 2 }, { value: -0.7 }, { value: 0.3 }],
  ];
  const byHand = (x: number[]) => {
    const t0 = x[0]! < 0.5 ? (x[1]! < 2 ? 0.4 : -0.2) : 1.0;
    const t1 = x[2]! < -1 ? -0.7 : 0.3;
    return sigmoid(0.1 + t0 + t1);
  };
  const rows = [
    [0, 1, 0],
    [0, 3, -2],
    [1, 0, 5],
    [0.49, 2, -1],
  ];

  it('gives [p0, p1] with p1 = sigmoid(base + sum of leaves) and the label of the likelier class', async () => {
    const out = await run(treeEnsembleClassifierModel({ nFeatures: 3, trees, baseScore: 0.1 }), rows);
    expect(out.probabilities!.dims).toEqual([4, 2]);
    const p = values(out.probabilities);
    const labels = Array.from(out.label!.data as BigInt64Array, Number);
    rows.forEach((x, i) => {
      expect(p[i * 2 + 1]).toBeCloseTo(byHand(x), 5);
      expect(p[i * 2]).toBeCloseTo(1 - byHand(x), 5);
      expect(labels[i]).toBe(byHand(x) > 0.5 ? 1 : 0);
    });
  });

  it('refuses a split on a column the input does not have', () => {
    expect(() => treeEnsembleClassifierModel({ nFeatures: 2, trees })).toThrowError(/valid ensemble/);
  });
});
