/**
 * The window side's aggregates (window.ts) computed by DuckDB over all rows of a window:
 * one scan for every count and one reservoir sample for the raw values. Work is bounded by
 * features × bins, never by rows; a categorical feature is counted per distinct value (plain
 * `histogram(x)`, cheaper than testing each value against the baseline's list), so its cost
 * follows its cardinality, which is what makes it categorical.
 *
 * Baseline bins are left-closed (baseline.ts) and DuckDB's `histogram(x, boundaries)` counts
 * right-closed buckets (b[i-1] < x <= b[i]), so each edge e becomes the boundary nextDown(e),
 * the largest double below it: x <= nextDown(e) is exactly x < e. Two more boundaries,
 * nextDown(min) and max, split off the values outside the training range, so the bins and the
 * out-of-range counts come from the one histogram per feature (a FILTER per count would cost
 * as much again); the non-null count is the histogram's total. NaN is a missing value, as in
 * window.ts: DuckDB orders NaN above every number, so a NaN max reveals it, and only then is
 * the scan repeated with NaN turned into NULL for those columns (an expression on every value
 * of every column would slow every window for a case Strata's ingest already refuses).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal, num } from '../features/offline/duckdb';
import type { CategoricalFeatureBaseline, FeatureBaseline, NumericFeatureBaseline } from './baseline';
import { SCORE_BINS, type ScoreHistogram } from './performance-estimated';
import { categoryKey, topCounts, UNKNOWN_CATEGORIES_LISTED, type CategoricalWindowAggregate, type NumericWindowAggregate, type WindowAggregates, type WindowFeatureAggregate } from './window';

export interface WindowColumn {
  /** The SQL expression of the value over the relation: a quoted column (`ident(name)`), a struct field, a JSON extraction. */
  expr: string;
  baseline: FeatureBaseline;
  /** Categorical only: the values are numbers (codes); their keys are the numbers as JavaScript prints them ("3", "0.5"). Default 'string'. */
  valueType?: 'string' | 'number';
}

export interface WindowQuery {
  /** The relation the window reads, e.g. `read_parquet([...])`, or a subquery in parentheses. */
  from: string;
  /** A SQL condition selecting the window's rows (its time range, model version). */
  where?: string;
  /** Keyed like the baseline's features. */
  features: Record<string, WindowColumn>;
  prediction?: WindowColumn;
  label?: WindowColumn;
  /** Rows sampled for KS and Wasserstein (default 10,000) and the sample's seed (default 1). */
  sample?: { size?: number; seed?: number };
  /** Count a binary classifier's score into a histogram, for the performance estimate. */
  scores?: { expr: string; bins?: number };
}

export interface WindowResult {
  aggregates: WindowAggregates;
  scores?: ScoreHistogram;
}

/** The largest double below x (x finite). */
export function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, x > 0 ? bits - 1n : bits + 1n);
  return buf.getFloat64(0);
}

/** How one numeric feature's DuckDB buckets map back to baseline bins and the out-of-range counts. */
interface NumericPlan {
  boundaries: number[];
  /** Per bucket (boundaries.length + 1, the last unbounded): its baseline bin, and whether it lies below min / above max. */
  bin: number[];
  below: boolean[];
  above: boolean[];
}

export function numericPlan(b: NumericFeatureBaseline): NumericPlan {
  const cuts = b.bins.edges.map(nextDown);
  const boundaries = [...new Set([nextDown(b.min), ...cuts, b.max])].sort((x, y) => x - y);
  const bucketCount = boundaries.length + 1;
  const bin: number[] = [];
  const below: boolean[] = [];
  const above: boolean[] = [];
  for (let k = 0; k < bucketCount; k++) {
    const upper = k < boundaries.length ? boundaries[k]! : Infinity;
    const lower = k > 0 ? boundaries[k - 1]! : -Infinity;
    // Values in (lower, upper]: an edge e is <= each of them exactly when nextDown(e) <= lower.
    bin.push(cuts.filter((c) => c <= lower).length);
    below.push(upper <= nextDown(b.min));
    above.push(lower >= b.max);
  }
  return { boundaries, bin, below, above };
}

