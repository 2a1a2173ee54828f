/**
 * Synthetic prediction windows as Parquet, generated inside DuckDB (a million rows in about a
 * second) and deterministic: every value is a function of (row, seed, column) through DuckDB's
 * hash, so the same call writes the same file on any machine and thread count. Used by
 * bench/monitoring and by the window-query integration test.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { defineRepo } from '../../shared/features/definitions/repo';
import type { FeatureColumn } from '../../shared/features/definitions/values';
import { mapColumn } from '../../shared/features/ingest/number-maps';
import { sourceColumns, sourceSegmentView } from '../../shared/features/ingest/service';
import { ident, literal } from '../../shared/features/offline/duckdb';
import { stageQuery, stagedDays, writeDayFile } from '../../shared/features/offline/segment-file';
import { predictions } from '../../shared/definitions/platform-sources';
import { BASELINE_SCHEMA, BIN_RULE, type Baseline, type ColumnBaseline } from '../../shared/training/baseline';
import { SignatureSchema, type ModelSignature } from '../../shared/serving/signature';
import { readWindowAggregates } from '../../shared/monitoring/window-query';
import type { WindowInputs } from '../../shared/monitoring/window-compute';

export type SyntheticColumn =
  /** N(mean + shift·sd, sd), NULL on every `nullEvery`-th row. */
  | { name: string; kind: 'normal'; mean?: number; sd?: number; shift?: number; nullEvery?: number }
  /** Whole numbers 0 .. mod-1 (values that sit exactly on bin edges), as DOUBLE. */
  | { name: string; kind: 'integer'; mod: number }
  /** One of `values` with the given weights (VARCHAR), NULL on every `nullEvery`-th row. */
  | { name: string; kind: 'category'; values: string[]; weights?: number[]; nullEvery?: number }
  /** A score in (0, 1): sigmoid of a normal. */
  | { name: string; kind: 'score'; shift?: number };

/** A uniform [0, 1) value for (row i, seed, column k), from the top 53 bits of a hash. */
const uniform = (seed: number, k: number, salt = 0) =>
  `((hash(i, ${seed}, ${k * 2 + salt}) >> 11)::DOUBLE / 9007199254740992.0)`;

function columnSql(c: SyntheticColumn, k: number, seed: number): string {
  const nulled = (expr: string, every: number | undefined) =>
    every ? `CASE WHEN i % ${every} = 0 THEN NULL ELSE ${expr} END` : expr;
  const normal = `(sqrt(-2 * ln(1 - ${uniform(seed, k)})) * cos(2 * pi() * ${uniform(seed, k, 1)}))`;
  switch (c.kind) {
    case 'normal': {
      const sd = c.sd ?? 1;
      return `${nulled(`${c.mean ?? 0} + ${sd} * (${normal} + ${c.shift ?? 0})`, c.nullEvery)} AS ${ident(c.name)}`;
    }
    case 'integer':
      return `CAST(hash(i, ${seed}, ${k * 2}) % ${c.mod} AS DOUBLE) AS ${ident(c.name)}`;
    case 'category': {
      const w = c.weights ?? c.values.map(() => 1);
      const total = w.reduce((a, b) => a + b, 0);
      let acc = 0;
      const branches = c.values
        .map((v, j) => `WHEN ${uniform(seed, k)} < ${(acc += w[j]!) / total} THEN ${literal(v)}`)
        .join(' ');
      return `${nulled(`CASE ${branches} ELSE ${literal(c.values[c.values.length - 1]!)} END`, c.nullEvery)} AS ${ident(c.name)}`;
    }
    case 'score':
      return `1 / (1 + exp(-(${normal} + ${c.shift ?? 0}))) AS ${ident(c.name)}`;
  }
}

