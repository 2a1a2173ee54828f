/**
 * The window side's aggregates (window.ts) computed by DuckDB over all rows of a window in
 * one scan: every count, the caller's own aggregates (`extra`: freshness, defaulted shares,
 * output contracts) and the bounded sample of raw values. Work is bounded by
 * features × bins, never by rows; a categorical feature is counted per distinct value (plain
 * `histogram(x)`, cheaper than testing each value against the baseline's list), so its cost
 * follows its cardinality, which is what makes it categorical.
 *
 * Values are compared as float32, as training's bins compare them (Math.fround). Baseline bins
 * are left-closed (baseline.ts) and DuckDB's `histogram(x, boundaries)` counts right-closed
 * buckets (b[i-1] < x <= b[i]), so each edge e becomes the boundary nextDown(e), the largest
 * double below it: x <= nextDown(e) is exactly x < e. The float32 rounding is folded into the
 * boundaries rather than applied to every value (a CAST to FLOAT and back per value cost about
 * 6% of a window, and failed on a value beyond float32's range): fround is monotone, so
 * fround(x) <= b exactly when x <= float32AtMost(b), the largest double that rounds to at most
 * b; the scan histograms the raw doubles over those thresholds, and sampled values are rounded
 * when read. Two more boundaries,
 * nextDown(min) and max, split off the values outside the training range, so the bins and the
 * out-of-range counts come from the one histogram per feature (a FILTER per count would cost
 * as much again); the non-null count is the histogram's total, and it is the only aggregate
 * per numeric feature (nothing reads a window's min, max or mean). NaN is a missing value, as
 * in window.ts: DuckDB's bucketed histogram puts NaN in its first bucket (no boundary compares
 * above it), so one more boundary, the lowest double, gives NaN a bucket of its own, shared
 * only with -Infinity and that double; a count there reveals a possible NaN, and only then is
 * the scan repeated with NaN turned into NULL for those columns (an expression on every value
 * of every column would slow every window for a case Strata's ingest already refuses). A
 * `max` per feature found NaN the same way and cost about 20% of the bare histograms
 * (0.17 CPU s over 1M rows × 18 numeric features).
 *
 * The sample is a bottom-k sample in the same scan: each row's key hashed with the seed, the
 * `size` rows of smallest hash (uniform without replacement, like a reservoir, and the same
 * rows whatever the thread count). So the scan need not hold every row's hash, it keeps only
 * rows whose hash lies below a threshold set for 1.5× the size from an upper bound of the
 * window's rows (`sample.rowsAtMost`, e.g. the files' row counts); when the bound was missing
 * or far too high (fewer rows kept than both the size and the window's rows), one more scan
 * samples at the threshold the now known row count gives, and when even that is short (rows
 * of equal keys share a hash, or the size is tiny) a last one takes the exact bottom k. A
 * separate reservoir scan cost about as much as the histograms of 20 features.
 */
import {
  DuckDBDoubleVector,
  DuckDBListVector,
  JsonDuckDBValueConverter,
  type DuckDBConnection,
  type DuckDBVector,
} from '@duckdb/node-api';
import { ident, literal, num } from '../features/offline/duckdb';
import { categoryCounts, type ColumnBaseline } from './baseline';
import { SCORE_BINS, type ScoreHistogram } from './performance-estimated';
import { ascendingFloat32 } from './statistics/ascending-float32';
import {
  categoryKey,
  topCounts,
  UNKNOWN_CATEGORIES_LISTED,
  type CategoricalWindowAggregate,
  type NumericWindowAggregate,
  type WindowAggregates,
  type WindowFeatureAggregate,
} from './window';

export interface WindowColumn {
  /** The SQL expression of the value over the relation: a quoted column (`ident(name)`), a struct field, a JSON extraction. */
  expr: string;
  baseline: ColumnBaseline;
  /** Categorical only: the values are numbers (codes, training's case; keys as JavaScript prints them, "3", "0.5") or text. Default 'number'. */
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
  /**
   * Rows sampled for KS and Wasserstein (default 10,000), the sample's seed (default 1), the
   * SQL of a key unique per row to hash (default: the sampled values themselves, so equal rows
   * are in or out together), and an upper bound of the window's rows (one scan when given).
   */
  sample?: { size?: number; seed?: number; key?: string; rowsAtMost?: number };
  /** The caller's own work in the same scan, read back raw from `WindowResult.extra`. */
  extra?: ExtraAggregates;
  /**
   * Also count the prediction (a binary classifier's score, numeric) into equal-width score
   * bins, for the performance estimate: the bins' thresholds join the prediction's histogram.
   */
  scores?: { bins?: number };
}

