/**
 * examples/ cannot drift from the code that makes it: a rebuild (scripts/make-examples.ts, what
 * `npm run examples` runs) equals the checked-in files: text byte for byte, Parquet row for row
 * (read with DuckDB). And the slices are what the README says: one week, consecutive days per
 * format, every spine row a user at a midnight.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { SLICES, writeExamples } from '../../scripts/make-examples';
import { ROOT } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('strata-examples-');
const checkedIn = path.join(ROOT, 'examples');
afterAll(() => tmp.cleanup());

const parquetRows = (file: string) => withConnection(async (c) => (await c.runAndReadAll(`SELECT * FROM read_parquet(${literal(file)})`)).getRowObjectsJson());

describe('examples/', () => {
  it('equals a rebuild from the generator', async () => {
    const written = await writeExamples(tmp.dir);
    expect(written.sort()).toEqual(fs.readdirSync(checkedIn).filter((f) => f !== 'README.md').sort());
    for (const name of written) {
      const fresh = path.join(tmp.dir, name);
      const kept = path.join(checkedIn, name);
      if (name.endsWith('.parquet')) expect(await parquetRows(fresh), name).toEqual(await parquetRows(kept));
      else expect(fs.readFileSync(fresh, 'utf8'), `${name}: run npm run examples`).toBe(fs.readFileSync(kept, 'utf8'));
    }
  });

  it('slices one week into consecutive days per format, Parquet with ts as a timestamp', async () => {
    const times = (name: string) =>
      name.endsWith('.csv')
        ? fs.readFileSync(path.join(checkedIn, name), 'utf8').trim().split('\n').slice(1).map((l) => Date.parse(l.split(',').find((c) => /^\d{4}-\d\d-\d\dT/.test(c))!))
        : fs.readFileSync(path.join(checkedIn, name), 'utf8').trim().split('\n').map((l) => Date.parse((JSON.parse(l) as { ts: string }).ts));
    for (const source of ['clicks', 'purchases']) {
      for (const slice of SLICES.filter((s) => s.format !== 'parquet')) {
        const ts = times(`${source}.${slice.format}`);
        expect(ts.length).toBeGreaterThan(0);
        expect(ts.every((x) => x >= slice.from && x < slice.to)).toBe(true);
      }
      const pq = SLICES.find((s) => s.format === 'parquet')!;
      const stats = (await withConnection(async (c) =>
        (await c.runAndReadAll(`SELECT typeof(ts) AS kind, epoch_ms(min(ts)) AS lo, epoch_ms(max(ts)) AS hi FROM read_parquet(${literal(path.join(checkedIn, `${source}.parquet`))}) GROUP BY 1`)).getRowObjectsJson(),
      )) as Array<{ kind: string; lo: string; hi: string }>;
      expect(stats).toHaveLength(1);
      const { kind, lo, hi } = stats[0]!;
      expect(kind).toBe('TIMESTAMP');
      expect(Number(lo)).toBeGreaterThanOrEqual(pq.from);
      expect(Number(hi)).toBeLessThan(pq.to);
    }
    const spine = fs.readFileSync(path.join(checkedIn, 'spine.csv'), 'utf8').trim().split('\n');
    expect(spine[0]).toBe('entity_id,ts,label');
    expect(spine.slice(1).every((l) => /^u\d{6},2026-11-(0[3-9])T00:00:00\.000Z,[01]$/.test(l))).toBe(true);
  });
});