/** Write `rows` rows (ids firstId ..) of the given columns to `file` as Parquet, plus an `id` column. */
export async function writeSyntheticParquet(
  conn: DuckDBConnection,
  file: string,
  opts: { rows: number; seed: number; columns: SyntheticColumn[]; firstId?: number },
): Promise<void> {
  const first = opts.firstId ?? 0;
  const cols = opts.columns.map((c, k) => columnSql(c, k, opts.seed));
  await conn.run(
    `COPY (SELECT i AS id, ${cols.join(', ')} FROM range(${first}, ${first + opts.rows}) t(i)) TO ${literal(file)} (FORMAT parquet)`,
  );
}

/**
 * Baseline columns (training's type) from a training Parquet file, computed by DuckDB the way a baseline
 * builder would (decile cut points above the min, counts per left-closed bin, moments, a
 * reservoir sample, category counts). For benchmarks; training owns the real builder.
 */
export async function baselineFromParquet(
  conn: DuckDBConnection,
  file: string,
  columns: SyntheticColumn[],
  opts: { sampleSize?: number } = {},
): Promise<{ rows: number; features: Record<string, ColumnBaseline> }> {
  const rel = `read_parquet(${literal(file)})`;
  const features: Record<string, ColumnBaseline> = {};
  const rows = Number((await conn.runAndReadAll(`SELECT count(*) FROM ${rel}`)).getRows()[0]![0]);
  for (const c of columns) {
    const x = ident(c.name);
    if (c.kind === 'category') {
      const r = (
        await conn.runAndReadAll(`SELECT ${x} AS v, count(*) AS n FROM ${rel} WHERE ${x} IS NOT NULL GROUP BY 1`)
      ).getRowObjectsJson();
      const categories = r.map((e) => ({ value: String(e.v), count: Number(e.n) }));
      const present = categories.reduce((a, b) => a + b.count, 0);
      features[c.name] = {
        name: c.name,
        count: present,
        nullCount: rows - present,
        nullRate: 1 - present / rows,
        min: null,
        max: null,
        mean: null,
        std: null,
        edges: [],
        counts: [present],
        categories,
        categorical: true,
        sample: [],
      };
      continue;
    }
    const s = (
      await conn.runAndReadAll(`SELECT min(${x}) AS lo, max(${x}) AS hi, avg(${x}) AS mean, stddev_samp(${x}) AS std, count(${x}) AS n,
        quantile_disc(${x}, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) AS q FROM ${rel}`)
    ).getRowObjectsJson()[0]!;
    const min = Number(s.lo);
    const edges: number[] = [];
    for (const q of s.q as number[]) if (q > min && (edges.length === 0 || q > edges[edges.length - 1]!)) edges.push(q);
    const sample = (
      await conn.runAndReadAll(
        `SELECT ${x} AS v FROM ${rel} WHERE ${x} IS NOT NULL USING SAMPLE reservoir(${opts.sampleSize ?? 10_000} ROWS) REPEATABLE (1)`,
      )
    )
      .getRowObjectsJson()
      .map((r) => Number(r.v))
      .sort((a, b) => a - b); // ascending, as training stores it
    const draft: ColumnBaseline = {
      name: c.name,
      count: Number(s.n),
      nullCount: rows - Number(s.n),
      nullRate: 1 - Number(s.n) / rows,
      min,
      max: Number(s.hi),
      mean: Number(s.mean),
      std: Number(s.std),
      edges,
      counts: new Array<number>(edges.length + 1).fill(0),
      categories: null,
      categorical: false,
      sample,
    };
    // The bin counts: the window aggregate over the training file counts exactly the baseline's bins.
    const { aggregates } = await readWindowAggregates(conn, {
      from: rel,
      features: { [c.name]: { expr: x, baseline: draft } },
      sample: { size: 1 },
    });
    const agg = aggregates.features[c.name]!;
    if (agg.kind === 'numeric') draft.counts = agg.binCounts;
    features[c.name] = draft;
  }
  return { rows, features };
}

