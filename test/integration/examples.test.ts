/**
 * examples/ cannot drift from the code that makes it: a rebuild (scripts/make-examples.ts, what
 * `npm run examples` runs) equals the checked-in files: text and the ONNX model byte for byte,
 * Parquet row for row (read with DuckDB). The slices are what the README says: one week,
 * consecutive days per format, every spine row a user at a midnight. And the example model is
 * what Strata's trainer made of that week: onnxruntime scores its holdout exactly as the
 * trainer predicted it, and it learned the generator's churn signal.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { SLICES, writeExamples, type ExamplesBuild } from '../../scripts/make-examples';
import { scoreOnnx, sourceOf } from '../../shared/training';
import { ROOT } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('strata-examples-');
const checkedIn = path.join(ROOT, 'examples');
let build: ExamplesBuild | undefined;
afterAll(() => {
  tmp.cleanup();
  if (build) fs.rmSync(build.workDir, { recursive: true, force: true });
});

const parquetRows = (file: string) =>
  withConnection(async (c) =>
    (await c.runAndReadAll(`SELECT * FROM read_parquet(${literal(file)})`)).getRowObjectsJson(),
  );

describe('examples/', () => {
  it('equals a rebuild from the generator', async () => {
    build = await writeExamples(tmp.dir);
    const written = [...build.files];
    expect(written.sort()).toEqual(
      fs
        .readdirSync(checkedIn)
        .filter((f) => f !== 'README.md')
        .sort(),
    );
    for (const name of written) {
      const fresh = path.join(tmp.dir, name);
      const kept = path.join(checkedIn, name);
      if (name.endsWith('.parquet')) expect(await parquetRows(fresh), name).toEqual(await parquetRows(kept));
      else if (name.endsWith('.onnx'))
        expect(fs.readFileSync(fresh).equals(fs.readFileSync(kept)), `${name}: run npm run examples`).toBe(true);
      else expect(fs.readFileSync(fresh, 'utf8'), `${name}: run npm run examples`).toBe(fs.readFileSync(kept, 'utf8'));
    }
  });

  it('slices one week into consecutive days per format, Parquet with ts as a timestamp', async () => {
    const times = (name: string) =>
      name.endsWith('.csv')
        ? fs
            .readFileSync(path.join(checkedIn, name), 'utf8')
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => Date.parse(l.split(',').find((c) => /^\d{4}-\d\d-\d\dT/.test(c))!))
        : fs
            .readFileSync(path.join(checkedIn, name), 'utf8')
            .trim()
            .split('\n')
            .map((l) => Date.parse((JSON.parse(l) as { ts: string }).ts));
    for (const source of ['clicks', 'purchases']) {
      for (const slice of SLICES.filter((s) => s.format !== 'parquet')) {
        const ts = times(`${source}.${slice.format}`);
        expect(ts.length).toBeGreaterThan(0);
        expect(ts.every((x) => x >= slice.from && x < slice.to)).toBe(true);
      }
      const pq = SLICES.find((s) => s.format === 'parquet')!;
      const stats = (await withConnection(async (c) =>
        (
          await c.runAndReadAll(
            `SELECT typeof(ts) AS kind, epoch_ms(min(ts)) AS lo, epoch_ms(max(ts)) AS hi FROM read_parquet(${literal(path.join(checkedIn, `${source}.parquet`))}) GROUP BY 1`,
          )
        ).getRowObjectsJson(),
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

  it('holds the churn model Strata trains: onnxruntime scores its holdout as the trainer did, and it learned the signal', async () => {
    expect(build, 'the rebuild ran first').toBeDefined();
    const { model } = build!;
    const card = JSON.parse(fs.readFileSync(path.join(checkedIn, 'churn.json'), 'utf8')) as {
      sha256: string;
      trainer: string;
      seed: number;
      rows: { train: number; holdout: number };
      metrics: { holdout: { auc: number } };
      signature: { input: { name: string }; outputs: Array<{ name: string }> };
    };
    const bytes = fs.readFileSync(path.join(checkedIn, 'churn.onnx'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(card.sha256);
    // The `churn` training config: its trainer and seed, every spine row in the split.
    expect([card.trainer, card.seed]).toEqual([model.config.trainer, model.config.seed]);
    const spineRows = fs.readFileSync(path.join(checkedIn, 'spine.csv'), 'utf8').trim().split('\n').length - 1;
    expect(card.rows.train + card.rows.holdout).toBe(spineRows);
    expect(card.rows.holdout).toBe(model.split.holdoutRows);

    const trainer = model.outcome.holdoutPredictions!;
    const scored = await scoreOnnx(
      bytes,
      sourceOf(model.split.holdout),
      model.outcome.output,
      card.signature.input.name,
    );
    expect(scored.length).toBe(card.rows.holdout);
    let worst = 0;
    for (let i = 0; i < scored.length; i++) worst = Math.max(worst, Math.abs(scored[i]! - trainer[i]!));
    expect(worst).toBeLessThan(1e-5);
    // The generator's churn depends on activity and buying (cli/generator/users.ts): a model of
    // clicks and purchases ranks churners well above chance on days it never saw.
    expect(card.metrics.holdout.auc).toBeGreaterThan(0.75);
    // signature.json, what the README registers it with, names the model's input and output.
    const sig = JSON.parse(fs.readFileSync(path.join(checkedIn, 'signature.json'), 'utf8')) as typeof card.signature;
    expect(sig.input.name).toBe(card.signature.input.name);
    expect(sig.outputs.map((o) => o.name)).toEqual(card.signature.outputs.map((o) => o.name));
  });
});
