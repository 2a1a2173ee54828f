/**
 * Synthetic prediction windows as Parquet, generated inside DuckDB (a million rows in about a
 * second) and deterministic: every value is a function of (row, seed, column) through DuckDB's
 * hash, so the same call writes the same file on any machine and thread count. Used by
 * bench/monitoring and by the window-query integration test.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal } from '../../shared/features/offline/duckdb';
import type { FeatureBaseline, MonitoringBaseline, NumericFeatureBaseline } from '../../shared/monitoring/baseline';
import { readWindowAggregates } from '../../shared/monitoring/window-query';

export type SyntheticColumn =
  /** N(mean + shift·sd, sd), NULL on every `nullEvery`-th row. */
  | { name: string; kind: 'normal'; mean?: number; sd?: number; shift?: number; nullEvery?: number }
  /** Whole numbers 0 .. mod-1 (values that sit exactly on bin edges), as DOUBLE. */
  | { name: string; kind: 'integer'; mod: number }
  /** One of `values` with the given weights (VARCHAR), NULL on every `nullEvery`-th row. */
  | { name: string; kind: 'category'; values: string[]; weights?: number[]; nullEvery?: number }
  /** A score in (0, 1): sigmoid of a normal. */
  | { name: string; kind: 'score'; shift?: number };

/** A uniform [0, 1) value for (row i, seed, column k), from the top 53 bits of a hash. */
const uniform = (seed: number, k: number, salt = 0) => `((hash(i, ${seed}, ${k * 2 + salt}) >> 11)::DOUBLE / 9007199254740992.0)`;

function columnSql(c: SyntheticColumn, k: number, seed: number): string {
  const nulled = (expr: string, every: number | undefined) => (every ? `CASE WHEN i % ${every} = 0 THEN NULL ELSE ${expr} END` : expr);
  const normal = `(sqrt(-2 * ln(1 - ${uniform(seed, k)})) * cos(2 * pi() * ${uniform(seed, k, 1)}))`;
  switch (c.kind) {
    case 'normal': {
      const sd = c.sd ?? 1;
      return `${nulled(`${c.mean ?? 0} + ${sd} * (${normal} + ${c.shift ?? 0})`, c.nullEvery)} AS ${ident(c.name)}`;
    }
    case 'integer':
      return `CAST(hash(i, ${seed}, ${k * 2}) % ${c.mod} AS DOUBLE) AS ${ident(c.name)}`;
    case 'category': {
      const w = c.weights ?? c.values.map(() => 1);
      const total = w.reduce((a, b) => a + b, 0);
      let acc = 0;
      const branches = c.values.map((v, j) => `WHEN ${uniform(seed, k)} < ${(acc += w[j]!) / total} THEN ${literal(v)}`).join(' ');
      return `${nulled(`CASE ${branches} ELSE ${literal(c.values[c.values.length - 1]!)} END`, c.nullEvery)} AS ${ident(c.name)}`;
    }
    case 'score':
      return `1 / (1 + exp(-(${normal} + ${c.shift ?? 0}))) AS ${ident(c.name)}`;
  }
}

/** Write `rows` rows (ids firstId ..) of the given columns to `file` as Parquet, plus an `id` column. */
export async function writeSyntheticParquet(conn: DuckDBConnection, file: string, opts: { rows: number; seed: number; columns: SyntheticColumn[]; firstId?: number }): Promise<void> {
  const first = opts.firstId ?? 0;
  const cols = opts.columns.map((c, k) => columnSql(c, k, opts.seed));
  await conn.run(`COPY (SELECT i AS id, ${cols.join(', ')} FROM range(${first}, ${first + opts.rows}) t(i)) TO ${literal(file)} (FORMAT parquet)`);
}

/**
 * A monitoring baseline from a training Parquet file, computed by DuckDB the way a baseline
 * builder would (decile cut points above the min, counts per left-closed bin, moments, a
 * reservoir sample, category counts). For benchmarks; training owns the real builder.
 */
export async function baselineFromParquet(conn: DuckDBConnection, file: string, columns: SyntheticColumn[], opts: { sampleSize?: number } = {}): Promise<Pick<MonitoringBaseline, 'rows' | 'features'>> {
  const rel = `read_parquet(${literal(file)})`;
  const features: Record<string, FeatureBaseline> = {};
  const rows = Number((await conn.runAndReadAll(`SELECT count(*) FROM ${rel}`)).getRows()[0]![0]);
  for (const c of columns) {
    const x = ident(c.name);
    if (c.kind === 'category') {
      const r = (await conn.runAndReadAll(`SELECT ${x} AS v, count(*) AS n FROM ${rel} WHERE ${x} IS NOT NULL GROUP BY 1`)).getRowObjectsJson();
      const categories = Object.fromEntries(r.map((e) => [String(e.v), Number(e.n)]));
      const present = Object.values(categories).reduce((a, b) => a + b, 0);
      features[c.name] = { kind: 'categorical', nullRate: 1 - present / rows, categories, otherCount: 0 };
      continue;
    }
    const s = (await conn.runAndReadAll(`SELECT min(${x}) AS lo, max(${x}) AS hi, avg(${x}) AS mean, stddev_samp(${x}) AS std, count(${x}) AS n,
        quantile_disc(${x}, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) AS q FROM ${rel}`)).getRowObjectsJson()[0]!;
    const min = Number(s.lo);
    const edges: number[] = [];
    for (const q of s.q as number[]) if (q > min && (edges.length === 0 || q > edges[edges.length - 1]!)) edges.push(q);
    const sample = (await conn.runAndReadAll(`SELECT ${x} AS v FROM ${rel} WHERE ${x} IS NOT NULL USING SAMPLE reservoir(${opts.sampleSize ?? 10_000} ROWS) REPEATABLE (1)`)).getRowObjectsJson().map((r) => Number(r.v));
    const draft: NumericFeatureBaseline = { kind: 'numeric', nullRate: 1 - Number(s.n) / rows, min, max: Number(s.hi), mean: Number(s.mean), std: Number(s.std), bins: { edges, counts: new Array<number>(edges.length + 1).fill(0) }, sample };
    // The bin counts: the window aggregate over the training file counts exactly the baseline's bins.
    const { aggregates } = await readWindowAggregates(conn, { from: rel, features: { [c.name]: { expr: x, baseline: draft } }, sample: { size: 1 } });
    const agg = aggregates.features[c.name]!;
    if (agg.kind === 'numeric') draft.bins.counts = agg.binCounts;
    features[c.name] = draft;
  }
  return { rows, features };
}
