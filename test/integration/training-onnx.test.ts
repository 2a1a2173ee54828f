import { describe, expect, it } from 'vitest';
import { gbdtTrainer } from '../../shared/training/gbdt/trainer';
import { logisticTrainer } from '../../shared/training/logistic';
import { denseData, denseSource } from '../../shared/training/data';
import { scoreOnnx } from '../../shared/training/onnx-score';
import { checkArtifact } from '../../shared/serving/artifact-check';
import { SignatureSchema } from '../../shared/serving/signature';
import type { FittedModel, Trainer } from '../../shared/training/trainer';
import {
  fitContext,
  linearSet,
  maxAbsDiff,
  regressionSet,
  rowsOf,
  withMissing,
  xorSet,
  type SyntheticSet,
} from '../helpers/training-fixtures';

/** Fit on the first 80%, then compare onnxruntime with the trainer on the held-out 20%. */
async function heldOutGap(trainer: Trainer<any>, set: SyntheticSet, params: unknown, task: 'binary' | 'regression') {
  const cut = Math.floor(set.n * 0.8);
  const train = rowsOf(set, 0, cut);
  const holdout = rowsOf(set, cut, set.n);
  const m: FittedModel = await trainer.fit(
    denseData(train.features, train.x, train.y),
    trainer.parseParams(params),
    fitContext(task),
  );
  const own = m.predict(holdout.x, holdout.n);
  const ort = await scoreOnnx(
    m.onnx,
    denseSource(denseData(holdout.features, holdout.x, holdout.y), 1_000),
    m.output,
    m.inputName,
  );
  return { m, worst: maxAbsDiff(own, ort), rows: holdout.n };
}

/**
 * The signature a training job would register the model with: missing features passed as NaN
 * (onMissing "model"), so registration's sample run, all NaN, checks the graph handles them.
 */
function signatureFor(m: FittedModel, features: string[]) {
  return SignatureSchema.parse({
    featureService: { name: 'svc', features: features.map((f) => ({ view: 'v', feature: f })) },
    input: { name: m.inputName },
    outputs: [
      {
        name: m.output.name,
        meaning: m.output.meaning,
        ...(m.output.column !== undefined ? { column: m.output.column } : {}),
      },
    ],
    policy: { default: { onMissing: 'model' } },
  });
}

describe('trained models in onnxruntime', () => {
  it("logistic regression: onnxruntime gives the trainer's probabilities to 1e-5 on held-out rows, missing values included", async () => {
    const set = withMissing(
      linearSet(20_000, [1, -2, 0.5, 3], 3, { scale: [1, 10, 0.1, 2], shift: [5, 0, -1, 0] }),
      2,
      0.1,
      3,
    );
    const { m, worst } = await heldOutGap(logisticTrainer, set, {}, 'binary');
    expect(worst).toBeLessThan(1e-5);
    const check = await checkArtifact('trained-logistic', m.onnx, signatureFor(m, set.features));
    expect(check.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['N', 4] }]);
    expect(check.outputs.map((o) => o.name)).toEqual(['probability']);
    // registration ran it on rows of NaN (every feature missing): the trainer's own answer for such a row
    const sample = Object.values(check.sample.outputs)[0]![0] as number;
    expect(sample).toBeCloseTo(m.predict(new Float32Array(4).fill(NaN), 1)[0]!, 5);
  });

  it("gbdt binary: onnxruntime gives the trainer's probabilities to 1e-5, missing values included", async () => {
    const set = withMissing(withMissing(xorSet(20_000, 5), 0, 0.1, 1), 3, 0.3, 2);
    const { m, worst } = await heldOutGap(
      gbdtTrainer,
      set,
      { trees: 80, maxDepth: 6, learningRate: 0.2, subsample: 0.8, colsample: 0.8 },
      'binary',
    );
    expect(worst).toBeLessThan(1e-5);
    const check = await checkArtifact('trained-gbdt', m.onnx, signatureFor(m, set.features));
    // No ZipMap: label and probabilities are plain tensors with a dynamic batch dimension.
    expect(check.outputs).toEqual([
      { name: 'label', type: 'int64', shape: ['N'] },
      { name: 'probabilities', type: 'float32', shape: ['N', 2] },
    ]);
  });

  it("gbdt regression: onnxruntime gives the trainer's values to 1e-5 (relative to the scale of y)", async () => {
    const set = withMissing(regressionSet(15_000, 6), 1, 0.05, 4);
    const { m, worst } = await heldOutGap(gbdtTrainer, set, { trees: 100, maxDepth: 5 }, 'regression');
    expect(worst).toBeLessThan(1e-5 * 5);
    const check = await checkArtifact('trained-gbdt-regression', m.onnx, signatureFor(m, set.features));
    expect(check.outputs).toEqual([{ name: 'variable', type: 'float32', shape: ['N', 1] }]);
  });
});
