/**
 * The window aggregates computed by DuckDB over generated Parquet files equal the same contract
 * computed in TypeScript from the raw values (bins, values exactly on edges, nulls and NaN,
 * out-of-range counts, categories listed and unknown, the score histogram); the sample is a
 * bounded, seeded, repeatable subset of the window's values; and a million-row window from the
 * baseline's distribution raises no drift through the whole path while a shifted one does.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import type { Baseline, ColumnBaseline } from '../../shared/training/baseline';
import { featureColumns } from '../../shared/monitoring/baseline';
import { driftReport } from '../../shared/monitoring/drift';
import { scoreHistogram } from '../../shared/monitoring/performance-estimated';
import { qualityReport } from '../../shared/monitoring/quality';
import { withMonitoringConnection } from '../../shared/monitoring/monitor-duckdb';
import { summarizeValues } from '../../shared/monitoring/window';
import {
  aggregateSql,
  columnExpr,
  float32AtMost,
  nextDown,
  numericPlan,
  parquetRelation,
  readWindowAggregates,
  type WindowQuery,
} from '../../shared/monitoring/window-query';
import { writeSyntheticParquet, type SyntheticColumn } from '../../bench/lib/monitoring-data';
import { baselineOf, categoricalBaseline, numericBaseline } from '../helpers/monitoring-fixtures';
import { tempDir } from '../helpers/temp';

/** A repeatable stream of uniform values in (-1, 1). */
function normalsLike(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 30 - 1;
}

const COLUMNS: SyntheticColumn[] = [
  { name: 'amount', kind: 'normal', mean: 50, sd: 10, nullEvery: 50 },
  { name: 'visits', kind: 'integer', mod: 7 },
  { name: 'country', kind: 'category', values: ['DE', 'FR', 'NL'], weights: [5, 3, 2], nullEvery: 40 },
  { name: 'score', kind: 'score' },
];

let tmp: ReturnType<typeof tempDir>;
let windowFiles: string[];
let baseline: Baseline;
let byName: Map<string, ColumnBaseline>;

