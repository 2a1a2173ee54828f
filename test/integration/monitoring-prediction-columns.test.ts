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
import { mapValueExpr, parquetLayout } from '../../shared/monitoring/prediction-columns';
import { featureAges } from '../../shared/monitoring/window-compute';
import { parseList, SUBSTITUTED_SQL } from '../../shared/monitoring/substituted-rows';
import type { Baseline } from '../../shared/training/baseline';
import type { ModelSignature } from '../../shared/serving/signature';

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
        const { columns: cols } = await parquetLayout(c, files);
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
      expect(mapValueExpr((await parquetLayout(c, [typed])).columns, 'viewAgeMs', 'v')).toBe('CAST(NULL AS DOUBLE)');

      // Columns with a value in every row of every file need no fallback; one a file lacks or leaves NULL does.
      expect([...(await parquetLayout(c, [typed])).withoutNulls].sort()).toEqual(['features.v:x', 'id']);
      expect([...(await parquetLayout(c, [typed, json])).withoutNulls].sort()).toEqual(['id']);

      // Segments whose JSON column is NULL throughout (every key typed) are read without the JSON fallback.
      const typedOnly = path.join(dir, 'typed-only.parquet');
      await c.run(
        `COPY (SELECT 5 AS id, CAST(NULL AS VARCHAR) AS features, 4.5::DOUBLE AS "features.v:x") TO ${literal(typedOnly)} (FORMAT parquet)`,
      );
      expect(mapValueExpr((await parquetLayout(c, [typedOnly])).columns, 'features', 'v:x')).toBe(
        'CAST("features.v:x" AS DOUBLE)',
      );
      expect(await read([typedOnly])).toEqual([[5, 4.5, null, null]]);
      expect(mapValueExpr((await parquetLayout(c, [typedOnly, json])).columns, 'features', 'v:x')).toContain(
        'json_extract',
      );
    });
  });

  it("ages: a feature's view age, or in records logged before it its own; features of one view share one expression", async () => {
    const legacy = path.join(dir, 'ages-legacy.parquet');
    const current = path.join(dir, 'ages-view.parquet');
    await withConnection(async (c) => {
      await c.run(
        `COPY (SELECT 1 AS id, 10::DOUBLE AS "featureAgeMs.v:x", 20::DOUBLE AS "featureAgeMs.w:z") TO ${literal(legacy)} (FORMAT parquet)`,
      );
      await c.run(
        `COPY (SELECT 2 AS id, 30::DOUBLE AS "viewAgeMs.v", 40::DOUBLE AS "viewAgeMs.w") TO ${literal(current)} (FORMAT parquet)`,
      );
      const w = {
        baseline: { features: ['v:x', 'v:y', 'w:z', 'u:q'].map((name) => ({ name })) } as unknown as Baseline,
        signature: {
          featureService: { features: ['v:x', 'v:y', 'w:z', 'u:q'].map((r) => ({ view: r[0], feature: r.slice(2) })) },
        } as unknown as ModelSignature,
      };
      const read = async (files: string[]) => {
        const ages = featureAges(w, await parquetLayout(c, files));
        const rel = `read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`;
        const keys = Object.keys(ages);
        const r = await c.runAndReadAll(`SELECT id, ${keys.map((k) => ages[k]).join(', ')} FROM ${rel} ORDER BY id`);
        return {
          ages,
          rows: r
            .getRowsJson()
            .map((row) => Object.fromEntries(keys.map((k, i) => [k, row[i + 1] === null ? null : Number(row[i + 1])]))),
        };
      };
      const now = await read([current]);
      // u:q's view was never read: no age expression at all; v:x and v:y share theirs.
      expect(Object.keys(now.ages)).toEqual(['v:x', 'v:y', 'w:z']);
      expect(now.ages['v:x']).toBe(now.ages['v:y']);
      expect(now.rows).toEqual([{ 'v:x': 30, 'v:y': 30, 'w:z': 40 }]);
      const old = await read([legacy]);
      expect(Object.keys(old.ages)).toEqual(['v:x', 'w:z']);
      expect(old.rows).toEqual([{ 'v:x': 10, 'w:z': 20 }]);
      const both = await read([legacy, current]);
      expect(both.rows).toEqual([
        { 'v:x': 10, 'v:y': null, 'w:z': 20 },
        { 'v:x': 30, 'v:y': 30, 'w:z': 40 },
      ]);
    });
  });

  it('a prediction substituted something exactly when its defaulted or overridden list (as the predictor logs it) holds an entry', async () => {
    const cases: Array<[string | null, string | null]> = [
      [null, null],
      ['[]', null],
      [null, '[]'],
      ['[]', '[]'],
      [JSON.stringify(['v:a']), null],
      ['[]', JSON.stringify(['v:b', 'w:c'])],
      [JSON.stringify(['']), JSON.stringify([])],
    ];
    const rows = cases.map(([d, o]) => `(${d === null ? 'NULL' : literal(d)}, ${o === null ? 'NULL' : literal(o)})`);
    const got = await withConnection(async (c) =>
      (
        await c.runAndReadAll(`SELECT ${SUBSTITUTED_SQL} FROM (VALUES ${rows.join(', ')}) t(defaulted, overridden)`)
      ).getRowsJson(),
    );
    expect(got.map((r) => r[0])).toEqual(cases.map(([d, o]) => parseList(d).length > 0 || parseList(o).length > 0));
  });
});