/**
 * Aliases must not start with `c` + digit or `w_` (the query's own names). `project`
 * expressions read the relation's columns and are computed once per row; `aggregates` read
 * them (and the relation's columns); `sampled` values are kept with each sampled row.
 */
export interface ExtraAggregates {
  project?: Record<string, string>;
  aggregates?: Record<string, string>;
  sampled?: Record<string, string>;
}

export interface WindowResult {
  aggregates: WindowAggregates;
  scores?: ScoreHistogram;
  /** The extra aggregates' values by alias (`row`) and the sampled rows' extra values. */
  extra: { row: Record<string, unknown>; sample: SampleColumns };
}

/** The largest double below x (x finite). */
export function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  bits64[0] = x;
  bits64Int[0] = x > 0 ? bits64Int[0]! - 1n : bits64Int[0]! + 1n;
  return bits64[0];
}
// One buffer for nextDown's bit arithmetic (a window's plans call it thousands of times).
const bits64 = new Float64Array(1);
const bits64Int = new BigUint64Array(bits64.buffer);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 next to finite float32 `f` toward +Infinity (dir 1) or -Infinity (dir -1). */
function float32Step(f: number, dir: 1 | -1): number {
  if (f === 0) return dir * 2 ** -149;
  f32[0] = f;
  u32[0] = u32[0]! + (f > 0 === dir > 0 ? 1 : -1);
  return f32[0];
}

/** fround(x) rounds to -Infinity from this double down (the tie rounds to the even -2^128). */
const BELOW_FLOAT32 = -(2 ** 128 - 2 ** 103);

/** The largest double x with Math.fround(x) <= b (b finite). */
export function float32AtMost(b: number): number {
  let f = Math.fround(b); // the largest float32 <= b:
  if (f > b) f = f === Infinity ? 3.4028234663852886e38 : float32Step(f, -1);
  if (f === -Infinity) return BELOW_FLOAT32;
  const up = f === 3.4028234663852886e38 ? 2 ** 128 : float32Step(f, 1);
  // Doubles below the midpoint of f and the next float32 round to f, above it away; the
  // midpoint itself (exact in a double) rounds to whichever of the two is even.
  const mid = f + (up - f) / 2;
  return Math.fround(mid) === f ? mid : nextDown(mid);
}

/** How one numeric feature's DuckDB buckets map back to baseline bins and the out-of-range counts. */
interface NumericPlan {
  /** In float32 terms: a bucket holds the values v with boundaries[k-1] < fround(v) <= boundaries[k]. */
  boundaries: number[];
  /** The boundaries over raw doubles (float32AtMost, without repeats), and the bucket each of their buckets is. */
  thresholds: number[];
  thresholdBucket: number[];
  /** Per bucket (boundaries.length + 1, the last unbounded): its baseline bin, and whether it lies below min / above max. */
  bin: number[];
  below: boolean[];
  above: boolean[];
}