const read = (sql: string) =>
  withConnection(async (c) => (await c.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>);
const column = async (files: string[], name: string, where = 'true') =>
  (await read(`SELECT ${columnExpr(name)} AS v FROM ${parquetRelation(files)} WHERE ${where} ORDER BY id`)).map((r) =>
    r.v === 'NaN' ? NaN : (r.v as number | string | null),
  ); // DuckDB's JSON form spells NaN as a string

function query(files: string[], extra: Partial<WindowQuery> = {}): WindowQuery {
  return {
    from: parquetRelation(files),
    features: {
      amount: { expr: columnExpr('amount'), baseline: byName.get('amount')! },
      visits: { expr: columnExpr('visits'), baseline: byName.get('visits')! },
      country: { expr: columnExpr('country'), baseline: byName.get('country')!, valueType: 'string' },
    },
    prediction: { expr: columnExpr('score'), baseline: baseline.prediction },
    scores: {},
    sample: { size: 1000, seed: 7 },
    ...extra,
  };
}

beforeAll(async () => {
  tmp = tempDir('strata-monitoring-window-');
  const train = path.join(tmp.dir, 'train.parquet');
  await withConnection(async (c) => {
    await writeSyntheticParquet(c, train, { rows: 20_000, seed: 1, columns: COLUMNS });
    // The window: three files; NL is left out of the baseline below, and one file carries a new category and a NaN.
    windowFiles = [0, 1, 2].map((k) => path.join(tmp.dir, `window-${k}.parquet`));
    await writeSyntheticParquet(c, windowFiles[0]!, { rows: 4_000, seed: 2, columns: COLUMNS });
    await writeSyntheticParquet(c, windowFiles[1]!, {
      rows: 4_000,
      seed: 3,
      columns: [{ ...COLUMNS[0]!, shift: 3 } as SyntheticColumn, ...COLUMNS.slice(1)],
      firstId: 4_000,
    });
    await c.run(`COPY (SELECT id, CASE WHEN id = 1 THEN 'NaN'::DOUBLE ELSE amount END AS amount, visits, CASE WHEN id % 9 = 0 THEN 'PL' ELSE country END AS country, score
                 FROM read_parquet(${literal(windowFiles[0]!)})) TO ${literal(windowFiles[2]!)} (FORMAT parquet)`);
  });
  const values = async (name: string) => (await column([train], name)).filter((v): v is number => v !== null);
  const countries = (await column([train], 'country')).filter((v): v is string => v !== null && v !== 'NL');
  baseline = baselineOf({
    features: {
      amount: numericBaseline(await values('amount'), { nullRate: 0.02 }),
      visits: numericBaseline(await values('visits')),
      country: categoricalBaseline(countries),
    },
    prediction: numericBaseline(await values('score')),
  });
  byName = featureColumns(baseline);
});
afterAll(() => tmp?.cleanup());

describe('window aggregates in DuckDB', () => {
  it('equal the TypeScript contract computed from the raw values, feature by feature', async () => {
    const { aggregates, scores } = await withConnection((c) => readWindowAggregates(c, query(windowFiles)));
    expect(aggregates.rows).toBe(12_000);
    for (const name of ['amount', 'visits', 'country'] as const) {
      const raw = await column(windowFiles, name);
      const ref = summarizeValues(byName.get(name)!, raw);
      const got = aggregates.features[name]!;
      if (ref.kind === 'numeric' && got.kind === 'numeric') {
        expect({ ...got, sample: [] }).toEqual({ ...ref, sample: [] });
      } else {
        expect(got).toEqual(ref);
      }
    }
    // Hand checks of what the window holds: 1 NaN + nulls every 50th row; PL every 9th row of the third file; NL unlisted.
    expect(aggregates.features.amount).toMatchObject({ nulls: 3 * 80 + 1 });
    const country = aggregates.features.country!;
    expect(country.kind === 'categorical' && country.unknown.map((u) => u.value)).toEqual(['NL', 'PL']);
    // The shifted file moves values above the training max.
    expect(aggregates.features.amount!.kind === 'numeric' && aggregates.features.amount!.aboveRange).toBeGreaterThan(
      100,
    );
    expect(scores).toEqual(scoreHistogram((await column(windowFiles, 'score')) as number[]));
  });

  it('counts values exactly on bin edges in the bin above (integers 0..6 with edges 1..6)', async () => {
    const visits = byName.get('visits')!;
    expect(visits.edges).toEqual([1, 2, 3, 4, 5, 6]);
    const { aggregates } = await withConnection((c) => readWindowAggregates(c, query([windowFiles[0]!])));
    const raw = (await column([windowFiles[0]!], 'visits')) as number[];
    const perValue = [0, 1, 2, 3, 4, 5, 6].map((v) => raw.filter((x) => x === v).length);
    expect(aggregates.features.visits!.kind === 'numeric' && aggregates.features.visits!.binCounts).toEqual(perValue);
  });

  it('the sample is bounded, seeded and repeatable, and holds every value of a window smaller than it', async () => {
    const q = query(windowFiles, { sample: { size: 500, seed: 11 } });
    const [a, b] = await withConnection(async (c) => [
      await readWindowAggregates(c, q),
      await readWindowAggregates(c, q),
    ]);
    const sa = a.aggregates.features.amount!;
    const sb = b.aggregates.features.amount!;
    if (sa.kind !== 'numeric' || sb.kind !== 'numeric') throw new Error('amount is numeric');
    expect(sa.sample.length).toBeGreaterThan(480); // 500 rows, about 2% of them null
    expect(sa.sample.length).toBeLessThanOrEqual(500);
    expect(sb.sample).toEqual(sa.sample);
    const all = new Set((await column(windowFiles, 'amount')).filter((v): v is number => v !== null).map(Math.fround)); // values as float32
    expect(sa.sample.every((v) => all.has(v))).toBe(true);

    // In the one scan (an upper bound of the rows given) the sample is the same bottom-k rows,
    // whether the bound is exact or so high the scan keeps too few and samples again.
    const bounded = await withConnection(async (c) => [
      await readWindowAggregates(c, query(windowFiles, { sample: { size: 500, seed: 11, rowsAtMost: 12_000 } })),
      await readWindowAggregates(c, query(windowFiles, { sample: { size: 500, seed: 11, rowsAtMost: 10_000_000 } })),
    ]);
    for (const r of bounded) expect(r.aggregates.features.amount).toEqual(sa);
    const other = await withConnection((c) =>
      readWindowAggregates(c, query(windowFiles, { sample: { size: 500, seed: 12 } })),
    );
    expect(other.aggregates.features.amount).not.toEqual(sa); // the seed picks the rows

    const small = await withConnection((c) =>
      readWindowAggregates(c, query(windowFiles, { where: 'id < 300', sample: { size: 1000, seed: 1 } })),
    );
    const smallAmount = small.aggregates.features.amount!;
    const raw = (await column(windowFiles, 'amount', 'id < 300'))
      .filter((v): v is number => v !== null && !Number.isNaN(v))
      .map(Math.fround);
    expect(small.aggregates.rows).toBe(600); // ids 0..299 in the first and third files
    expect(smallAmount.kind === 'numeric' && [...smallAmount.sample].sort((x, y) => x - y)).toEqual(
      raw.sort((x, y) => x - y),
    );
  });

  it('rows of equal keys straddling the cut: exactly `size` rows (299, not a multiple of the run length), the same ones whatever the threads', async () => {
    // Keys shared by 12 rows (`id % 1000`): the threshold keeps enough rows but the size-th
    // smallest hash falls inside a run of equal ones, so the kept rows are cut in full sort
    // order. Keys shared by about 1,700 rows (`visits`, 7 values): the threshold finds too few
    // and the exact bottom k is taken.
    for (const key of ['id % 1000', 'visits']) {
      const q = (rowsAtMost?: number) =>
        query(windowFiles, { sample: { size: 299, seed: 3, key, ...(rowsAtMost ? { rowsAtMost } : {}) } });
      const runs = [
        await withMonitoringConnection(1, (c) => readWindowAggregates(c, q())),
        await withMonitoringConnection(2, (c) => readWindowAggregates(c, q())),
        await withMonitoringConnection(2, (c) => readWindowAggregates(c, q(12_000))),
      ];
      for (const r of runs) {
        const visits = r.aggregates.features.visits!;
        if (visits.kind !== 'numeric') throw new Error('visits is numeric');
        expect(visits.sample, key).toHaveLength(299); // never null: one value per sampled row
      }
      for (const r of runs.slice(1)) expect(r.aggregates.features, key).toEqual(runs[0]!.aggregates.features);
    }
  });

  it("score bins from the prediction's own histogram equal floor(score * bins), at and around every bin edge, outside [0, 1] and infinite", async () => {
    const b = numericBaseline([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    const edges = Array.from({ length: 1001 }, (_, k) => k / 1000);
    const values = [
      ...edges.flatMap((e) => [nextDown(e), e, -nextDown(-e)]),
      ...[0.1, 0.7, 1 / 3].map((x) => x), // near a baseline edge too
      -0.5,
      2,
      1e300,
      -1e300,
      Infinity,
      -Infinity,
      NaN,
    ];
    const from = `(SELECT unnest(${literal(`[${values.join(', ')}]`)}::DOUBLE[]) AS x)`;
    const { aggregates, scores } = await withConnection((c) =>
      readWindowAggregates(c, {
        from,
        features: {},
        prediction: { expr: 'x', baseline: b },
        scores: {},
        sample: { size: 1 },
      }),
    );
    expect(scores).toEqual(scoreHistogram(values));
    expect(scores!.counts.reduce((t, n) => t + n, 0)).toBe(values.length - 1); // NaN is missing
    // The prediction's own bins are unchanged by the score thresholds among them.
    expect({ ...aggregates.prediction!, sample: [] }).toEqual({ ...summarizeValues(b, values), sample: [] });
  });

  it('numbers used as categories match the baseline keys as JavaScript prints them', async () => {
    const codes = categoricalBaseline([0, 1, 2]);
    const { aggregates } = await withConnection((c) =>
      readWindowAggregates(c, {
        from: parquetRelation([windowFiles[0]!]),
        features: { visits: { expr: columnExpr('visits'), baseline: codes } },
      }),
    );
    const raw = (await column([windowFiles[0]!], 'visits')) as number[];
    const count = (v: number) => raw.filter((x) => x === v).length;
    expect(aggregates.features.visits).toEqual({
      kind: 'categorical',
      rows: 4_000,
      nulls: 0,
      counts: { '0': count(0), '1': count(1), '2': count(2) },
      otherCount: 4_000 - count(0) - count(1) - count(2),
      unknown: [3, 4, 5, 6]
        .map((v) => ({ value: String(v), count: count(v) }))
        .sort((x, y) => y.count - x.count || (x.value < y.value ? -1 : 1)),
    });
  });

  it('numbers used as categories are counted as float32, beyond its range too, and NaN is missing', async () => {
    const values = [1e39, -1e39, 1e39, NaN, 16777217, 16777216, 0.1, 3, -0, 0];
    const codes = categoricalBaseline([0, 3, 16777216]);
    const from = `(SELECT unnest(${literal(`[${values.join(', ')}]`)}::DOUBLE[]) AS x)`;
    const { aggregates } = await withConnection((c) =>
      readWindowAggregates(c, { from, features: { x: { expr: 'x', baseline: codes } } }),
    );
    expect(aggregates.features.x).toEqual({
      kind: 'categorical',
      rows: 10,
      nulls: 1,
      counts: { '0': 2, '3': 1, '16777216': 2 },
      otherCount: 4,
      unknown: [
        { value: 'Infinity', count: 2 },
        { value: '-Infinity', count: 1 },
        { value: String(Math.fround(0.1)), count: 1 },
      ],
    });
  });

  it('turns each edge into the double just below it, so right-closed DuckDB buckets are left-closed bins', () => {
    expect(nextDown(1)).toBe(1 - Number.EPSILON / 2);
    expect(nextDown(-1)).toBe(-1 - Number.EPSILON);
    expect(nextDown(0)).toBe(-Number.MIN_VALUE);
    const plan = numericPlan({ ...numericBaseline([0, 1, 10]), edges: [2, 5], counts: [1, 1, 1] });
    expect(plan.boundaries).toEqual([nextDown(0), nextDown(2), nextDown(5), 10]);
    expect(plan.bin).toEqual([0, 0, 1, 2, 2]);
    expect(plan.below).toEqual([true, false, false, false, false]);
    expect(plan.above).toEqual([false, false, false, false, true]);
    // Over raw doubles: nextDown(2) is no float32, the doubles that round to at most it are those below
    // 2 - 2^-24 (the midpoint ties to 2); the max 10 is one, and doubles up to half its ulp above round to it.
    expect(plan.thresholds).toEqual([
      float32AtMost(nextDown(0)),
      nextDown(2 - 2 ** -24),
      nextDown(5 - 2 ** -22),
      10 + 2 ** -21,
    ]);
    const visits = numericPlan(byName.get('visits')!);
    expect(aggregateSql(query(windowFiles))).toContain(`'${visits.thresholds[1]}'`);
    // NaN costs an expression only when a scan found one (the first test's window has one).
    expect(aggregateSql(query(windowFiles))).not.toContain('nullif');
    expect(aggregateSql(query(windowFiles), new Set(['c0']))).toContain(
      'nullif(CAST("amount" AS DOUBLE), \'NaN\'::DOUBLE)',
    );
  });

  it('float32AtMost(b) is the largest double that rounds to a float32 at most b', () => {
    const up = (x: number) => -nextDown(-x);
    const f32 = 3.4028234663852886e38;
    const bs = [0, -0, 1, -1, 2, nextDown(2), 0.1, -0.1, 1e-40, -1e-40, 1e-46, -1e-46, 2 ** -149, -(2 ** -149)];
    bs.push(f32, -f32, nextDown(f32), up(f32), 1e39, -1e39, 123456.789, -98765.4321, Math.PI, 16777217);
    const next = normalsLike(3);
    for (let i = 0; i < 500; i++) bs.push(next() * 10 ** Math.floor(next() * 8), Math.fround(next() * 1000));
    for (const b of bs) {
      const t = float32AtMost(b);
      expect(Math.fround(t) <= b, `fround(${t}) <= ${b}`).toBe(true);
      expect(Math.fround(up(t)) > b, `fround(${up(t)}) > ${b}`).toBe(true);
    }
  });

  it('counts the doubles on either side of each float32 threshold as the float32 bins of training do', async () => {
    const edges = [0.1, 1 / 3, 2, nextDown(5), 7.25];
    const b = { ...numericBaseline([0, 1, 2, 3, 4, 5, 6, 7, 8]), edges, counts: new Array<number>(6).fill(1) };
    const plan = numericPlan(b);
    const values = [...plan.boundaries, ...edges].flatMap((x) => {
      const t = float32AtMost(x);
      return [nextDown(t), t, -nextDown(-t), x, Math.fround(x), 1e39, -1e39];
    });
    const from = `(SELECT unnest(${literal(`[${values.join(', ')}]`)}::DOUBLE[]) AS x)`;
    const { aggregates } = await withConnection((c) =>
      readWindowAggregates(c, { from, features: { x: { expr: 'x', baseline: b } }, sample: { size: 1 } }),
    );
    expect({ ...aggregates.features.x!, sample: [] }).toEqual({ ...summarizeValues(b, values), sample: [] });
  });

  it('NaN, -Infinity and the lowest double share the first bucket: NaN is missing, the others are below the range', async () => {
    const b = { ...numericBaseline([0, 1, 2, 3, 4, 5, 6, 7, 8]), edges: [2, 5], counts: [1, 1, 1] };
    const cases = [
      [-Infinity, -Number.MAX_VALUE, 1, 3, 9, Infinity],
      [NaN, -Infinity, -Number.MAX_VALUE, 1, 3, NaN, Infinity, 6],
      [NaN, 4],
    ];
    for (const values of cases) {
      const from = `(SELECT unnest(${literal(`[${values.join(', ')}]`)}::DOUBLE[]) AS x)`;
      const { aggregates } = await withConnection((c) =>
        readWindowAggregates(c, { from, features: { x: { expr: 'x', baseline: b } }, sample: { size: 100 } }),
      );
      const expected = summarizeValues(b, values);
      expect({ ...aggregates.features.x!, sample: [] }, values.join(', ')).toEqual({ ...expected, sample: [] });
      const x = aggregates.features.x!;
      expect(x.kind === 'numeric' && [...x.sample].sort((p, q) => p - q)).toEqual(
        values
          .filter((v) => !Number.isNaN(v))
          .map(Math.fround) // sampled values are float32, as training's
          .sort((p, q) => p - q),
      );
    }
  });
});

describe('a whole window through DuckDB and the drift decisions', () => {
  it('a 1M-row window from the baseline distribution raises nothing; a 0.5 sigma shift and a new category are flagged', async () => {
    const cols: SyntheticColumn[] = [
      { name: 'a', kind: 'normal', mean: 5, sd: 2 },
      { name: 'b', kind: 'normal', mean: -3, sd: 0.5 },
      { name: 'c', kind: 'category', values: ['x', 'y', 'z'], weights: [6, 3, 1] },
    ];
    const train = path.join(tmp.dir, 'big-train.parquet');
    const same = path.join(tmp.dir, 'big-same.parquet');
    const moved = path.join(tmp.dir, 'big-moved.parquet');
    await withConnection(async (c) => {
      await writeSyntheticParquet(c, train, { rows: 100_000, seed: 21, columns: cols });
      await writeSyntheticParquet(c, same, { rows: 1_000_000, seed: 22, columns: cols });
      await writeSyntheticParquet(c, moved, {
        rows: 100_000,
        seed: 23,
        columns: [
          { ...cols[0]!, shift: 0.5 } as SyntheticColumn,
          cols[1]!,
          { name: 'c', kind: 'category', values: ['x', 'y', 'z', 'new'], weights: [5.4, 2.7, 0.9, 1] },
        ],
      });
    });
    const nums = async (name: string) => (await column([train], name)) as number[];
    const base = baselineOf({
      features: {
        a: numericBaseline(await nums('a')),
        b: numericBaseline(await nums('b')),
        c: categoricalBaseline((await column([train], 'c')) as string[]),
      },
      prediction: numericBaseline(await nums('a')),
    });
    const cols2 = featureColumns(base);
    const q = (file: string): WindowQuery => ({
      from: parquetRelation([file]),
      features: Object.fromEntries(
        ['a', 'b', 'c'].map((n) => [
          n,
          {
            expr: columnExpr(n),
            baseline: cols2.get(n)!,
            valueType: n === 'c' ? ('string' as const) : ('number' as const),
          },
        ]),
      ),
      sample: { size: 10_000, seed: 1 },
    });
    const quiet = driftReport(base, (await withConnection((c) => readWindowAggregates(c, q(same)))).aggregates);
    expect(quiet.rows).toBe(1_000_000);
    expect(quiet.features.map((f) => [f.feature, f.status, f.method])).toEqual([
      ['a', 'no_drift', 'wasserstein'],
      ['b', 'no_drift', 'wasserstein'],
      ['c', 'no_drift', 'jensen_shannon'],
    ]);
    expect(quiet.dataset.status).toBe('no_drift');

    const shiftedAgg = (await withConnection((c) => readWindowAggregates(c, q(moved)))).aggregates;
    const shifted = driftReport(base, shiftedAgg);
    expect(shifted.features.map((f) => [f.feature, f.status])).toEqual([
      ['a', 'drift'],
      ['b', 'no_drift'],
      ['c', 'drift'],
    ]);
    expect(shifted.features[0]!.score!).toBeGreaterThan(0.4);
    const quality = qualityReport(base, shiftedAgg);
    expect(quality.features[2]!.unknownCategories).toMatchObject({ top: [{ value: 'new' }] });
    expect(quality.features[2]!.unknownCategories!.share).toBeCloseTo(0.1, 2);
  });
});
