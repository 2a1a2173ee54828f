/**
 * Training rows from Parquet (a training set's file, downloaded from Blob, or any Parquet
 * DuckDB can read) as a DataSource: DuckDB streams the result in chunks, each converted to
 * float32 row-major features and float64 labels, so a set bigger than memory passes through
 * (trees keep it binned at one byte per cell, see bins.ts `loadBinned`).
 *
 * Features must be numeric or boolean (true = 1): the model's input tensor is float. NULL
 * becomes NaN (missing). A `range` keeps rows with column in [from, to) (one side of a time
 * split); `orderBy` fixes the row order (default: file order, which DuckDB preserves), so
 * every pass and every run sees the same rows in the same order.
 */
import type { DuckDBConnection, DuckDBVector } from '@duckdb/node-api';
import { ValidationError, type ErrorDetail } from '../errors';
import { duckdb, fileList, ident, withConnection } from '../features/offline/duckdb';
import type { DataChunk, DataSource } from './data';

export interface ParquetRef {
  kind: 'parquet';
  /** Local Parquet files (read in this order). */
  files: string[];
  /** Feature columns, in the model's input order. */
  features: string[];
  label: string;
  /** Keep rows with from <= column < to (either bound optional). */
  range?: { column: string; from?: number; to?: number };
  /** Sort rows by these columns (e.g. ["ts", "row_id"]) instead of file order. */
  orderBy?: string[];
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*|BOOLEAN)$/;

const from = (ref: ParquetRef) => `read_parquet(${fileList(ref.files)})`;