export function numericPlan(b: ColumnBaseline): NumericPlan {
  const cuts = b.edges.map(nextDown);
  // A baseline without values (min null) has no range: every value is outside it.
  const min = b.min ?? Infinity;
  const max = b.max ?? -Infinity;
  const range = b.min === null || b.max === null ? [] : [nextDown(b.min), b.max];
  const boundaries = [...new Set([...range, ...cuts])].sort((x, y) => x - y);
  const bucketCount = boundaries.length + 1;
  const bin: number[] = [];
  const below: boolean[] = [];
  const above: boolean[] = [];
  for (let k = 0; k < bucketCount; k++) {
    const upper = k < boundaries.length ? boundaries[k]! : Infinity;
    const lower = k > 0 ? boundaries[k - 1]! : -Infinity;
    // Values in (lower, upper]: an edge e is <= each of them exactly when nextDown(e) <= lower.
    bin.push(cuts.filter((c) => c <= lower).length);
    below.push(b.min === null || upper <= nextDown(min));
    above.push(b.min !== null && lower >= max);
  }
  // Two boundaries between the same float32 neighbours give one threshold; the bucket between them holds no float32.
  const thresholds: number[] = [];
  const thresholdBucket: number[] = [];
  boundaries.forEach((x, k) => {
    const t = float32AtMost(x);
    if (t !== thresholds[thresholds.length - 1]) {
      thresholds.push(t);
      thresholdBucket.push(k);
    }
  });
  return { boundaries, thresholds, thresholdBucket, bin, below, above };
}

/**
 * The first threshold of every numeric histogram: its bucket holds the values at most the
 * lowest double, i.e. -Infinity, that double, and NaN (DuckDB's histogram puts NaN first), and
 * it counts in the plan's first bucket (below every training value). Only a count there makes
 * the scan look for NaN again.
 */
const NAN_SENTINEL = -Number.MAX_VALUE;

/** The thresholds a numeric histogram is counted over (the NaN sentinel first) and each one's plan bucket. */
function scanThresholds(plan: NumericPlan): { thresholds: number[]; bucket: Map<number, number> } {
  const thresholds = [NAN_SENTINEL, ...plan.thresholds.filter((t) => t > NAN_SENTINEL)];
  const bucket = new Map(plan.thresholds.map((x, i) => [x, plan.thresholdBucket[i]!]));
  if (!bucket.has(NAN_SENTINEL)) bucket.set(NAN_SENTINEL, 0);
  return { thresholds, bucket };
}

/**
 * The thresholds of score bins 1 .. bins-1: each the largest double t whose t * bins (rounded,
 * as floor(score * bins) computes it) is below the bin's number, so over raw doubles a
 * bucketed histogram counts exactly the bins floor(score * bins) gives, clamped to the ends.
 */
export function scoreThresholds(bins: number): readonly number[] {
  const known = scoreThresholdsByBins.get(bins);
  if (known) return known;
  const out: number[] = [];
  for (let k = 1; k < bins; k++) {
    // k / bins is the double nearest k/bins, so the double above it times bins is at least k.
    let t = k / bins;
    while (t * bins >= k) t = nextDown(t);
    out.push(t);
  }
  scoreThresholdsByBins.set(bins, out);
  return out;
}
const scoreThresholdsByBins = new Map<number, readonly number[]>();

/**
 * A numeric column's histogram thresholds and each one's bucket in its plan, and for the
 * prediction when the query counts scores, each one's score bin too: the score bins' thresholds
 * join the prediction's own, so one histogram gives both (a second histogram of
 * floor(score * bins) cost about 2% of a window, and failed on a score beyond BIGINT's range,
 * NaN or an infinity). A score threshold's bucket lies in the plan bucket of the next plan
 * threshold above it.
 */
interface ColumnThresholds {
  plan: NumericPlan;
  thresholds: number[];
  bucket: Map<number, number>;
  scoreBin?: Map<number, number>;
}

function columnThresholds(q: WindowQuery, c: Column): ColumnThresholds {
  const plan = numericPlan(c.col.baseline);
  const own = scanThresholds(plan);
  if (c.role !== 'prediction' || !q.scores) return { plan, ...own };
  const scores = scoreThresholds(q.scores.bins ?? SCORE_BINS);
  const thresholds = [...new Set([...own.thresholds, ...scores])].sort((x, y) => x - y);
  const bucket = new Map(own.bucket);
  let above = plan.boundaries.length;
  for (let i = thresholds.length - 1; i >= 0; i--) {
    const t = thresholds[i]!;
    const b = bucket.get(t);
    if (b === undefined) bucket.set(t, above);
    else above = b;
  }
  // A bucket's values lie above the score thresholds below its own: that many is its bin.
  const scoreBin = new Map<number, number>();
  let below = 0;
  for (const t of thresholds) {
    while (below < scores.length && scores[below]! < t) below++;
    scoreBin.set(t, below);
  }
  return { plan, thresholds, bucket, scoreBin };
}

