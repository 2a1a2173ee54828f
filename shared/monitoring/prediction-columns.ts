/**
 * How a window reads one key of the prediction log's number maps (`features`, `featureAgeMs`)
 * from whatever layout its segments have: ingest stores each key as its own DOUBLE column
 * `<field>.<key>` (features/ingest/number-maps.ts), so a key is a plain column scan; segments
 * written before that layout (and keys that could not get a column) hold the map as JSON text
 * in the field's own column. The expression reads the typed column and falls back to the JSON
 * only for rows where the column is NULL (DuckDB evaluates COALESCE's later arguments only for
 * those rows), so a window of new segments never parses JSON. Which columns exist is read once
 * per window from the files' schemas (Parquet metadata, no scan).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal } from '../features/offline/duckdb';
import { mapColumn } from '../features/ingest/number-maps';

/** The column names (lower-cased) of the union of these Parquet files. */
export async function parquetColumns(conn: DuckDBConnection, relation: string): Promise<Set<string>> {
  const rows = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`)).getRowObjects();
  return new Set(rows.map((r) => String(r.column_name).toLowerCase()));
}

/** The value of `key` of the number map `field` as a DOUBLE expression (NULL when no layout has it). */
export function mapValueExpr(columns: ReadonlySet<string>, field: string, key: string): string {
  const column = mapColumn(field, key);
  const typed = columns.has(column.toLowerCase()) ? `CAST(${ident(column)} AS DOUBLE)` : undefined;
  const json = columns.has(field.toLowerCase())
    ? `TRY_CAST(json_extract_string(${ident(field)}, ${literal(`$.${JSON.stringify(key)}`)}) AS DOUBLE)`
    : undefined;
  if (typed && json) return `coalesce(${typed}, ${json})`;
  return typed ?? json ?? 'CAST(NULL AS DOUBLE)';
}
