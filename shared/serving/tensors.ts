/**
 * From online values to the input tensor and from output tensors to per-row predictions.
 * Shared by the registration check (sample run) and the predictor, so both read a
 * model's outputs the same way.
 */
import * as ort from 'onnxruntime-node';
import type { OutputSpec } from './signature';

export { outputKey } from './signature';

/** One prediction value: a scalar, or a row of a [N, k] output. */
export type OutputValue = number | number[];

/** A float32 tensor [rows, width] over a row-major buffer. */
export function inputTensor(data: Float32Array, rows: number, width: number): ort.Tensor {
  return new ort.Tensor('float32', data, [rows, width]);
}

export interface OutputProblem {
  output: string;
  problem: string;
}

/**
 * Read the signature's outputs for `rows` rows. Returns per output, per row, a value;
 * or the problems that make the outputs unreadable (wrong batch size, column out of range).
 */
export function readOutputs(
  results: ort.InferenceSession.ReturnType,
  specs: readonly OutputSpec[],
  rows: number,
): { values: OutputValue[][]; problems: OutputProblem[] } {
  const values: OutputValue[][] = [];
  const problems: OutputProblem[] = [];
  for (const spec of specs) {
    const t = results[spec.name];
    if (!t) {
      problems.push({ output: spec.name, problem: 'the model did not return it' });
      values.push([]);
      continue;
    }
    const dims = t.dims;
    if (dims.length < 1 || dims.length > 2 || dims[0] !== rows) {
      problems.push({
        output: spec.name,
        problem: `has shape [${dims.join(', ')}]; Strata reads [N] or [N, k] outputs with N = ${rows} rows`,
      });
      values.push([]);
      continue;
    }
    const k = dims.length === 2 ? dims[1]! : 1;
    if (spec.column !== undefined && spec.column >= k) {
      problems.push({
        output: spec.name,
        problem: `column ${spec.column} asked for, but the output has ${k} column(s) (0..${k - 1})`,
      });
      values.push([]);
      continue;
    }
    const data = t.data as ArrayLike<number | bigint>;
    const num = (j: number) => Number(data[j]!);
    const col: OutputValue[] = new Array(rows);
    for (let i = 0; i < rows; i++) {
      if (spec.column !== undefined) col[i] = num(i * k + spec.column);
      else if (k === 1) col[i] = num(i);
      else {
        const row = new Array<number>(k);
        for (let c = 0; c < k; c++) row[c] = num(i * k + c);
        col[i] = row;
      }
    }
    values.push(col);
  }
  return { values, problems };
}
