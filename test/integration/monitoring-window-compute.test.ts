/**
 * computeWindow over small hand-written prediction logs in real Parquet, by hand. Freshness of
 * features a window's predictions substituted: the scan's counts alone when its one max per
 * age settles every feature, and the grouped query over the substituted rows when it cannot
 * (one group defaulted a feature of a view, another overrode a second one, and both read the
 * view's record). The output contract: breaches counted, and read back only when there are
 * some. And the performance estimate only where the prediction is a score.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { computeWindow, type WindowInputs } from '../../shared/monitoring/window-compute';
import { sampleKeyOf } from '../../shared/serving/prediction-log';
import type { ModelSignature } from '../../shared/serving/signature';
import { baselineOf, categoricalBaseline, numericBaseline } from '../helpers/monitoring-fixtures';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-substituted-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One logged prediction: view v's record age, and what it defaulted and overrode. */
type Row = [age: number | null, defaulted: string[], overridden: string[]];

/**
 * A window over `rows` (version 1 of model m, 10 ms apart from 0), logged with `sampleKeys` (one
 * per row, null: a record logged before the key) when given, and `others` records of version 2
 * between them in the same file when given.
 */
async function window(
  name: string,
  rows: Row[],
  overrides: Partial<WindowInputs> = {},
  sampleKeys?: Array<number | null>,
  others = 0,
) {
  const file = path.join(dir, `${name}.parquet`);
  const values = rows.map(
    ([age, d, o], i) =>
      `(${i}, ${age}::DOUBLE, ${literal(JSON.stringify(d))}, ${literal(JSON.stringify(o))}, ${i % 2}::DOUBLE, ${sampleKeys?.[i] ?? 'NULL'}::BIGINT)`,
  );
  const inputs: WindowInputs = {
    model: 'm',
    version: 1,
    start: 0,
    end: 1_000,
    baseline: baselineOf({
      features: { 'v:a': numericBaseline([0, 1, 2, 3]), 'v:b': numericBaseline([0, 1, 2, 3]) },
      prediction: numericBaseline([0, 0.5, 1]),
    }),
    signature: {
      featureService: {
        features: [
          { view: 'v', feature: 'a' },
          { view: 'v', feature: 'b' },
        ],
      },
      outputs: [],
    } as unknown as ModelSignature,
    task: 'regression',
    predictionFiles: [file],
    deadLetters: {},
    inputs: name,
    ...overrides,
  };
  return withConnection(async (c) => {
    await c.run(
      `COPY (SELECT 'm' AS model, 1 AS version, i * 10 AS ts, 'p' || i AS predictionId, 'e' || i AS entityId,
                    (i % 4)::DOUBLE AS "features.v:a", (i % 3)::DOUBLE AS "features.v:b", age AS "viewAgeMs.v",
                    d AS defaulted, o AS overridden, p AS predictionNumber, p::VARCHAR AS prediction, '{}' AS outputs
                    ${sampleKeys ? ', k AS sampleKey' : ''}
             FROM (VALUES ${values.join(', ')}) t(i, age, d, o, p, k)
             ${others ? `UNION ALL BY NAME SELECT 'm' AS model, 2 AS version, i * 10 + 5 AS ts, 'q' || i AS predictionId, 'e' || i AS entityId, 1::DOUBLE AS "features.v:a", 1::DOUBLE AS "features.v:b", 5::DOUBLE AS "viewAgeMs.v", '[]' AS defaulted, '[]' AS overridden, 0.5::DOUBLE AS predictionNumber, '0.5' AS prediction, '{}' AS outputs FROM range(${others}) r(i)` : ''}
             ORDER BY entityId) TO ${literal(file)} (FORMAT parquet)`,
    );
    // The ages of the `sampleSize` rows of smallest hash of `key` with the sample's seed (1), for the expectations.
    const smallest = async (key: string) =>
      (
        await c.runAndReadAll(
          `SELECT "viewAgeMs.v" FROM read_parquet(${literal(file)}) ORDER BY hash(${key}, 1) LIMIT ${overrides.sampleSize ?? 10_000}`,
        )
      )
        .getRows()
        .map((r) => Number(r[0]))
        .sort((x, y) => x - y);
    // Count the grouped queries over the substituted rows, those reading contract breaches back,
    // the window's rows counted, and the queries sampling.
    let grouped = 0;
    let readBack = 0;
    let rowsCounted = 0;
    let sampling = 0;
    const counted = new Proxy(c, {
      get(target, prop, receiver) {
        if (prop !== 'runAndReadAll' && prop !== 'run') return Reflect.get(target, prop, receiver) as unknown;
        return (sql: string) => {
          if (sql.includes('GROUP BY ALL')) grouped++;
          if (sql.startsWith('SELECT prediction AS v')) readBack++;
          if (sql.startsWith('SELECT count(*) FROM read_parquet')) rowsCounted++;
          if (sql.includes('w_sample')) sampling++;
          return prop === 'run' ? target.run(sql) : target.runAndReadAll(sql);
        };
      },
    }) as DuckDBConnection;
    const result = await computeWindow(counted, inputs, 0);
    return {
      quality: result.quality!,
      performance: result.performance!,
      contracts: result.contracts!,
      grouped,
      readBack,
      rowsCounted,
      sampling,
      drift: result.drift!,
      byKey: await smallest(
        !sampleKeys
          ? 'predictionId'
          : sampleKeys.includes(null)
            ? 'coalesce(CAST(sampleKey AS DOUBLE), CAST(hash(predictionId) AS DOUBLE))'
            : 'sampleKey',
      ),
      byId: await smallest('predictionId'),
    };
  });
}

