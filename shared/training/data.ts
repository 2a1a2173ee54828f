/**
 * The shapes training data takes on its way to a trainer. Everything is a typed array so a
 * fit touches no per-row objects: feature values are float32 row-major (what the ONNX model
 * is fed at serving time, so a trainer sees exactly the numbers the model will see; NaN marks
 * a missing value), labels float64. Sources hand rows over in chunks, in a fixed order, so a
 * training set bigger than memory can be streamed (e.g. binned to one byte per cell for trees)
 * and every pass over it sees the same rows in the same order (determinism).
 */
import { ValidationError } from '../errors';

export type Task = 'binary' | 'regression';
export const TASKS: readonly Task[] = ['binary', 'regression'];

/** Rows × features in memory: x is row-major (x[r * nFeatures + f]), NaN = missing. */
export interface DenseData {
  readonly kind: 'dense';
  readonly featureNames: readonly string[];
  readonly nRows: number;
  readonly x: Float32Array;
  readonly y: Float64Array;
}

/** A slice of rows from a source, same layout as DenseData. Valid until the next chunk is asked for. */
export interface DataChunk {
  readonly nRows: number;
  readonly x: Float32Array;
  readonly y: Float64Array;
}

/** Rows in a fixed order, readable more than once (each `chunks()` starts from the first row). */
export interface DataSource {
  readonly featureNames: readonly string[];
  rowCount(): Promise<number>;
  chunks(): AsyncIterable<DataChunk>;
}

export function denseData(featureNames: readonly string[], x: Float32Array, y: Float64Array): DenseData {
  const nFeatures = featureNames.length;
  if (nFeatures === 0)
    throw new ValidationError('training data needs at least one feature', [{ where: 'features', problem: 'is empty' }]);
  if (x.length !== y.length * nFeatures) {
    throw new ValidationError('training data is not rectangular', [
      {
        where: 'x',
        problem: `has ${x.length} values; ${y.length} labels × ${nFeatures} features need ${y.length * nFeatures}`,
      },
    ]);
  }
  return { kind: 'dense', featureNames, nRows: y.length, x, y };
}

/** A DenseData as a source, in chunks of `chunkRows` (views, no copies). */
export function denseSource(data: DenseData, chunkRows = 65_536): DataSource {
  const F = data.featureNames.length;
  return {
    featureNames: data.featureNames,
    rowCount: async () => data.nRows,
    async *chunks() {
      for (let r = 0; r < data.nRows; r += chunkRows) {
        const n = Math.min(chunkRows, data.nRows - r);
        yield { nRows: n, x: data.x.subarray(r * F, (r + n) * F), y: data.y.subarray(r, r + n) };
      }
    },
  };
}

/** Read a whole source into memory (4 bytes per cell + 8 per label). */
export async function loadDense(source: DataSource): Promise<DenseData> {
  const F = source.featureNames.length;
  const n = await source.rowCount();
  const x = new Float32Array(n * F);
  const y = new Float64Array(n);
  let at = 0;
  for await (const c of source.chunks()) {
    if (at + c.nRows > n) throw new Error(`the source yielded more rows than its count (${n})`);
    x.set(c.x, at * F);
    y.set(c.y, at);
    at += c.nRows;
  }
  if (at !== n) throw new Error(`the source yielded ${at} rows but counted ${n}`);
  return denseData(source.featureNames, x, y);
}

/** The rows [from, to) of a DenseData (views, no copies). */
export function denseRows(data: DenseData, from: number, to: number): DenseData {
  const F = data.featureNames.length;
  return {
    kind: 'dense',
    featureNames: data.featureNames,
    nRows: to - from,
    x: data.x.subarray(from * F, to * F),
    y: data.y.subarray(from, to),
  };
}

/**
 * Labels a task can learn from: finite numbers; 0 or 1 for binary classification.
 * `offset` is the first row's position in the whole set, so the error names the real row.
 */
export function checkLabels(task: Task, y: Float64Array, offset = 0, label = 'label'): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isFinite(v)) {
      throw new ValidationError(`the training set has a missing or non-finite ${label}`, [
        { where: `${label} (row ${offset + i})`, problem: `is ${v}; drop unlabelled rows before training` },
      ]);
    }
    if (task === 'binary' && v !== 0 && v !== 1) {
      throw new ValidationError(`binary classification needs labels 0 or 1`, [
        { where: `${label} (row ${offset + i})`, problem: `is ${v}; map the classes to 0/1 or train a regression` },
      ]);
    }
  }
}