/**
 * A window of the prediction log as ingest stores it: `rows` records of `model` version 1 with
 * event times spread over [start, start + 1 h), in `files` segments written by the offline
 * store's own segment writer (the predictions source's layout: its fields, then a DOUBLE column
 * per key of `features` and `viewAgeMs`, sorted, zstd). Each feature `<name>` of `columns` is
 * logged as `v:<name>` of the one view `v` (categories as their index, numbers as every logged
 * feature is), the `score` column is the prediction and the `probability` output, every 50th
 * record has `v:<first>` defaulted, and every record the age of view `v`, 0-10 min.
 */
export async function writePredictionSegments(
  conn: DuckDBConnection,
  dir: string,
  opts: { rows: number; files: number; seed: number; columns: SyntheticColumn[]; model: string; start: number },
): Promise<string[]> {
  const source = defineRepo({ sources: [predictions] }).source('predictions');
  const features = opts.columns.filter((c) => c.name !== 'score');
  const key = (c: SyntheticColumn) => `v:${c.name}`;
  const first = key(features[0]!);
  const value = (c: SyntheticColumn) =>
    c.kind === 'category'
      ? `CAST(list_position(${`[${c.values.map(literal).join(', ')}]`}, ${ident(c.name)}) - 1 AS DOUBLE)`
      : `CAST(${ident(c.name)} AS DOUBLE)`;
  const defaulted = `id % 50 = 0`;
  const record = {
    predictionId: `'p' || id`,
    requestId: `'r' || id`,
    ts: `${opts.start} + (id * 3600000) // ${opts.rows}`,
    model: literal(opts.model),
    version: '1',
    entityId: `'e' || (id % 50000)`,
    routedBy: `'production'`,
    shadow: 'false',
    features: 'NULL',
    defaulted: `CASE WHEN ${defaulted} THEN ${literal(JSON.stringify([first]))} ELSE '[]' END`,
    viewAgeMs: 'NULL',
    featureAgeMs: 'NULL',
    overridden: `'[]'`,
    prediction: 'CAST(score AS VARCHAR)',
    predictionNumber: 'score',
    // sampleKeyOf(predictionId), as the predictor logs it: SHA-1's first six bytes.
    sampleKey: `('0x' || left(sha1('p' || id), 12))::BIGINT`,
    outputs: `json_object('probability', score)::VARCHAR`,
    latencyMs: '2.5',
  };
  // The first feature of a defaulted record holds its default (0); every record read view `v` (its other features).
  const maps = [
    ...features.map((c, k) => [
      mapColumn('features', key(c)),
      k === 0 ? `CASE WHEN ${defaulted} THEN 0 ELSE ${value(c)} END` : value(c),
    ]),
    [mapColumn('viewAgeMs', 'v'), `CAST(hash(id, 0) % 600000 AS DOUBLE)`],
  ];
  const columns: FeatureColumn[] = [
    ...sourceColumns(source),
    ...maps.map(([name]) => ({ name: name!, type: 'float' as const })),
  ];
  const select = [
    `'p' || id AS entity_id`,
    `${record.ts} AS event_ts`,
    `${record.ts} + 1000 AS created_ts`,
    ...Object.entries(record).map(([name, expr]) => `${expr} AS ${ident(name)}`),
    ...maps.map(([name, expr]) => `${expr} AS ${ident(name!)}`),
  ].join(', ');
  const out: string[] = [];
  fs.mkdirSync(dir, { recursive: true });
  const per = Math.ceil(opts.rows / opts.files);
  for (let k = 0; k < opts.files; k++) {
    const raw = path.join(dir, `raw-${k}.parquet`);
    const n = Math.min(per, opts.rows - k * per);
    await writeSyntheticParquet(conn, raw, { rows: n, seed: opts.seed + k, columns: opts.columns, firstId: k * per });
    const table = `bench_predictions_${k}`;
    await stageQuery(conn, table, columns, `SELECT ${select} FROM read_parquet(${literal(raw)})`);
    for (const day of await stagedDays(conn, table))
      out.push(
        (
          await writeDayFile(
            conn,
            table,
            columns,
            day,
            path.join(dir, `segment-${k}`),
            sourceSegmentView('predictions'),
          )
        ).file,
      );
    await conn.run(`DROP TABLE ${ident(table)}`);
    fs.rmSync(raw);
  }
  return out;
}

