/**
 * One in-process DuckDB for the offline store and training sets. In-memory: the data lives
 * in Parquet files; DuckDB is only the query engine. Each operation takes its own
 * connection so concurrent operations do not share temp tables.
 */
import os from 'node:os';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance, quotedIdentifier, quotedString } from '@duckdb/node-api';
import { ValidationError } from '../../errors';
import type { FeatureColumn, FeatureType } from '../definitions/values';

let shared: Promise<DuckDBInstance> | undefined;
/**
 * Set deliberately rather than DuckDB's 80% of the machine: a Functions instance shares its
 * memory with Node and the host. DuckDB holds more than its limit (Parquet reads, results):
 * a 1M x 10M training set's process peaked at 0.85-1.17 GB with 600 MB, 1.23-1.35 GB with 1 GB.
 */
let memoryLimit = '600MB';

/** The memory limit of the process-wide instance (STRATA_DUCKDB_MEMORY_LIMIT); applies at once if it runs. */
export async function setDuckdbMemoryLimit(limit: string): Promise<void> {
  memoryLimit = limit;
  if (shared) await withConnection((c) => c.run(`SET GLOBAL memory_limit = ${quotedString(limit)}`));
}

/** The process-wide DuckDB instance (spills to the OS temp folder past its memory limit). */
export function duckdb(): Promise<DuckDBInstance> {
  if (!shared) {
    shared = DuckDBInstance.create(':memory:', {
      memory_limit: memoryLimit,
      temp_directory: path.join(os.tmpdir(), `strata-duckdb-${process.pid}`),
    });
    shared.catch(() => (shared = undefined));
  }
  return shared;
}

/** Run `fn` on a fresh connection, closed afterwards (temp tables die with it). */
export async function withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const c = await (await duckdb()).connect();
  try {
    return await fn(c);
  } finally {
    c.closeSync();
  }
}

export const ident = quotedIdentifier;
export const literal = quotedString;

/** A list of file paths as a DuckDB list literal, for read_parquet([...]). */
export function fileList(files: readonly string[]): string {
  return `[${files.map(literal).join(', ')}]`;
}

/** How each feature type is stored in Parquet. */
export const DUCKDB_TYPE: Record<FeatureType, string> = {
  float: 'DOUBLE',
  int: 'BIGINT',
  string: 'VARCHAR',
  bool: 'BOOLEAN',
};

/** Columns every segment carries besides the features. */
export const KEY_COLUMNS = ['entity_id', 'event_ts', 'created_ts'] as const;

/** Feature columns must not shadow the key columns, be empty, or repeat. */
export function assertColumns(columns: readonly FeatureColumn[], where = 'columns'): void {
  const seen = new Set<string>();
  const problems: { where: string; problem: string }[] = [];
  columns.forEach((c, i) => {
    if (!c.name) problems.push({ where: `${where}[${i}].name`, problem: 'must not be empty' });
    else if ((KEY_COLUMNS as readonly string[]).includes(c.name.toLowerCase()))
      problems.push({
        where: `${where}[${i}].name`,
        problem: `"${c.name}" is reserved for the segment key; rename the feature`,
      });
    else if (seen.has(c.name.toLowerCase()))
      problems.push({ where: `${where}[${i}].name`, problem: `"${c.name}" appears twice` });
    seen.add(c.name.toLowerCase());
    if (!(c.type in DUCKDB_TYPE))
      problems.push({ where: `${where}[${i}].type`, problem: `must be one of ${Object.keys(DUCKDB_TYPE).join(', ')}` });
  });
  if (problems.length)
    throw new ValidationError(
      `invalid feature columns: ${problems.map((p) => `${p.where} ${p.problem}`).join('; ')}`,
      problems,
    );
}

/** A BIGINT/HUGEINT/DOUBLE from DuckDB as a JS number (epoch ms and counts fit in 2^53). */
export function num(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  throw new TypeError(`expected a number from DuckDB, got ${typeof v}`);
}
