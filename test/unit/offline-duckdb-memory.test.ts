/**
 * The offline store's DuckDB runs under a memory limit chosen by Strata (not DuckDB's 80% of
 * the machine), and STRATA_DUCKDB_MEMORY_LIMIT changes it, also once the instance runs.
 * Real DuckDB.
 */
import { describe, expect, it } from 'vitest';
import { setDuckdbMemoryLimit, withConnection } from '../../shared/features/offline/duckdb';
import { loadConfig } from '../../shared/config';

const limit = () =>
  withConnection(async (c) =>
    String((await c.runAndReadAll(`SELECT current_setting('memory_limit')`)).getRows()[0]![0]),
  );

describe('the offline DuckDB memory limit', () => {
  it('is 600 MB unless set, and a setting applies to the running instance', async () => {
    expect(await limit()).toBe('572.2 MiB'); // 600 MB = 6 x 10^8 bytes
    await setDuckdbMemoryLimit('1GB');
    expect(await limit()).toBe('953.6 MiB');
    await setDuckdbMemoryLimit('600MB');
    expect(await limit()).toBe('572.2 MiB');
  });

  it('STRATA_DUCKDB_MEMORY_LIMIT must be a size', () => {
    expect(loadConfig({ STRATA_DUCKDB_MEMORY_LIMIT: '2GB' }).duckdbMemoryLimit).toBe('2GB');
    expect(() => loadConfig({ STRATA_DUCKDB_MEMORY_LIMIT: 'lots' })).toThrow(/STRATA_DUCKDB_MEMORY_LIMIT/);
  });
});