function where(ref: ParquetRef): string {
  const r = ref.range;
  if (!r) return '';
  const parts: string[] = [];
  if (r.from !== undefined) parts.push(`${ident(r.column)} >= ${Number(r.from)}`);
  if (r.to !== undefined) parts.push(`${ident(r.column)} < ${Number(r.to)}`);
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

/** Check the files exist and carry the named columns with usable types; names every problem. */
async function describe(c: DuckDBConnection, ref: ParquetRef): Promise<Map<string, string>> {
  if (ref.files.length === 0)
    throw new ValidationError('no Parquet files to train on', [{ where: 'data.files', problem: 'is empty' }]);
  let rows;
  try {
    rows = await (await c.run(`DESCRIBE SELECT * FROM ${from(ref)}`)).getRowObjects();
  } catch (e) {
    throw new ValidationError('the training data cannot be read', [
      { where: 'data.files', problem: (e as Error).message.split('\n')[0]! },
    ]);
  }
  const types = new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
  const problems: ErrorDetail[] = [];
  const known = () => [...types.keys()].join(', ');
  ref.features.forEach((f, i) => {
    const t = types.get(f);
    if (t === undefined)
      problems.push({
        where: `data.features[${i}]`,
        problem: `column "${f}" is not in the data; its columns: ${known()}`,
      });
    else if (!NUMERIC.test(t))
      problems.push({
        where: `data.features[${i}]`,
        problem: `column "${f}" is ${t}; the model takes numbers (encode it as a number or a boolean feature)`,
      });
  });
  const lt = types.get(ref.label);
  if (lt === undefined)
    problems.push({
      where: 'data.label',
      problem: `column "${ref.label}" is not in the data; its columns: ${known()}`,
    });
  else if (!NUMERIC.test(lt))
    problems.push({
      where: 'data.label',
      problem: `column "${ref.label}" is ${lt}; labels must be numbers (0/1 for binary classification) or booleans`,
    });
  for (const col of [...(ref.range ? [ref.range.column] : []), ...(ref.orderBy ?? [])]) {
    if (!types.has(col))
      problems.push({
        where: 'data',
        problem: `column "${col}" (range/orderBy) is not in the data; its columns: ${known()}`,
      });
  }
  if (problems.length)
    throw new ValidationError('the training data does not have the columns the training asks for', problems);
  return types;
}

/** Read a vector of FLOAT (no NULLs: the query coalesces) into x at column f. */
function readColumn(v: DuckDBVector, n: number, x: Float32Array, F: number, f: number, row0: number): void {
  for (let r = 0; r < n; r++) x[(row0 + r) * F + f] = v.getItem(r) as number;
}

export function parquetSource(ref: ParquetRef, chunkRows = 32_768): DataSource {
  const F = ref.features.length;
  let checked: Promise<void> | undefined;
  const check = () => (checked ??= withConnection(async (c) => void (await describe(c, ref))));
  const select = () => {
    const cols = ref.features.map((f) => `coalesce(CAST(${ident(f)} AS FLOAT), 'NaN'::FLOAT)`);
    const label = `coalesce(CAST(${ident(ref.label)} AS DOUBLE), 'NaN'::DOUBLE)`;
    const order = ref.orderBy?.length ? ` ORDER BY ${ref.orderBy.map(ident).join(', ')}` : '';
    return `SELECT ${[...cols, label].join(', ')} FROM ${from(ref)}${where(ref)}${order}`;
  };
  return {
    featureNames: ref.features,
    async rowCount() {
      await check();
      return withConnection(async (c) => {
        const r = await (await c.run(`SELECT count(*)::BIGINT AS n FROM ${from(ref)}${where(ref)}`)).getRowObjects();
        return Number(r[0]!.n);
      });
    },
    async *chunks(): AsyncGenerator<DataChunk> {
      await check();
      const c = await (await duckdb()).connect();
      try {
        const result = await c.stream(select());
        let x = new Float32Array(chunkRows * F);
        let y = new Float64Array(chunkRows);
        let n = 0;
        for (;;) {
          const chunk = await result.fetchChunk();
          if (!chunk || chunk.rowCount === 0) break;
          const m = chunk.rowCount;
          if (n + m > chunkRows) {
            yield { nRows: n, x: x.subarray(0, n * F), y: y.subarray(0, n) };
            // The chunk contract lets the buffers be reused once the consumer asks for the next.
            if (m > chunkRows) {
              x = new Float32Array(m * F);
              y = new Float64Array(m);
            }
            n = 0;
          }
          for (let f = 0; f < F; f++) readColumn(chunk.getColumnVector(f), m, x, F, f, n);
          const lv = chunk.getColumnVector(F);
          for (let r = 0; r < m; r++) y[n + r] = lv.getItem(r) as number;
          n += m;
        }
        if (n) yield { nRows: n, x: x.subarray(0, n * F), y: y.subarray(0, n) };
      } finally {
        c.closeSync();
      }
    },
  };
}

export interface TimeSplit {
  /** Rows with time < cutoff train; rows with time >= cutoff are the holdout (the newest share). */
  cutoff: number;
  train: ParquetRef;
  holdout: ParquetRef;
  trainRows: number;
  holdoutRows: number;
}

/**
 * Split a training set by time: the newest `holdoutFraction` of rows (by `timeColumn`) is the
 * holdout. Rows sharing the cutoff time all go to the holdout, so no moment is in both.
 * Both sides are ordered by time (then `tieBreak`), so a trainer's validation tail is the
 * newest training data.
 */
export async function timeSplit(
  ref: ParquetRef,
  o: { holdoutFraction: number; timeColumn?: string; tieBreak?: string[] },
): Promise<TimeSplit> {
  const column = o.timeColumn ?? 'ts';
  if (!(o.holdoutFraction > 0 && o.holdoutFraction < 1)) {
    throw new ValidationError('invalid holdout share', [
      { where: 'holdoutFraction', problem: `must be between 0 and 1 (exclusive), got ${o.holdoutFraction}` },
    ]);
  }
  return withConnection(async (c) => {
    await describe(c, { ...ref, range: { column } });
    const q = await c.run(
      `SELECT quantile_disc(${ident(column)}, ${1 - o.holdoutFraction})::DOUBLE AS cutoff, count(*)::BIGINT AS n FROM ${from(ref)}${where(ref)}`,
    );
    const row = (await q.getRowObjects())[0]!;
    const cutoff = Number(row.cutoff);
    const base = { ...ref, orderBy: [column, ...(o.tieBreak ?? ref.orderBy ?? [])] };
    const lower = ref.range?.from;
    const upper = ref.range?.to;
    const train: ParquetRef = {
      ...base,
      range: { column, ...(lower !== undefined ? { from: lower } : {}), to: cutoff },
    };
    const holdout: ParquetRef = {
      ...base,
      range: { column, from: cutoff, ...(upper !== undefined ? { to: upper } : {}) },
    };
    const count = async (r: ParquetRef) =>
      Number((await (await c.run(`SELECT count(*)::BIGINT AS n FROM ${from(r)}${where(r)}`)).getRowObjects())[0]!.n);
    const trainRows = await count(train);
    const holdoutRows = await count(holdout);
    if (trainRows === 0) {
      throw new ValidationError('the time split leaves no rows to train on', [
        {
          where: 'holdoutFraction',
          problem: `the newest ${o.holdoutFraction} of ${Number(row.n)} rows starts at the oldest time (${cutoff}); widen the window or lower the share`,
        },
      ]);
    }
    return { cutoff, train, holdout, trainRows, holdoutRows };
  });
}
