/**
 * The training benchmarks' data: rows × features from a seed, with a signal both linear
 * models and trees can find part of: logit = 0.8 Σ w_f x_f (w from -1 to 1) + 1.05
 * sign(x0 x1) + 0.5 sin(2 x2), x ~ N(0, 1). Written as float32 binary (what the Python peers
 * read) and as Parquet (what a training set is) through DuckDB's appender.
 */
import fs from 'node:fs';
import path from 'node:path';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { Random } from '../../shared/training/random';

export interface BenchData {
  x: Float32Array;
  y: Float32Array;
  rows: number;
  features: number;
  names: string[];
}

export function generateBenchData(rows: number, features = 20, seed = 20240601): BenchData {
  const rng = new Random(seed);
  const x = new Float32Array(rows * features);
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const b = r * features;
    let z = 0;
    for (let f = 0; f < features; f++) {
      x[b + f] = rng.normal();
      z += x[b + f]! * (-1 + (2 * f) / (features - 1)) * 0.8;
    }
    z += 1.05 * Math.sign(x[b]! * x[b + 1]!) + 0.5 * Math.sin(2 * x[b + 2]!);
    y[r] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { x, y, rows, features, names: Array.from({ length: features }, (_, f) => `f${f}`) };
}

export function writeBinary(dir: string, d: BenchData): void {
  fs.writeFileSync(path.join(dir, 'x.bin'), d.x);
  fs.writeFileSync(path.join(dir, 'y.bin'), d.y);
}

export function readFloats(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** Rows [0, rows) as Parquet files: `files[k]` gets the first `cuts[k]` rows (ascending cuts). */
export async function writeParquet(d: BenchData, cuts: Array<{ rows: number; file: string }>): Promise<void> {
  const F = d.features;
  const last = Math.max(...cuts.map((c) => c.rows));
  await withConnection(async (c) => {
    await c.run(`CREATE OR REPLACE TABLE bench_rows (${d.names.map((n) => `${n} FLOAT`).join(', ')}, label FLOAT)`);
    const app = await c.createAppender('bench_rows');
    const write = async (rows: number) => {
      for (const cut of cuts.filter((k) => k.rows === rows)) {
        app.flushSync();
        await c.run(`COPY bench_rows TO ${literal(cut.file)} (FORMAT parquet)`);
      }
    };
    for (let r = 0; r < last; r++) {
      await write(r);
      for (let f = 0; f < F; f++) app.appendFloat(d.x[r * F + f]!);
      app.appendFloat(d.y[r]!);
      app.endRow();
    }
    await write(last);
    app.closeSync();
    await c.run('DROP TABLE bench_rows');
  });
}
