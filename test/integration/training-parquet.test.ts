import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { parquetSource, timeSplit, type ParquetRef } from '../../shared/training/parquet';
import { binDense, loadBinned } from '../../shared/training/bins';
import { loadDense } from '../../shared/training/data';
import { runFit } from '../../shared/training/fit';
import { evaluateOnnx, scoreOnnx } from '../../shared/training/onnx-score';
import { ValidationError } from '../../shared/errors';
import { tempDir } from '../helpers/temp';
import { withMissing, xorSet, maxAbsDiff } from '../helpers/training-fixtures';

const tmp = tempDir('strata-training-parquet-');
afterAll(() => tmp.cleanup());

/**
 * A training-set-shaped Parquet file: row_id, entity_id, ts (shuffled, so file order is not
 * time order), label, then f0..f4 from an XOR set with missing values, a boolean, an int with
 * NULLs and a string column. Written through a CSV and DuckDB's COPY.
 */
async function writeSet(n: number): Promise<{ file: string; set: ReturnType<typeof xorSet>; ts: number[] }> {
  const set = withMissing(xorSet(n, 17), 2, 0.1, 17);
  const F = set.features.length;
  const ts = Array.from({ length: n }, (_, i) => 1_700_000_000_000 + ((i * 7_919) % n) * 1_000);
  const csv = path.join(tmp.dir, `set-${n}.csv`);
  const lines = ['row_id,entity_id,ts,label,' + set.features.join(',') + ',flag,count,city'];
  for (let r = 0; r < n; r++) {
    const f = Array.from({ length: F }, (_, j) => (Number.isNaN(set.x[r * F + j]!) ? '' : String(set.x[r * F + j])));
    lines.push([r, `e${r}`, ts[r], set.y[r], ...f, r % 2 === 0, r % 10 === 0 ? '' : r % 7, `c${r % 3}`].join(','));
  }
  fs.writeFileSync(csv, lines.join('\n'));
  const file = path.join(tmp.dir, `set-${n}.parquet`);
  await withConnection(async (c) => {
    const types = `{'row_id':'BIGINT','entity_id':'VARCHAR','ts':'BIGINT','label':'INTEGER',${set.features.map((f) => `'${f}':'DOUBLE'`).join(',')},'flag':'BOOLEAN','count':'INTEGER','city':'VARCHAR'}`;
    await c.run(
      `COPY (SELECT * FROM read_csv(${literal(csv)}, header = true, columns = ${types})) TO ${literal(file)} (FORMAT parquet, ROW_GROUP_SIZE 4096)`,
    );
  });
  return { file, set, ts };
}