/**
 * Doubles as a SQL list, exactly: each parsed from its shortest round-trip text as a string
 * cast (a bare literal like 2.9999999999999996 would be a DECIMAL first and could round to
 * another double, moving a bin edge).
 */
export const doubleList = (xs: readonly number[]): string =>
  `[${xs.map((x) => literal(String(x))).join(', ')}]::DOUBLE[]`;

interface Column {
  key: string;
  role: 'feature' | 'prediction' | 'label';
  name: string;
  col: WindowColumn;
  value: string;
}

/** The columns in a fixed order (keys c0, c1, ...); `nanAsNull` names the keys whose NaN must become NULL. */
function columnsOf(q: WindowQuery, nanAsNull: ReadonlySet<string> = new Set()): Column[] {
  const cols: Column[] = [];
  const add = (role: Column['role'], name: string, col: WindowColumn) => {
    const key = `c${cols.length}`;
    const double = `CAST(${col.expr} AS DOUBLE)`;
    // Numeric features drop NaN only after the sentinel bucket showed one, and are rounded to
    // float32 in their thresholds (numericPlan). Numbers used as categories (few columns) always
    // drop NaN (DuckDB's plain histogram counts NaN under whichever key it meets: NaN compares
    // equal to everything in its ordered map) and are counted raw, their distinct values rounded
    // when read (asFloat32Keys): a CAST to FLOAT per value failed beyond float32's range.
    const value = !col.baseline.categorical
      ? nanAsNull.has(key)
        ? `nullif(${double}, 'NaN'::DOUBLE)`
        : double
      : col.valueType !== 'string'
        ? `nullif(${double}, 'NaN'::DOUBLE)`
        : `CAST(${col.expr} AS VARCHAR)`;
    cols.push({ key, role, name, col, value });
  };
  for (const [name, col] of Object.entries(q.features)) add('feature', name, col);
  if (q.prediction) add('prediction', 'prediction', q.prediction);
  if (q.label) add('label', 'label', q.label);
  return cols;
}

const whereClause = (q: WindowQuery) => (q.where ? ` WHERE ${q.where}` : '');

const SAMPLE_OVERSHOOT = 1.5;
const HASH_RANGE = 2 ** 64;

function sampleSettings(q: WindowQuery) {
  const size = q.sample?.size ?? 10_000;
  const seed = q.sample?.seed ?? 1;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`sample size must be a positive whole number, got ${size}`);
  if (!Number.isInteger(seed)) throw new RangeError(`sample seed must be a whole number, got ${seed}`);
  return { size, seed };
}

/** The hash threshold (UBIGINT literal) keeping about 1.5× `size` of `rows` rows; undefined = keep every row. */
function hashThreshold(size: number, rows: number): string | undefined {
  const share = (SAMPLE_OVERSHOOT * size) / Math.max(rows, 1);
  if (share >= 1) return undefined;
  return `${BigInt(Math.floor(share * 2 ** 53)) << 11n}::UBIGINT`;
}

/** The keys of the numeric columns: those the sample holds values of. */
const numericKeys = (cols: Column[]): string[] => cols.filter((c) => !c.col.baseline.categorical).map((c) => c.key);

/** The sample's columns: numeric features' values and the extra sampled values. */
function sampledColumns(q: WindowQuery, cols: Column[]): string[] {
  return [...numericKeys(cols), ...Object.keys(q.extra?.sampled ?? {})];
}

/**
 * The inner projection: each value expression (the float32 cast) computed once per row, and
 * the aggregates read that column: written inside each aggregate, DuckDB evaluates it once per
 * aggregate, which measured about 1.4x the time of the projected form over 1M rows x 20 features.
 */