/** The benchmark window's columns: `features` features (every 10th categorical, the rest normal with ~1% nulls) and a score. */
export function benchWindowColumns(features: number): SyntheticColumn[] {
  return [
    ...Array.from({ length: features }, (_, i): SyntheticColumn =>
      i % 10 === 9
        ? {
            name: `f${i}`,
            kind: 'category',
            values: ['a', 'b', 'c', 'd', 'e', 'f'],
            weights: [30, 25, 20, 15, 7, 3],
            nullEvery: 97,
          }
        : { name: `f${i}`, kind: 'normal', mean: i, sd: 1 + i / 10, nullEvery: 101 },
    ),
    { name: 'score', kind: 'score', shift: -0.5 },
  ];
}

/**
 * The baseline of a model logging `columns` the way writePredictionSegments does (features
 * `v:<name>`, categories by index), from 200,000 training rows drawn from the same distribution.
 */
export async function benchBaseline(
  conn: DuckDBConnection,
  file: string,
  columns: SyntheticColumn[],
): Promise<Baseline> {
  await writeSyntheticParquet(conn, file, { rows: 200_000, seed: 1, columns });
  const built = await baselineFromParquet(conn, file, columns);
  const features = columns
    .filter((c) => c.name !== 'score')
    .map((c): ColumnBaseline => {
      const b = built.features[c.name]!;
      return {
        ...b,
        name: `v:${c.name}`,
        categories:
          c.kind === 'category' && b.categories
            ? b.categories.map((e) => ({ value: c.values.indexOf(String(e.value)), count: e.count }))
            : b.categories,
      };
    });
  const score = built.features.score!;
  return {
    schema: BASELINE_SCHEMA,
    rows: built.rows,
    binRule: BIN_RULE,
    features,
    prediction: { ...score, name: 'prediction' },
    label: { ...score, name: 'label' },
    sample: { seed: 1, columns: [], rows: [] },
  };
}

/** A signature over the baseline's features with one `probability` output promised in [0, 1]. */
export function benchSignature(baseline: Baseline): ModelSignature {
  return SignatureSchema.parse({
    featureService: {
      name: 'bench_service',
      features: baseline.features.map((f) => ({ view: f.name.split(':')[0], feature: f.name.split(':')[1] })),
    },
    input: { name: 'features' },
    outputs: [{ name: 'probability', meaning: 'probability of class 1', contract: { range: { min: 0, max: 1 } } }],
    policy: { default: { onMissing: { default: 0 } } },
  });
}

/**
 * The benchmark window: `rows` logged predictions of `model` × `features` features in `files`
 * segments (default 4) under `dir`, its baseline and signature, as the inputs computeWindow takes.
 */
export async function benchWindow(
  conn: DuckDBConnection,
  dir: string,
  o: { rows: number; features: number; files?: number; model: string; start: number },
): Promise<WindowInputs> {
  const columns = benchWindowColumns(o.features);
  const baseline = await benchBaseline(conn, path.join(dir, 'train.parquet'), columns);
  const files = await writePredictionSegments(conn, path.join(dir, 'window'), {
    rows: o.rows,
    files: o.files ?? 4,
    seed: 2,
    columns,
    model: o.model,
    start: o.start,
  });
  return {
    model: o.model,
    version: 1,
    start: o.start,
    end: o.start + 3_600_000,
    baseline,
    signature: benchSignature(baseline),
    task: 'binary',
    predictionFiles: files,
    deadLetters: {},
    inputs: 'bench',
  };
}
