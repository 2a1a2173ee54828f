/**
 * One window of one model version, from the prediction log's Parquet segments to a
 * WindowResult. The relation reads each logged feature and age from its typed column
 * (prediction-columns.ts), and one scan computes everything per row (window-query.ts): the
 * counts and histograms, the seeded bottom-k sample (keyed by predictionId), and, as extra
 * aggregates of the same scan, the share of each feature filled with its default (missing or
 * stale online value: a histogram of the few distinct `defaulted` lists), the age of the
 * online values predictions used (freshness.ts: p50/p95/max per feature), and per signature
 * output with a contract the count of values SQL cannot vouch for (output-contract.ts), which
 * alone are read back and checked (a window that keeps its contracts reads none); the first
 * output is the prediction column, so its contract tests the number the score casts from it
 * rather than parse `outputs` JSON on every row. Then the
 * CBPE estimate from the score histogram, and,
 * when the model's labels are defined, realized performance by joining each prediction to
 * the first label of its entity within the horizon after it (DuckDB ASOF join). The labels
 * that join are also the window's label distribution: label drift against the baseline's
 * training labels (drift.label, judged on its own like the prediction), from the joined values
 * in memory (at most one per prediction, already read for realized performance).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal } from '../features/offline/duckdb';
import { outputKey, type ModelSignature } from '../serving/signature';
import type { Baseline } from '../training/baseline';
import { categoryColumns, driftReport, type DriftPolicy } from './drift';
import { AGE_FIELD, freshnessAggregates, readFreshness } from './freshness';
import { mapValueExpr, parquetColumns } from './prediction-columns';
import {
  compileOutputContract,
  contractHoldsSql,
  emptyTally,
  numberKeepsContractSql,
  type OutputContractTally,
} from './output-contract';
import { estimatePerformance } from './performance-estimated';
import { realizedPerformance } from './performance-realized';
import type { PerformanceResult, PerformanceTask } from './performance';
import { qualityReport } from './quality';
import {
  histogramEntries,
  parquetRelation,
  readWindowAggregates,
  type WindowColumn,
  type WindowQuery,
} from './window-query';
import { summarizeValues } from './window';
import type { FeatureHistogram, WindowResult } from './window-result';

export interface LabelInputs {
  files: string[];
  entityField: string;
  labelField: string;
  horizonMs: number;
}

export interface WindowInputs {
  model: string;
  version: number;
  start: number;
  end: number;
  baseline: Baseline;
  signature: ModelSignature;
  task: PerformanceTask;
  predictionFiles: string[];
  labels?: LabelInputs;
  drift?: DriftPolicy;
  deadLetters: Record<string, number>;
  /** Fingerprint of everything read. */
  inputs: string;
  /** Rows sampled for KS and Wasserstein (default 10,000). */
  sampleSize?: number;
}

/**
 * The prediction column (JSON text of the first output) as a number: NULL unless it is one
 * number (a list does not cast). Both the score and the first output's contract read it.
 */
const PREDICTION_NUMBER_SQL = 'TRY_CAST(prediction AS DOUBLE)';
/** The score: the prediction's number, or the last entry of a probability list. */
const SCORE_SQL = `coalesce(prediction_number, CASE WHEN starts_with(prediction, '[') THEN TRY_CAST(json_extract_string(prediction, '$[#-1]') AS DOUBLE) END)`;

/** In the window relation: the value of the baseline's i-th feature, and its age at prediction time. */
const featureAt = (i: number) => `feature_${i}`;
const ageAt = (i: number) => `age_${i}`;
const contractAt = (i: number) => `contract_${i}`;

/**
 * The window's rows: each baseline feature as a DOUBLE column (`feature_<i>`, in the baseline's
 * order) and its logged age (`age_<i>`), read from the layout the files have (prediction-columns.ts).
 */