function projection(q: WindowQuery, cols: Column[], o: { sample: boolean; aggregates: boolean }): string {
  const projected = cols.map((c) => `${c.value} AS ${c.key}`);
  if (o.aggregates)
    for (const [alias, expr] of Object.entries(q.extra?.project ?? {})) projected.push(`${expr} AS ${ident(alias)}`);
  if (o.sample) {
    for (const [alias, expr] of Object.entries(q.extra?.sampled ?? {})) projected.push(`${expr} AS ${ident(alias)}`);
    const { seed } = sampleSettings(q);
    const numeric = numericKeys(cols);
    const key = q.sample?.key ?? (numeric.length ? numeric.join(', ') : '1');
    projected.push(`hash(${key}, ${seed}) AS w_h`);
  }
  // `*` lets the extra aggregates read the relation's own columns (unused ones are not read).
  const rest = o.aggregates && q.extra?.aggregates ? ['*'] : [];
  // A constant keeps the projection valid for a query of no column.
  return `(SELECT ${[...projected, ...rest, '1 AS w_one'].join(', ')} FROM ${q.from}${whereClause(q)})`;
}

/**
 * The sample aggregate: the rows with a hash below the threshold, each with its hash; or
 * (`exact`) the `size` smallest rows in full sort order (hash first), a bounded heap that
 * costs about twice the threshold's list over a large window, for when the threshold cannot
 * find `size` rows: equal keys share a hash, and a hash below the threshold is rare for a
 * small size.
 */
function sampleAggregate(q: WindowQuery, cols: Column[], cut: { threshold: string | undefined } | 'exact'): string {
  const fields = ['w_h', ...sampledColumns(q, cols)].map((k) => `${ident(k)} := ${ident(k)}`);
  const row = `struct_pack(${fields.join(', ')})`;
  if (cut === 'exact') return `min_by(${row}, ${row}, ${sampleSettings(q).size}) AS w_sample`;
  return `list(${row})${cut.threshold ? ` FILTER (WHERE w_h < ${cut.threshold})` : ''} AS w_sample`;
}

const MAX_HASH = '18446744073709551615::UBIGINT';
/** The list of the sample's values of extra sampled column `key` (read in JSON form). */
const sampleColumnAlias = (key: string) => `w_s_${key}`;
/** The list of the sample's values of numeric feature `key` (read as float32). */
const sampleValuesAlias = (key: string) => `w_v_${key}`;

/**
 * The aggregate query `inner` (one row, its `w_sample` the rows kept below the threshold) with
 * the sample cut to the `size` rows of smallest hash and handed out as one list per column:
 * numeric features' values without NULLs (KS and Wasserstein read only the values), the extra
 * sampled values row-aligned with each other, and the sample's row count (`w_sampled`). The cut
 * keeps the rows at or below the size-th smallest hash, which sorts only the hashes; only when
 * equal hashes straddle the cut (equal keys, e.g. the default key on repeated values) are the
 * rows sorted whole, so the same rows are kept whatever order they were collected in. Sorting
 * the kept rows whole on every window cost about 8 ms, and lists of plain values read into
 * JavaScript at a fraction of the cost of rows of structs (readScanRow).
 */
function cutSample(q: WindowQuery, cols: Column[], inner: string): string {
  const { size } = sampleSettings(q);
  const lists = [
    ...numericKeys(cols).map(
      (k) =>
        `list_filter(list_transform(w_kept, lambda s: s.${ident(k)}), lambda x: x IS NOT NULL) AS ${ident(sampleValuesAlias(k))}`,
    ),
    ...Object.keys(q.extra?.sampled ?? {}).map(
      (k) => `list_transform(w_kept, lambda s: s.${ident(k)}) AS ${ident(sampleColumnAlias(k))}`,
    ),
    'len(w_kept) AS w_sampled',
  ];
  const kth = `coalesce(list_sort(list_transform(w_sample, lambda s: s.w_h))[${size}], ${MAX_HASH})`;
  const kept = `CASE WHEN len(w_below) > ${size} THEN list_slice(list_sort(w_below), 1, ${size}) ELSE w_below END`;
  return `SELECT * EXCLUDE (w_kept), ${lists.join(', ')} FROM (
    SELECT * EXCLUDE (w_below), ${kept} AS w_kept FROM (
      SELECT * EXCLUDE (w_sample, w_kth), list_filter(w_sample, lambda s: s.w_h <= w_kth) AS w_below FROM (
        SELECT * EXCLUDE (w_sample), coalesce(w_sample, []) AS w_sample, ${kth} AS w_kth FROM (${inner}))))`;
}