describe('training rows from Parquet', async () => {
  const n = 20_000;
  const { file, set, ts } = await writeSet(n);
  const ref: ParquetRef = {
    kind: 'parquet',
    files: [file],
    features: [...set.features, 'flag', 'count'],
    label: 'label',
  };

  it('streams every row in file order: floats as float32, NULL as NaN, booleans as 1/0, ints as floats', async () => {
    const dense = await loadDense(parquetSource(ref, 5_000));
    const F = set.features.length;
    const W = F + 2;
    expect(dense.nRows).toBe(n);
    const want = new Float32Array(n * W);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < F; j++) want[r * W + j] = set.x[r * F + j]!;
      want[r * W + F] = r % 2 === 0 ? 1 : 0;
      want[r * W + F + 1] = r % 10 === 0 ? Number.NaN : r % 7;
    }
    // Every cell, NaN matching NaN; the first few differences are named if any.
    const wrong: string[] = [];
    for (let i = 0; i < want.length && wrong.length < 5; i++) {
      if (!Object.is(dense.x[i], want[i]))
        wrong.push(`row ${Math.floor(i / W)} column ${i % W}: ${dense.x[i]} != ${want[i]}`);
    }
    expect(wrong).toEqual([]);
    expect(Array.from(dense.y)).toEqual(Array.from(set.y));
  });

  it('bins in chunks exactly as binning the whole set in memory', async () => {
    const streamed = await loadBinned(parquetSource(ref, 4_000), { maxBins: 64, seed: 3 });
    const inMemory = binDense(await loadDense(parquetSource(ref)), { maxBins: 64, seed: 3 });
    expect(streamed.cuts.map((c) => Array.from(c))).toEqual(inMemory.cuts.map((c) => Array.from(c)));
    expect(Buffer.from(streamed.bins.buffer).equals(Buffer.from(inMemory.bins.buffer))).toBe(true);
    expect(streamed.bins.byteLength).toBe(n * streamed.stride);
    expect(streamed.stride).toBe(8);
  });

  it('refuses a text feature, an unknown column and an unreadable file, naming each', async () => {
    const bad = parquetSource({ ...ref, features: ['f0', 'city', 'nope'], label: 'label' });
    const err = await bad.rowCount().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const details = (err as ValidationError).details;
    expect(details).toContainEqual({
      where: 'data.features[1]',
      problem: expect.stringContaining('"city" is VARCHAR'),
    });
    expect(details).toContainEqual({
      where: 'data.features[2]',
      problem: expect.stringMatching(/"nope" is not in the data; its columns: row_id, entity_id, ts, label/),
    });
    const missing = await parquetSource({ ...ref, files: [path.join(tmp.dir, 'absent.parquet')] })
      .rowCount()
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ValidationError);
    expect((missing as ValidationError).details[0]!.where).toBe('data.files');
  });

  it('splits by time: the newest share is the holdout, both sides in time order', async () => {
    const split = await timeSplit(ref, { holdoutFraction: 0.2, tieBreak: ['row_id'] });
    const sorted = [...ts].sort((a, b) => a - b);
    expect(split.cutoff).toBe(sorted[Math.ceil(0.8 * n) - 1]);
    expect(split.trainRows).toBe(ts.filter((t) => t < split.cutoff).length);
    expect(split.holdoutRows).toBe(n - split.trainRows);
    // Read row_id (exact in float32) and look its time up: ts itself does not fit a float32.
    const times = async (r: ParquetRef) =>
      Array.from((await loadDense(parquetSource({ ...r, features: ['row_id'] }))).x, (id) => ts[id]!);
    const trainTs = await times(split.train);
    const holdTs = await times(split.holdout);
    expect(Math.max(...trainTs)).toBeLessThan(split.cutoff);
    expect(Math.min(...holdTs)).toBeGreaterThanOrEqual(split.cutoff);
    for (let i = 1; i < trainTs.length; i++) expect(trainTs[i]!).toBeGreaterThanOrEqual(trainTs[i - 1]!);
  });

  it('a whole fit from Parquet: train on the older rows, evaluate the newest, baseline of the training rows', async () => {
    const split = await timeSplit(ref, { holdoutFraction: 0.25, tieBreak: ['row_id'] });
    const out = await runFit({
      trainer: 'gbdt',
      task: 'binary',
      seed: 2,
      params: { trees: 25, maxDepth: 4, learningRate: 0.4, validationFraction: 0.1 },
      train: split.train,
      holdout: split.holdout,
    });
    expect(out.rows.train + out.rows.validation).toBe(split.trainRows);
    expect(out.rows.holdout).toBe(split.holdoutRows);
    expect(out.metrics.holdout).toMatchObject({ task: 'binary', rows: split.holdoutRows });
    expect((out.metrics.holdout as { auc: number }).auc).toBeGreaterThan(0.8);
    expect(out.baseline!.rows).toBe(split.trainRows);
    expect(out.baseline!.features.map((f) => f.name)).toEqual(ref.features);
    expect(out.dataBytes).toBe(split.trainRows * (8 + 8));
    const ort = await scoreOnnx(out.onnx, parquetSource(split.holdout), out.output);
    expect(maxAbsDiff(out.holdoutPredictions!, ort)).toBeLessThan(1e-5);
    // What the job does with the production version: the same metrics from the ONNX file alone.
    const again = await evaluateOnnx(out.onnx, parquetSource(split.holdout), out.output, 'binary');
    const h = out.metrics.holdout as { auc: number; logLoss: number; brier: number; rows: number };
    expect(again.metrics).toMatchObject({ task: 'binary', rows: h.rows });
    expect((again.metrics as { auc: number }).auc).toBeCloseTo(h.auc, 4);
    expect((again.metrics as { logLoss: number }).logLoss).toBeCloseTo(h.logLoss, 5);
  });
});