/**
 * Doubles as a SQL list, exactly: each parsed from its shortest round-trip text as a string
 * cast (a bare literal like 2.9999999999999996 would be a DECIMAL first and could round to
 * another double, moving a bin edge).
 */
export const doubleList = (xs: readonly number[]): string => `[${xs.map((x) => literal(String(x))).join(', ')}]::DOUBLE[]`;

interface Column { key: string; role: 'feature' | 'prediction' | 'label'; name: string; col: WindowColumn; value: string }

/** The columns in a fixed order (keys c0, c1, ...); `nanAsNull` names the keys whose NaN must become NULL. */
function columnsOf(q: WindowQuery, nanAsNull: ReadonlySet<string> = new Set()): Column[] {
  const cols: Column[] = [];
  const add = (role: Column['role'], name: string, col: WindowColumn) => {
    const key = `c${cols.length}`;
    const double = `CAST(${col.expr} AS DOUBLE)`;
    // Numbers used as categories (few columns) always drop NaN; numeric features only after a NaN max showed one.
    const value = col.baseline.kind === 'numeric'
      ? (nanAsNull.has(key) ? `nullif(${double}, 'NaN'::DOUBLE)` : double)
      : col.valueType === 'number' ? `nullif(${double}, 'NaN'::DOUBLE)` : `CAST(${col.expr} AS VARCHAR)`;
    cols.push({ key, role, name, col, value });
  };
  for (const [name, col] of Object.entries(q.features)) add('feature', name, col);
  if (q.prediction) add('prediction', 'prediction', q.prediction);
  if (q.label) add('label', 'label', q.label);
  return cols;
}

const whereClause = (q: WindowQuery) => (q.where ? ` WHERE ${q.where}` : '');

/** The one scan: row count, and per feature its histogram, min, max and sum (categorical: listed counts and non-null count). */
export function aggregateSql(q: WindowQuery, nanAsNull?: ReadonlySet<string>): string {
  const parts = ['count(*) AS rows'];
  for (const c of columnsOf(q, nanAsNull)) {
    const v = c.value;
    if (c.col.baseline.kind === 'numeric') {
      const plan = numericPlan(c.col.baseline);
      parts.push(`histogram(${v}, ${doubleList(plan.boundaries)}) AS ${c.key}_h`, `min(${v}) AS ${c.key}_min`, `max(${v}) AS ${c.key}_max`, `sum(${v}) AS ${c.key}_sum`);
    } else {
      parts.push(`histogram(${v}) AS ${c.key}_h`);
    }
  }
  // Score bins by floor(score * bins); a score outside [0, 1] is clamped when read.
  if (q.scores) parts.push(`histogram(floor(CAST(${q.scores.expr} AS DOUBLE) * ${q.scores.bins ?? SCORE_BINS})::BIGINT) AS scores_h`);
  return `SELECT ${parts.join(', ')} FROM ${q.from}${whereClause(q)}`;
}

/** The seeded reservoir sample of the numeric columns (all rows when the window has no more than the sample size). */
export function sampleSql(q: WindowQuery, nanAsNull?: ReadonlySet<string>): string | undefined {
  const numeric = columnsOf(q, nanAsNull).filter((c) => c.col.baseline.kind === 'numeric');
  if (!numeric.length) return undefined;
  const size = q.sample?.size ?? 10_000;
  const seed = q.sample?.seed ?? 1;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`sample size must be a positive whole number, got ${size}`);
  if (!Number.isInteger(seed)) throw new RangeError(`sample seed must be a whole number, got ${seed}`);
  return `SELECT ${numeric.map((c) => `${c.value} AS ${c.key}`).join(', ')} FROM (SELECT * FROM ${q.from}${whereClause(q)}) USING SAMPLE reservoir(${size} ROWS) REPEATABLE (${seed})`;
}

/** Map entries of a DuckDB histogram as [key, count] (the JSON form: keys as numbers or strings, counts as strings). */
function histogramEntries(v: unknown): Array<[unknown, number]> {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new TypeError(`expected a DuckDB MAP as a list of entries, got ${JSON.stringify(v)}`);
  return v.map((e: { key: unknown; value: unknown }) => [e.key, Number(e.value)]);
}

const asNumber = (v: unknown): number | null => (v === null || v === undefined ? null : typeof v === 'string' ? Number(v) : num(v));