/** Whether the one scan takes the sample: a bound of the rows is known and there are values to sample. */
const sampledInScan = (q: WindowQuery, cols: Column[]) =>
  q.sample?.rowsAtMost !== undefined && sampledColumns(q, cols).length > 0;

/**
 * The one scan: row count, and per feature its histogram and max (categorical: the histogram
 * of its values), the score histogram, the extra aggregates, and the sample when
 * `sample.rowsAtMost` bounds the window's rows.
 */
export function aggregateSql(q: WindowQuery, nanAsNull?: ReadonlySet<string>): string {
  if (q.scores && (!q.prediction || q.prediction.baseline.categorical))
    throw new RangeError('score bins count the prediction: the query needs a numeric prediction');
  const parts = ['count(*) AS rows'];
  const cols = columnsOf(q, nanAsNull);
  for (const c of cols) {
    const v = c.key;
    if (!c.col.baseline.categorical) {
      const { thresholds } = columnThresholds(q, c);
      parts.push(`histogram(${v}, ${doubleList(thresholds)}) AS ${c.key}_h`);
    } else {
      parts.push(`histogram(${v}) AS ${c.key}_h`);
    }
  }
  for (const [alias, expr] of Object.entries(q.extra?.aggregates ?? {})) parts.push(`${expr} AS ${ident(alias)}`);
  const sample = sampledInScan(q, cols);
  if (sample) {
    parts.push(sampleAggregate(q, cols, { threshold: hashThreshold(sampleSettings(q).size, q.sample!.rowsAtMost!) }));
  }
  const scan = `SELECT ${parts.join(', ')} FROM ${projection(q, cols, { sample, aggregates: true })}`;
  return sample ? cutSample(q, cols, scan) : scan;
}

/**
 * The sample alone, for a window of `rows` rows when the scan's sample came short, or `exact`
 * when that came short too (sampleAggregate); undefined when nothing is sampled.
 */
export function sampleSql(q: WindowQuery, rows: number | 'exact', nanAsNull?: ReadonlySet<string>): string | undefined {
  const cols = columnsOf(q, nanAsNull);
  if (!sampledColumns(q, cols).length) return undefined;
  const aggregate = sampleAggregate(
    q,
    cols,
    rows === 'exact' ? 'exact' : { threshold: hashThreshold(sampleSettings(q).size, rows) },
  );
  return cutSample(
    q,
    cols,
    `SELECT count(*) AS rows, ${aggregate} FROM ${projection(q, cols, { sample: true, aggregates: false })}`,
  );
}

/**
 * Sampled values by column key: each extra sampled value, row-aligned across the extra columns.
 * In no particular order.
 */
export type SampleColumns = Record<string, unknown[]>;

interface ScanRow {
  row: Record<string, unknown>;
  sample: SampleColumns;
  /** Each numeric feature's sampled values (NULLs left out) as float32, in no particular order. */
  values: Record<string, Float32Array>;
  /** Rows in the sample. */
  sampled: number;
}

/**
 * Run a query of one row: its values as JSON (as getRowObjectsJson gives them), and the
 * sample's lists (`w_v_<key>`, `w_s_<key>`) read from their vectors item by item: the JSON
 * conversion costs about 100 ns a value, and a DOUBLE list without NULLs (every numeric
 * feature's) has no validity mask to test (DuckDB's node API tests it with BigInt arithmetic
 * per value). Numeric values go straight into a Float32Array: no number boxed per value.
 */
async function readScanRow(conn: DuckDBConnection, sql: string): Promise<ScanRow> {
  const result = await conn.run(sql);
  if (result.chunkCount !== 1 || result.getChunk(0).rowCount !== 1)
    throw new Error(`a window's scan must return one row, got ${result.rowCount}`);
  const chunk = result.getChunk(0);
  const row: Record<string, unknown> = {};
  const sample: SampleColumns = {};
  const values: Record<string, Float32Array> = {};
  let sampled = 0;
  result.columnNames().forEach((name, i) => {
    if (name.startsWith('w_v_')) values[name.slice(4)] = float32Values(chunk.getColumnVector(i));
    else if (name.startsWith('w_s_')) sample[name.slice(4)] = listValues(chunk.getColumnVector(i));
    else if (name === 'w_sampled') sampled = Number(chunk.getColumnVector(i).getItem(0));
    else row[name] = chunk.convertColumnValues(i, JsonDuckDBValueConverter)[0];
  });
  return { row, sample, values, sampled };
}

