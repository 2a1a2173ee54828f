/**
 * Monitoring's own DuckDB instance, apart from the one serving, ingest and training sets
 * share (shared/features/offline/duckdb.ts): its thread limit (STRATA_MONITOR_DUCKDB_THREADS,
 * default 1) then bounds what a window's scan can take from the cores without touching the
 * settings every other query runs with.
 */
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

const instances = new Map<number, Promise<DuckDBInstance>>();

export async function withMonitoringConnection<T>(
  threads: number,
  fn: (c: DuckDBConnection) => Promise<T>,
): Promise<T> {
  let inst = instances.get(threads);
  if (!inst) {
    inst = DuckDBInstance.create(':memory:', {
      threads: String(threads),
      temp_directory: path.join(os.tmpdir(), `strata-monitor-duckdb-${process.pid}`),
    });
    instances.set(threads, inst);
    inst.catch(() => instances.delete(threads));
  }
  const c = await (await inst).connect();
  try {
    return await fn(c);
  } finally {
    c.closeSync();
  }
}