export function windowRelation(
  w: Pick<WindowInputs, 'model' | 'version' | 'start' | 'end' | 'baseline' | 'predictionFiles'>,
  columns: ReadonlySet<string>,
): string {
  const values = w.baseline.features.flatMap((f, i) => [
    `${mapValueExpr(columns, 'features', f.name)} AS ${featureAt(i)}`,
    `${mapValueExpr(columns, AGE_FIELD, f.name)} AS ${ageAt(i)}`,
  ]);
  return `(SELECT *, ${SCORE_SQL} AS score FROM (SELECT ${[...values, `${PREDICTION_NUMBER_SQL} AS prediction_number`, 'prediction', 'predictionId', 'entityId AS entity', 'ts', 'defaulted', 'outputs'].join(', ')}
    FROM ${predictionFilesRelation(w.predictionFiles)}
    WHERE model = ${literal(w.model)} AND version = ${w.version} AND ts >= ${w.start} AND ts < ${w.end}))`;
}

const predictionFilesRelation = (files: readonly string[]) =>
  `read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`;

export async function computeWindow(conn: DuckDBConnection, w: WindowInputs, now: number): Promise<WindowResult> {
  const base = { model: w.model, version: w.version, start: w.start, end: w.end, computedAt: now, inputs: w.inputs };
  if (!w.predictionFiles.length) {
    return {
      ...base,
      status: 'computed',
      rows: 0,
      performance: [],
      quality: { rows: 0, features: [], deadLetters: w.deadLetters, defaultedShare: {}, freshness: {} },
      contracts: {},
    };
  }
  const stored = await parquetColumns(conn, w.predictionFiles);
  const withAges = [...stored].some(
    (c) => c === AGE_FIELD.toLowerCase() || c.startsWith(`${AGE_FIELD.toLowerCase()}.`),
  );
  const rel = windowRelation(w, stored);
  const column = (expr: string, baseline: WindowColumn['baseline']): WindowColumn => ({
    expr,
    baseline,
    valueType: 'number',
  });
  const ages = withAges ? Object.fromEntries(w.baseline.features.map((f, i) => [f.name, ageAt(i)])) : {};
  const fresh = freshnessAggregates(ages);
  // The first output is also the prediction column: its contract reads the number the score does.
  const contracted = w.signature.outputs.flatMap((o, i) =>
    o.contract ? [{ key: outputKey(o), contract: o.contract, first: i === 0 }] : [],
  );
  const outputJson = (key: string) => `json_extract(outputs, ${literal(`$."${key}"`)})`;
  const holds = (c: (typeof contracted)[number]) =>
    c.first ? numberKeepsContractSql(c.contract, 'prediction_number') : contractHoldsSql(c.contract, outputJson(c.key));
  const query: WindowQuery = {
    from: rel,
    features: Object.fromEntries(w.baseline.features.map((f, i) => [f.name, column(featureAt(i), f)])),
    prediction: column('score', w.baseline.prediction),
    sample: {
      size: w.sampleSize ?? 10_000,
      seed: 1,
      key: 'predictionId',
      rowsAtMost: await parquetRowCount(conn, w.predictionFiles),
    },
    extra: {
      aggregates: {
        ...fresh.aggregates,
        defaulted_h: `histogram(defaulted) FILTER (WHERE defaulted <> '[]')`,
        ...Object.fromEntries(contracted.map((c, i) => [contractAt(i), `count(*) FILTER (WHERE NOT ${holds(c)})`])),
      },
      ...(fresh.sampled ? { sampled: fresh.sampled } : {}),
    },
    ...(w.task === 'binary' ? { scores: { expr: 'score' } } : {}),
  };
  const { aggregates, scores, extra } = await readWindowAggregates(conn, query);
  const rows = aggregates.rows;
  // Labels first: their distribution is the window's label drift (beside realized performance).
  const joined = w.labels ? await joinLabels(conn, rel, w.labels) : undefined;
  if (joined)
    aggregates.label = summarizeValues(w.baseline.label, joined.y, { sampleSize: w.sampleSize ?? 10_000, seed: 1 });
  const drift = driftReport(w.baseline, aggregates, w.drift);
  const quality = qualityReport(w.baseline, aggregates);

  const defaulted = new Map<string, number>();
  for (const [list, n] of histogramEntries(extra.row.defaulted_h))
    for (const d of JSON.parse(String(list)) as string[]) defaulted.set(d, (defaulted.get(d) ?? 0) + n);
  const defaultedShare: Record<string, number> = {};
  if (rows > 0) for (const [d, n] of defaulted) defaultedShare[d] = n / rows;

  const freshness = withAges && rows > 0 ? readFreshness(ages, extra.row, extra.sample) : {};

  const contracts: Record<string, OutputContractTally> = {};
  for (const [i, c] of contracted.entries()) {
    const { key, contract } = c;
    const check = compileOutputContract(contract);
    const tally = emptyTally();
    tally.checked = rows;
    if (Number(extra.row[contractAt(i)]) > 0) {
      const reader = await conn.runAndReadAll(
        `SELECT ${c.first ? 'prediction' : `${outputJson(key)}::VARCHAR`} AS v FROM ${rel} WHERE NOT ${holds(c)}`,
      );
      for (const [v] of reader.getRowsJson()) {
        const bad = check(v === null ? undefined : JSON.parse(String(v)));
        if (bad) {
          tally.violating++;
          tally.violations[bad]++;
        }
      }
    }
    contracts[key] = tally;
  }

  const performance: PerformanceResult[] = [];
  if (w.task === 'binary' && scores)
    performance.push(
      estimatePerformance({
        histogram: scores,
        ...(w.baseline.calibration ? { calibration: w.baseline.calibration } : {}),
        windowPredictions: rows,
      }),
    );
  if (joined)
    performance.push(
      realizedPerformance({ task: w.task, labels: joined.y, predictions: joined.p, windowPredictions: rows }),
    );
  const histograms: Record<string, FeatureHistogram> = {};
  const columns = [
    ...w.baseline.features.map((f) => [f.name, f] as const),
    ['prediction', w.baseline.prediction] as const,
    ['label', w.baseline.label] as const,
  ];
  for (const [name, b] of columns) {
    const a =
      name === 'prediction' ? aggregates.prediction : name === 'label' ? aggregates.label : aggregates.features[name];
    if (!a) continue;
    if (a.kind === 'numeric') histograms[name] = { edges: b.edges, baseline: b.counts, window: a.binCounts };
    else {
      const c = categoryColumns(b, a);
      histograms[name] = { categories: c.names, baseline: c.baseline, window: c.window };
    }
  }
  return {
    ...base,
    status: 'computed',
    rows,
    drift,
    quality: { ...quality, deadLetters: w.deadLetters, defaultedShare, freshness },
    contracts,
    histograms,
    performance,
  };
}