/** The entries of a one-row LIST vector: its child vector, first index and length. */
function listEntries(v: DuckDBVector): { child: DuckDBVector; offset: number; n: number } {
  if (!(v instanceof DuckDBListVector)) throw new TypeError(`expected a LIST column, got ${v.type.toString()}`);
  return { child: v.childVector, offset: v.getEntryOffset(0), n: v.getEntryLength(0) };
}

/** The values of a one-row LIST of DOUBLE without NULLs, as float32. */
function float32Values(v: DuckDBVector): Float32Array {
  const { child, offset, n } = listEntries(v);
  if (!(child instanceof DuckDBDoubleVector)) throw new TypeError(`expected a DOUBLE list, got ${v.type.toString()}`);
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const x = child.getItem(offset + k);
    if (x === null) throw new TypeError('a numeric sample list holds a NULL');
    out[k] = x;
  }
  return out;
}

/** The values of a one-row LIST vector in their JSON form (a double as a number, or its name when not finite, as JSON spells it). */
function listValues(v: DuckDBVector): unknown[] {
  const { child, offset, n } = listEntries(v);
  const out = new Array<unknown>(n);
  for (let k = 0; k < n; k++) {
    const x = child.getItem(offset + k);
    out[k] =
      typeof x === 'number'
        ? Number.isFinite(x)
          ? x
          : String(x)
        : x === null
          ? null
          : JsonDuckDBValueConverter(x, child.type, JsonDuckDBValueConverter);
  }
  return out;
}

/** Whether a numeric histogram counted values in the NaN sentinel's bucket (NaN, or -Infinity). */
const mayHoldNaN = (histogram: unknown): boolean =>
  histogramEntries(histogram).some(([k, n]) => Number(k) === NAN_SENTINEL && n > 0);

/** Map entries of a DuckDB histogram as [key, count] (the JSON form: keys as numbers or strings, counts as strings). */
export function histogramEntries(v: unknown): Array<[unknown, number]> {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new TypeError(`expected a DuckDB MAP as a list of entries, got ${JSON.stringify(v)}`);
  return v.map((e: { key: unknown; value: unknown }) => [e.key, Number(e.value)]);
}

/** A number from DuckDB's JSON form (numbers, numeric strings, bigints), or null. */
export const asNumber = (v: unknown): number | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? Number(v) : num(v);

export async function readWindowAggregates(conn: DuckDBConnection, q: WindowQuery): Promise<WindowResult> {
  const { size } = sampleSettings(q);
  const scan = (nanAsNull?: ReadonlySet<string>) => readScanRow(conn, aggregateSql(q, nanAsNull));
  let { row, sample: sampleRows, values, sampled } = await scan();
  const withNaN = new Set(
    columnsOf(q)
      .filter((c) => !c.col.baseline.categorical && mayHoldNaN(row[`${c.key}_h`]))
      .map((c) => c.key),
  );
  if (withNaN.size) ({ row, sample: sampleRows, values, sampled } = await scan(withNaN));
  const cols = columnsOf(q, withNaN);
  const rows = asNumber(row.rows) ?? 0;
  // The scan kept too few rows (no bound of the rows, or one far too high): again at the
  // threshold the row count gives, and exactly if that is short too.
  for (const pass of [rows, 'exact'] as const) {
    if (sampled >= Math.min(size, rows)) break;
    const text = sampleSql(q, pass, withNaN);
    if (!text) break;
    ({ sample: sampleRows, values, sampled } = await readScanRow(conn, text));
  }

  const aggregates: WindowAggregates = { rows, features: {} };
  let predictionThresholds: ColumnThresholds | undefined;
  for (const c of cols) {
    let agg: WindowFeatureAggregate;
    if (!c.col.baseline.categorical) {
      const thresholds = columnThresholds(q, c);
      if (c.role === 'prediction') predictionThresholds = thresholds;
      agg = numericAggregate(c.col.baseline, thresholds, row, c.key, rows, values[c.key]);
    } else {
      const entries = histogramEntries(row[`${c.key}_h`]);
      agg = categoricalAggregate(c.col.baseline, c.col.valueType === 'string' ? entries : asFloat32Keys(entries), rows);
    }
    if (c.role === 'feature') aggregates.features[c.name] = agg;
    else aggregates[c.role] = agg;
  }
  const extraRow: Record<string, unknown> = {};
  for (const alias of Object.keys(q.extra?.aggregates ?? {})) extraRow[alias] = row[alias];
  const result: WindowResult = { aggregates, extra: { row: extraRow, sample: sampleRows } };
  const prediction = cols.find((c) => c.role === 'prediction');
  if (q.scores && prediction && predictionThresholds?.scoreBin) {
    const { scoreBin } = predictionThresholds;
    const counts = new Array<number>(q.scores.bins ?? SCORE_BINS).fill(0);
    for (const [k, n] of histogramEntries(row[`${prediction.key}_h`]))
      counts[k === 'Infinity' ? counts.length - 1 : scoreBin.get(Number(k))!]! += n;
    result.scores = { counts };
  }
  return result;
}

