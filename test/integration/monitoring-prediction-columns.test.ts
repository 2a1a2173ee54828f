/**
 * A window reads the prediction log's features from whichever layout its segments have: the
 * typed column per key that ingest writes now, or the JSON text of segments written before it;
 * a window spanning both reads each row from the one it has.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { mapValueExpr, parquetColumns } from '../../shared/monitoring/prediction-columns';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-prediction-columns-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('prediction log layouts', () => {
  it('typed columns, JSON text, and both in one window give the same values', async () => {
    const typed = path.join(dir, 'typed.parquet');
    const json = path.join(dir, 'json.parquet');
    await withConnection(async (c) => {
      await c.run(
        `COPY (SELECT 1 AS id, CAST(NULL AS VARCHAR) AS features, 0.5::DOUBLE AS "features.v:x", 7::DOUBLE AS "features.v:y"
               UNION ALL SELECT 2, '{"v:z":9}', 1.5, NULL) TO ${literal(typed)} (FORMAT parquet)`,
      );
      await c.run(
        `COPY (SELECT 3 AS id, '{"v:x":2.5,"v:y":8}' AS features UNION ALL SELECT 4, '{"v:y":1}') TO ${literal(json)} (FORMAT parquet)`,
      );
      const read = async (files: string[]) => {
        const rel = `read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`;
        const cols = await parquetColumns(c, files);
        const exprs = ['v:x', 'v:y', 'v:z'].map((k) => mapValueExpr(cols, 'features', k));
        const r = await c.runAndReadAll(`SELECT id, ${exprs.join(', ')} FROM ${rel} ORDER BY id`);
        return r.getRowsJson().map((row) => row.map((v) => (v === null ? null : Number(v))));
      };
      expect(await read([typed])).toEqual([
        [1, 0.5, 7, null],
        [2, 1.5, null, 9],
      ]);
      expect(await read([json])).toEqual([
        [3, 2.5, 8, null],
        [4, null, 1, null],
      ]);
      expect(await read([typed, json])).toEqual([
        [1, 0.5, 7, null],
        [2, 1.5, null, 9],
        [3, 2.5, 8, null],
        [4, null, 1, null],
      ]);
      // A key no file has is NULL, not an error.
      expect(mapValueExpr(await parquetColumns(c, [typed]), 'featureAgeMs', 'v:x')).toBe('CAST(NULL AS DOUBLE)');

      // Segments whose JSON column is NULL throughout (every key typed) are read without the JSON fallback.
      const typedOnly = path.join(dir, 'typed-only.parquet');
      await c.run(
        `COPY (SELECT 5 AS id, CAST(NULL AS VARCHAR) AS features, 4.5::DOUBLE AS "features.v:x") TO ${literal(typedOnly)} (FORMAT parquet)`,
      );
      expect(mapValueExpr(await parquetColumns(c, [typedOnly]), 'features', 'v:x')).toBe(
        'CAST("features.v:x" AS DOUBLE)',
      );
      expect(await read([typedOnly])).toEqual([[5, 4.5, null, null]]);
      expect(mapValueExpr(await parquetColumns(c, [typedOnly, json]), 'features', 'v:x')).toContain('json_extract');
    });
  });
});