/** The rows of these Parquet files (from their footers, no scan): an upper bound of the window's rows. */
async function parquetRowCount(conn: DuckDBConnection, files: readonly string[]): Promise<number> {
  const r = await conn.runAndReadAll(
    `SELECT sum(num_rows) FROM parquet_file_metadata([${files.map(literal).join(', ')}])`,
  );
  return Number(r.getRows()[0]![0] ?? 0);
}

/** Each prediction with a score and the first label of its entity at or after it, within the horizon. */
async function joinLabels(
  conn: DuckDBConnection,
  rel: string,
  l: LabelInputs,
): Promise<{ y: Float64Array; p: Float64Array }> {
  if (!l.files.length) return { y: new Float64Array(0), p: new Float64Array(0) };
  const labels = `(SELECT CAST(${ident(l.entityField)} AS VARCHAR) AS entity, event_ts AS lts, CAST(${ident(l.labelField)} AS DOUBLE) AS y FROM ${parquetRelation(l.files)} WHERE ${ident(l.labelField)} IS NOT NULL)`;
  const sql = `SELECT p.score, l.y FROM (SELECT entity, ts, score FROM ${rel} WHERE score IS NOT NULL) p ASOF JOIN ${labels} l ON p.entity = l.entity AND l.lts >= p.ts WHERE l.lts < p.ts + ${l.horizonMs}`;
  const rows = (await conn.runAndReadAll(sql)).getRows();
  const y = new Float64Array(rows.length);
  const p = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    p[i] = Number(r[0]);
    y[i] = Number(r[1]);
  });
  return { y, p };
}
