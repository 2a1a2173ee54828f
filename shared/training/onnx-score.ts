/**
 * Score an ONNX model on a data source with onnxruntime, in batches: how the job evaluates
 * the current production version on the same holdout as the new one (`evaluateOnnx`), and how
 * tests check that a trained model's ONNX file predicts what the trainer predicted
 * (`scoreOnnx`). Reads one output column (the signature's first output) straight from the
 * tensor, without per-row objects.
 */
import { createSession } from '../serving/sessions';
import { inputTensor } from '../serving/tensors';
import { checkLabels, type DataSource, type Task } from './data';
import { evaluate, type Metrics } from './metrics';
import type { ModelOutput } from './trainer';

type Output = Pick<ModelOutput, 'name' | 'column'>;

/** Predictions and labels of every row of the source, in order. */
async function score(
  bytes: Uint8Array,
  source: DataSource,
  output: Output,
  inputName: string,
): Promise<{ predictions: Float64Array; labels: Float64Array }> {
  const session = await createSession(bytes);
  try {
    const F = source.featureNames.length;
    const n = await source.rowCount();
    const predictions = new Float64Array(n);
    const labels = new Float64Array(n);
    let at = 0;
    for await (const c of source.chunks()) {
      const res = await session.run({ [inputName]: inputTensor(Float32Array.from(c.x), c.nRows, F) }, [output.name]);
      const t = res[output.name];
      if (!t) throw new Error(`the model did not return output "${output.name}"`);
      const k = t.dims.length === 2 ? t.dims[1]! : 1;
      const col = output.column ?? 0;
      const data = t.data as ArrayLike<number>;
      for (let i = 0; i < c.nRows; i++) predictions[at + i] = Number(data[i * k + col]);
      labels.set(c.y, at);
      at += c.nRows;
    }
    return { predictions, labels };
  } finally {
    await session.release();
  }
}

export async function scoreOnnx(
  bytes: Uint8Array,
  source: DataSource,
  output: Output,
  inputName = 'features',
): Promise<Float64Array> {
  return (await score(bytes, source, output, inputName)).predictions;
}

/** Metrics of a model (e.g. the production version) on labelled rows (e.g. the new version's holdout). */
export async function evaluateOnnx(
  bytes: Uint8Array,
  source: DataSource,
  output: Output,
  task: Task,
  inputName = 'features',
): Promise<{ metrics: Metrics; predictions: Float64Array }> {
  const { predictions, labels } = await score(bytes, source, output, inputName);
  checkLabels(task, labels);
  return { metrics: evaluate(task, labels, predictions), predictions };
}