const clean: Row[] = [10, 20, 30, 40].map((age) => [age, [], []]);

describe('freshness of substituted features', () => {
  it("one kind of substitution: the scan's counts and max settle every feature, no second query", async () => {
    const { quality, grouped } = await window('settled', [...clean, [100, ['v:a'], []], [90, ['v:a'], []]]);
    expect(grouped).toBe(0);
    expect(quality.defaultedShare).toEqual({ 'v:a': 2 / 6 });
    // v:a left out the two records it defaulted; v:b used every record.
    expect(quality.freshness['v:a']).toMatchObject({ count: 4, maxMs: 40 });
    expect(quality.freshness['v:b']).toMatchObject({ count: 6, maxMs: 100 });
  });

  it('a substituted prediction that logged no age counts in its share, not in the ages', async () => {
    const { quality, grouped } = await window('no-age', [...clean, [100, ['v:a'], []], [null, ['v:a'], []]]);
    expect(grouped).toBe(0);
    expect(quality.defaultedShare).toEqual({ 'v:a': 2 / 6 });
    expect(quality.freshness['v:a']).toMatchObject({ count: 4, maxMs: 40 });
    expect(quality.freshness['v:b']).toMatchObject({ count: 5, maxMs: 100 });
  });

  it("two kinds in one view: each feature's max over the groups that used it, from the grouped query", async () => {
    const { quality, grouped } = await window('unsettled', [
      ...clean,
      [100, ['v:a'], []],
      [90, ['v:a'], []],
      [200, [], ['v:b']],
    ]);
    expect(grouped).toBe(1);
    expect(quality.defaultedShare).toEqual({ 'v:a': 2 / 7 });
    // v:a: the clean records and the override's (200); v:b: the clean ones and the defaults' (100, 90).
    // One max over every substituted prediction would give v:b 200.
    expect(quality.freshness['v:a']).toMatchObject({ count: 5, maxMs: 200 });
    expect(quality.freshness['v:b']).toMatchObject({ count: 6, maxMs: 100 });
  });
});

