import { describe, expect, it } from 'vitest';
import { binIndex, computeBaseline, countBins, BASELINE_SCHEMA } from '../../shared/training/baseline';
import { denseData, denseSource } from '../../shared/training/data';
import { Random } from '../../shared/training/random';

/** 20,000 rows: a normal, a uniform with 10% missing, a 3-valued code, a constant; label and prediction. */
function dataset() {
  const n = 20_000;
  const rng = new Random(5);
  const F = 4;
  const x = new Float32Array(n * F);
  const y = new Float64Array(n);
  const pred = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    x[r * F] = rng.normal() * 2 + 10;
    x[r * F + 1] = rng.next() < 0.1 ? Number.NaN : rng.next() * 100;
    x[r * F + 2] = [0, 1, 5][rng.int(3)]!;
    x[r * F + 3] = 7;
    pred[r] = rng.next();
    y[r] = rng.next() < pred[r]! ? 1 : 0;
  }
  return { data: denseData(['normal', 'uniform', 'code', 'constant'], x, y), pred, n, F };
}

const column = (x: Float32Array, F: number, j: number) => Array.from({ length: x.length / F }, (_, r) => x[r * F + j]!);

describe('baseline statistics', async () => {
  const { data, pred, n, F } = dataset();
  const b = await computeBaseline(denseSource(data, 3_000), pred, { seed: 9 });

  it('counts every value of every feature in its bin, by the documented rule', () => {
    expect(b.schema).toBe(BASELINE_SCHEMA);
    expect(b.rows).toBe(n);
    b.features.forEach((f, j) => {
      const values = column(data.x, F, j);
      const direct = countBins(f.edges, values);
      expect(f.counts).toEqual(direct.counts);
      expect(f.nullCount).toBe(direct.nullCount);
      expect(f.counts.reduce((s, c) => s + c, 0)).toBe(f.count);
      expect(f.count + f.nullCount).toBe(n);
      // The rule, spelled out for one value per bin edge.
      f.edges.forEach((e, i) => {
        expect(binIndex(f.edges, e)).toBe(i + 1);
        expect(binIndex(f.edges, Math.fround(e) - 1e-3)).toBeLessThanOrEqual(i);
      });
    });
  });

  it('quantile bins of a continuous feature hold about a tenth of the rows each', () => {
    const f = b.features[0]!;
    expect(f.counts).toHaveLength(10);
    for (const c of f.counts) expect(Math.abs(c / f.count - 0.1)).toBeLessThan(0.02);
  });

  it('gives null rate, min, max, mean and standard deviation of the data', () => {
    const u = b.features[1]!;
    const values = column(data.x, F, 1).filter((v) => !Number.isNaN(v));
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    expect(u.nullCount).toBe(n - values.length);
    expect(u.nullRate).toBeCloseTo((n - values.length) / n, 12);
    expect(u.min).toBe(Math.min(...values));
    expect(u.max).toBe(Math.max(...values));
    expect(u.mean!).toBeCloseTo(mean, 6);
    expect(u.std!).toBeCloseTo(std, 6);
    expect(u.nullRate).toBeGreaterThan(0.08);
  });

  it('gives category frequencies for a column with few distinct values, one bin per value', () => {
    const code = b.features[2]!;
    const values = column(data.x, F, 2);
    expect(code.categories).toEqual([0, 1, 5].map((v) => ({ value: v, count: values.filter((x) => x === v).length })));
    expect(code.edges).toEqual([1, 5]);
    expect(code.counts).toEqual(code.categories!.map((c) => c.count));
    expect(b.features[0]!.categories).toBeNull();
    const constant = b.features[3]!;
    expect(constant).toMatchObject({
      min: 7,
      max: 7,
      std: 0,
      edges: [],
      counts: [n],
      categories: [{ value: 7, count: n }],
    });
  });

  it('describes the prediction and label distributions the same way', () => {
    expect(b.prediction.counts.reduce((s, c) => s + c, 0)).toBe(n);
    expect(b.prediction.counts).toEqual(countBins(b.prediction.edges, pred).counts);
    expect(b.label.categories!.map((c) => c.value)).toEqual([0, 1]);
    expect(b.label.mean!).toBeCloseTo(data.y.reduce((s, v) => s + v, 0) / n, 9);
  });

  it('keeps a bounded sample of rows, the same for the same seed', async () => {
    expect(b.sample.rows).toHaveLength(500);
    expect(b.sample.columns).toEqual(['normal', 'uniform', 'code', 'constant', 'prediction', 'label']);
    expect(b.sample.rows.some((r) => r[1] === null)).toBe(true);
    const again = await computeBaseline(denseSource(data, 7_000), pred, { seed: 9 });
    expect(again.sample.rows).toEqual(b.sample.rows);
    const other = await computeBaseline(denseSource(data), pred, { seed: 10, sampleRows: 50 });
    expect(other.sample.rows).toHaveLength(50);
  });

  it('gives each column its own sample (its non-missing values in the row sample, ascending) and flags declared categorical columns that fit', async () => {
    const uniform = b.sample.rows
      .map((r) => r[1])
      .filter((v): v is number => v !== null)
      .sort((x, y) => x - y);
    expect(b.features[1]!.sample).toEqual(uniform);
    expect(b.features[1]!.sample.length).toBeLessThan(500);
    expect(b.prediction.sample).toHaveLength(500);
    const flagged = await computeBaseline(denseSource(data), pred, {
      seed: 9,
      categorical: ['code', 'normal', 'label'],
    });
    expect(flagged.features.map((f) => f.categorical)).toEqual([false, false, true, false]); // normal has too many values to be categories
    expect(flagged.label.categorical).toBe(true);
    expect(b.features.every((f) => !f.categorical)).toBe(true);
  });

  it('is JSON: it survives a round trip unchanged', () => {
    expect(JSON.parse(JSON.stringify(b))).toEqual(b);
  });
});