/**
 * A histogram of doubles used as categories counted as their float32 values, as training
 * counts them (distinct doubles rounding to one float32 merge; beyond float32's range they
 * round to ±Infinity). NaN never gets here (the scan turns it into NULL).
 */
function asFloat32Keys(entries: Array<[unknown, number]>): Array<[number, number]> {
  const merged = new Map<number, number>();
  for (const [k, n] of entries) {
    const x = Math.fround(Number(k)); // DuckDB's JSON spells the infinities as strings
    merged.set(x, (merged.get(x) ?? 0) + n);
  }
  return [...merged];
}

function categoricalAggregate(
  b: ColumnBaseline,
  entries: Array<[unknown, number]>,
  rows: number,
): CategoricalWindowAggregate {
  const listed = categoryCounts(b);
  const counts: Record<string, number> = {};
  const unlisted = new Map<string, number>();
  let present = 0;
  let otherCount = 0;
  for (const [k, n] of entries) {
    const key = categoryKey(k as string | number);
    present += n;
    if (listed.has(key)) counts[key] = n;
    else {
      otherCount += n;
      unlisted.set(key, n);
    }
  }
  return {
    kind: 'categorical',
    rows,
    nulls: rows - present,
    counts,
    otherCount,
    unknown: topCounts(unlisted, UNKNOWN_CATEGORIES_LISTED),
  };
}

function numericAggregate(
  b: ColumnBaseline,
  { plan, bucket: index }: ColumnThresholds,
  row: Record<string, unknown>,
  key: string,
  rows: number,
  sampled: Float32Array | undefined,
): NumericWindowAggregate {
  const binCounts = new Array<number>(b.edges.length + 1).fill(0);
  let belowRange = 0;
  let aboveRange = 0;
  let present = 0;
  for (const [k, n] of histogramEntries(row[`${key}_h`])) {
    present += n;
    const bucket = k === 'Infinity' ? plan.boundaries.length : index.get(Number(k));
    if (bucket === undefined)
      throw new Error(`DuckDB returned a histogram bucket ${String(k)} that is not one of the thresholds`);
    binCounts[plan.bin[bucket]!]! += n;
    if (plan.below[bucket]) belowRange += n;
    if (plan.above[bucket]) aboveRange += n;
  }
  return {
    kind: 'numeric',
    rows,
    nulls: rows - present,
    binCounts,
    belowRange,
    aboveRange,
    sample: ascendingFloat32(sampled ?? []),
  };
}

/** A relation over Parquet files, for `WindowQuery.from`. */
export function parquetRelation(files: readonly string[]): string {
  if (!files.length) throw new RangeError('a window needs at least one Parquet file');
  return `read_parquet([${files.map(literal).join(', ')}])`;
}

/** A plain column as a window value expression. */
export const columnExpr = (name: string): string => ident(name);
