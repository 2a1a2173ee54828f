/**
 * A spine file for `strata training-set --spine`: CSV, JSONL or Parquet with columns entity_id,
 * ts (ISO-8601, epoch ms or a timestamp) and optionally label, read with DuckDB into the rows
 * POST /api/training-sets takes inline, optionally only rows with ts in [from, to).
 */
import path from 'node:path';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { UsageError } from './errors';

export interface SpineRow {
  entity_id: string;
  ts: string;
  label?: number | string | boolean | null;
}

/** The most rows an inline spine takes (the API's limit). */
export const MAX_INLINE_SPINE_ROWS = 1_000_000;

function reader(file: string): string {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return `read_csv(${literal(file)}, header = true)`;
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return `read_json_auto(${literal(file)})`;
  if (ext === '.parquet') return `read_parquet(${literal(file)})`;
  throw new UsageError(`--spine ${file}: name it .csv, .jsonl or .parquet`);
}

export function readSpine(file: string, range: { from?: number; to?: number }): Promise<SpineRow[]> {
  return withConnection(async (c) => {
    let columns: Map<string, string>;
    try {
      const described = await c.runAndReadAll(`DESCRIBE SELECT * FROM ${reader(file)}`);
      columns = new Map(described.getRows().map(([n, t]) => [String(n), String(t)]));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`--spine ${file} cannot be read: ${(e as Error).message.split('\n')[0]}`);
    }
    const missing = ['entity_id', 'ts'].filter((k) => !columns.has(k));
    if (missing.length)
      throw new UsageError(
        `--spine ${file} needs columns entity_id, ts[, label]; it has ${[...columns.keys()].join(', ')}`,
      );
    const tsType = columns.get('ts')!.toUpperCase();
    const tsMs = /INT|DOUBLE|FLOAT|DECIMAL/.test(tsType)
      ? 'CAST(ts AS BIGINT)'
      : /TIMESTAMP|DATE/.test(tsType)
        ? 'epoch_ms(CAST(ts AS TIMESTAMP))'
        : 'epoch_ms(CAST(ts AS TIMESTAMPTZ))';
    const where = [
      range.from !== undefined ? `${tsMs} >= ${range.from}` : '',
      range.to !== undefined ? `${tsMs} < ${range.to}` : '',
    ].filter(Boolean);
    const sql = `SELECT CAST(entity_id AS VARCHAR) AS entity_id, ${tsMs} AS ts${columns.has('label') ? ', label' : ''} FROM ${reader(file)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    let rows: Array<Record<string, unknown>>;
    try {
      rows = (await c.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
    } catch (e) {
      throw new UsageError(
        `--spine ${file}: column ts could not be read as a time: ${(e as Error).message.split('\n')[0]}`,
      );
    }
    if (rows.length > MAX_INLINE_SPINE_ROWS)
      throw new UsageError(
        `--spine ${file} has ${rows.length} rows in range; at most ${MAX_INLINE_SPINE_ROWS} are sent inline (narrow --from/--to)`,
      );
    return rows.map((r) => ({
      entity_id: String(r.entity_id),
      ts: new Date(Number(r.ts)).toISOString(),
      ...('label' in r
        ? { label: typeof r.label === 'bigint' ? Number(r.label) : (r.label as SpineRow['label']) }
        : {}),
    }));
  });
}