describe('the sample key', () => {
  // 12 clean records, ages 10, 20, ..., 120 ms; a sample of 2 sets p50 and p95 (between its two).
  const rows: Row[] = Array.from({ length: 12 }, (_, i) => [10 * (i + 1), [], []]);
  const quantiles = ([a, b]: number[]) => ({ p50Ms: a! + 0.5 * (b! - a!), p95Ms: a! + 0.95 * (b! - a!) });
  const keys = rows.map((_, i) => sampleKeyOf(`k${i}`));

  it('is the logged sampleKey where records carry it, hashed with the seed, not the id', async () => {
    const w = await window('keyed', rows, { sampleSize: 2 }, keys);
    expect(quantiles(w.byKey)).not.toEqual(quantiles(w.byId)); // the two keys pick rows apart here
    expect(w.quality.freshness['v:b']).toMatchObject({ count: 12, ...quantiles(w.byKey), maxMs: 120 });
  });

  it("is predictionId's hash for records logged before it, beside others' key, and predictionId alone in old files", async () => {
    const mixed = await window(
      'mixed-keys',
      rows,
      { sampleSize: 2 },
      keys.map((k, i) => (i % 3 ? k : null)),
    );
    expect(mixed.quality.freshness['v:b']).toMatchObject({ count: 12, ...quantiles(mixed.byKey) });
    const old = await window('old-keys', rows, { sampleSize: 2 });
    expect(old.quality.freshness['v:b']).toMatchObject({ count: 12, ...quantiles(old.byId) });
  });
});

describe("the bound of the window's rows (the sample's threshold)", () => {
  const rows: Row[] = Array.from({ length: 400 }, (_, i) => [i, [], []]);
  const inputs = { sampleSize: 100, end: 10_000 };

  it("is the files' rows when their footers show every row is the window's: no count, one sampling scan", async () => {
    const own = await window('bound-own', rows, inputs);
    expect(own).toMatchObject({ rowsCounted: 0, sampling: 1 });
    expect(own.quality.freshness['v:b']).toMatchObject({ count: 400 });
  });

  it("is the window's rows counted when the files hold another version's (three times as many): still one sampling scan, and the same window", async () => {
    const shared = await window('bound-shared', rows, inputs, undefined, 1200);
    expect(shared).toMatchObject({ rowsCounted: 1, sampling: 1 });
    const own = await window('bound-own-again', rows, inputs);
    expect(shared.quality.freshness).toEqual(own.quality.freshness);
    expect(shared.drift).toEqual(own.drift);
  });
});

describe('the output contract', () => {
  // The prediction is 0 or 1 (i % 2); the contract bounds the first output, the prediction.
  const contracted = (range: { min?: number; max?: number }): Partial<WindowInputs> => ({
    signature: {
      featureService: { features: [{ view: 'v', feature: 'a' }] },
      outputs: [{ name: 'score', meaning: 'score', contract: { range } }],
    } as unknown as ModelSignature,
  });

  it('every prediction breaking it is counted; a window that keeps it reads nothing back', async () => {
    const broken = await window('contract-broken', clean, contracted({ min: 5 }));
    expect(broken.contracts.score).toMatchObject({ checked: 4, violating: 4, violations: { range: 4 } });
    expect(broken.readBack).toBe(1);
    const kept = await window('contract-kept', clean, contracted({ min: 0, max: 1 }));
    expect(kept.contracts.score).toMatchObject({ checked: 4, violating: 0 });
    expect(kept.readBack).toBe(0);
    const half = await window('contract-half', clean, contracted({ max: 0.5 }));
    expect(half.contracts.score).toMatchObject({ checked: 4, violating: 2, violations: { range: 2 } });
  });
});

describe('the performance estimate', () => {
  it('a binary model whose baseline marks the prediction categorical gets no estimate (no probability to bin), and the window still computes', async () => {
    const base = baselineOf({
      features: { 'v:a': numericBaseline([0, 1, 2, 3]), 'v:b': numericBaseline([0, 1, 2, 3]) },
      prediction: categoricalBaseline([0, 1, 0, 1]),
    });
    const numeric = await window('binary-numeric', clean, { task: 'binary' });
    expect(numeric.performance.map((p) => p.kind)).toEqual(['estimated']);
    const categorical = await window('binary-categorical', clean, { task: 'binary', baseline: base });
    expect(categorical.performance).toEqual([]);
    expect(categorical.quality.rows).toBe(4);
  });
});