export async function readWindowAggregates(conn: DuckDBConnection, q: WindowQuery): Promise<WindowResult> {
  const scan = async (nanAsNull?: ReadonlySet<string>) => (await conn.runAndReadAll(aggregateSql(q, nanAsNull))).getRowObjectsJson()[0] as Record<string, unknown>;
  let row = await scan();
  const withNaN = new Set(columnsOf(q).filter((c) => row[`${c.key}_max`] === 'NaN').map((c) => c.key));
  if (withNaN.size) row = await scan(withNaN);
  const cols = columnsOf(q, withNaN);
  const rows = asNumber(row.rows) ?? 0;
  const sampleText = sampleSql(q, withNaN);
  const sampleRows = sampleText ? ((await conn.runAndReadAll(sampleText)).getRowObjectsJson() as Array<Record<string, unknown>>) : [];

  const aggregates: WindowAggregates = { rows, features: {} };
  for (const c of cols) {
    let agg: WindowFeatureAggregate;
    if (c.col.baseline.kind === 'numeric') {
      agg = numericAggregate(c.col.baseline, row, c.key, rows, sampleRows);
    } else {
      agg = categoricalAggregate(c.col.baseline, histogramEntries(row[`${c.key}_h`]), rows);
    }
    if (c.role === 'feature') aggregates.features[c.name] = agg;
    else aggregates[c.role] = agg;
  }
  const result: WindowResult = { aggregates };
  if (q.scores) {
    const bins = q.scores.bins ?? SCORE_BINS;
    const counts = new Array<number>(bins).fill(0);
    for (const [k, n] of histogramEntries(row.scores_h)) counts[Math.min(bins - 1, Math.max(0, Number(k)))]! += n;
    result.scores = { counts };
  }
  return result;
}

function categoricalAggregate(b: CategoricalFeatureBaseline, entries: Array<[unknown, number]>, rows: number): CategoricalWindowAggregate {
  const counts: Record<string, number> = {};
  const unlisted = new Map<string, number>();
  let present = 0;
  let otherCount = 0;
  for (const [k, n] of entries) {
    const key = categoryKey(k as string | number);
    present += n;
    if (Object.hasOwn(b.categories, key)) counts[key] = n;
    else { otherCount += n; unlisted.set(key, n); }
  }
  return { kind: 'categorical', rows, nulls: rows - present, counts, otherCount, unknown: topCounts(unlisted, UNKNOWN_CATEGORIES_LISTED) };
}

function numericAggregate(b: NumericFeatureBaseline, row: Record<string, unknown>, key: string, rows: number, sampleRows: Array<Record<string, unknown>>): NumericWindowAggregate {
  const plan = numericPlan(b);
  const index = new Map(plan.boundaries.map((x, i) => [x, i]));
  const binCounts = new Array<number>(b.bins.edges.length + 1).fill(0);
  let belowRange = 0;
  let aboveRange = 0;
  let present = 0;
  for (const [k, n] of histogramEntries(row[`${key}_h`])) {
    present += n;
    const bucket = k === 'Infinity' ? plan.boundaries.length : index.get(Number(k));
    if (bucket === undefined) throw new Error(`DuckDB returned a histogram bucket ${String(k)} that is not one of the boundaries`);
    binCounts[plan.bin[bucket]!]! += n;
    if (plan.below[bucket]) belowRange += n;
    if (plan.above[bucket]) aboveRange += n;
  }
  const sum = asNumber(row[`${key}_sum`]);
  const sample: number[] = [];
  for (const r of sampleRows) {
    const v = asNumber(r[key]);
    if (v !== null) sample.push(v);
  }
  return {
    kind: 'numeric', rows, nulls: rows - present, binCounts, belowRange, aboveRange,
    min: asNumber(row[`${key}_min`]), max: asNumber(row[`${key}_max`]), mean: present > 0 && sum !== null ? sum / present : null, sample,
  };
}

/** A relation over Parquet files, for `WindowQuery.from`. */
export function parquetRelation(files: readonly string[]): string {
  if (!files.length) throw new RangeError('a window needs at least one Parquet file');
  return `read_parquet([${files.map(literal).join(', ')}])`;
}

/** A plain column as a window value expression. */
export const columnExpr = (name: string): string => ident(name);
