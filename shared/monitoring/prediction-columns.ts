/**
 * How a window reads one key of the prediction log's number maps (`features`, `viewAgeMs`)
 * from whatever layout its segments have: ingest stores each key as its own DOUBLE column
 * `<field>.<key>` (features/ingest/number-maps.ts), so a key is a plain column scan; segments
 * written before that layout (and keys that could not get a column) hold the map as JSON text
 * in the field's own column. The expression reads the typed column and falls back to the JSON
 * only for rows where the column is NULL (DuckDB evaluates COALESCE's later arguments only for
 * those rows), and only when some file's JSON column holds a value, so a window of new segments
 * never reads it. Which columns exist and hold values is read once per window from the files'
 * schemas and footers (Parquet metadata, no scan).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal } from '../features/offline/duckdb';
import { mapColumn } from '../features/ingest/number-maps';

export interface ParquetLayout {
  /**
   * The column names (lower-cased) of the union of the files, less those NULL in every row group:
   * no expression then reads them, e.g. the JSON column of a map, which ingest leaves NULL when
   * every key has its typed column, so the fallback to it costs nothing in a window of new segments.
   */
  columns: Set<string>;
  /** Those every file has with no NULL in any row group: an expression needs no fallback for them. */
  withoutNulls: Set<string>;
  /**
   * Per column (lower-cased), what the footers' statistics say of it over every row group of
   * every file holding it: its rows, and its smallest and largest value as text and, where the
   * text is a number, as numbers (null where some row group has no statistics).
   */
  stats: Map<string, ColumnStats>;
}

export interface ColumnStats {
  rows: number;
  min: string | null;
  max: string | null;
  minNumber: number | null;
  maxNumber: number | null;
}

/** The columns of the union of these Parquet files and which hold values, by the footers' null counts (no scan). */
export async function parquetLayout(conn: DuckDBConnection, files: readonly string[]): Promise<ParquetLayout> {
  const list = `[${files.map(literal).join(', ')}]`;
  const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${list}, union_by_name = true)`);
  // A missing null count (no statistics) proves nothing either way, nor does a missing min or max.
  const footers = await conn.runAndReadAll(
    `SELECT lower(path_in_schema),
       bool_and(stats_null_count IS NOT NULL AND stats_null_count = row_group_num_rows),
       bool_and(stats_null_count IS NOT NULL AND stats_null_count = 0) AND count(DISTINCT file_name) = ${new Set(files).size},
       sum(row_group_num_rows)::DOUBLE,
       CASE WHEN bool_and(stats_min_value IS NOT NULL) THEN min(stats_min_value) END,
       CASE WHEN bool_and(stats_max_value IS NOT NULL) THEN max(stats_max_value) END,
       CASE WHEN bool_and(TRY_CAST(stats_min_value AS DOUBLE) IS NOT NULL) THEN min(TRY_CAST(stats_min_value AS DOUBLE)) END,
       CASE WHEN bool_and(TRY_CAST(stats_max_value AS DOUBLE) IS NOT NULL) THEN max(TRY_CAST(stats_max_value AS DOUBLE)) END
     FROM parquet_metadata(${list}) GROUP BY 1`,
  );
  const empty = new Set<string>();
  const withoutNulls = new Set<string>();
  const stats = new Map<string, ColumnStats>();
  const text = (v: unknown) => (v === null ? null : String(v));
  const number = (v: unknown) => (v === null ? null : Number(v));
  for (const [name, none, full, rows, min, max, minNumber, maxNumber] of footers.getRows()) {
    if (none === true) empty.add(String(name));
    if (full === true) withoutNulls.add(String(name));
    stats.set(String(name), {
      rows: Number(rows),
      min: text(min),
      max: text(max),
      minNumber: number(minNumber),
      maxNumber: number(maxNumber),
    });
  }
  const columns = new Set(
    described
      .getRowObjects()
      .map((r) => String(r.column_name).toLowerCase())
      .filter((c) => !empty.has(c)),
  );
  return { columns, withoutNulls, stats };
}

/** What mapValueExpr gives for a key no layout holds. */
export const ABSENT_VALUE_SQL = 'CAST(NULL AS DOUBLE)';

/** The value of `key` of the number map `field` as a DOUBLE expression (NULL when no layout has it). */
export function mapValueExpr(columns: ReadonlySet<string>, field: string, key: string): string {
  const column = mapColumn(field, key);
  const typed = columns.has(column.toLowerCase()) ? `CAST(${ident(column)} AS DOUBLE)` : undefined;
  const json = columns.has(field.toLowerCase())
    ? `TRY_CAST(json_extract_string(${ident(field)}, ${literal(`$.${JSON.stringify(key)}`)}) AS DOUBLE)`
    : undefined;
  if (typed && json) return `coalesce(${typed}, ${json})`;
  return typed ?? json ?? ABSENT_VALUE_SQL;
}
