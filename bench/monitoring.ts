/**
 * One monitoring window: 1M logged predictions × 20 features (18 numeric, 2 categorical) and a
 * score, in 4 Parquet files, through the statistical computation end to end: the DuckDB
 * aggregates (window-query.ts: bins, counts, range, categories, score histogram, the seeded
 * sample), then drift, data quality and the performance estimate. Against the bare floor
 * measured in the same run: one DuckDB query computing only the same histograms (the baseline's
 * boundaries per numeric feature, a plain histogram per categorical one) over the same files.
 * Prints one JSON object.
 *
 *   node dist/bench/monitoring.js      (ROWS, FEATURES, REPEATS to change the run;
 *                                       LAYOUT=json reads features from one JSON text column,
 *                                       the way the predictions source is stored today)
 *
 * Targets (issue 14): under 2 s on 2 cores, at most 1.5× the bare query. The prediction p99
 * under a running window belongs to the full pipeline's benchmark.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ident, literal, withConnection } from '../shared/features/offline/duckdb';
import type { MonitoringBaseline } from '../shared/monitoring/baseline';
import { driftReport } from '../shared/monitoring/drift';
import { estimatePerformance } from '../shared/monitoring/performance-estimated';
import { qualityReport } from '../shared/monitoring/quality';
import { doubleList, numericPlan, readWindowAggregates, type WindowQuery } from '../shared/monitoring/window-query';
import { baselineFromParquet, writeSyntheticParquet, type SyntheticColumn } from './lib/monitoring-data';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const FEATURES = Number(process.env.FEATURES ?? 20);
const REPEATS = Number(process.env.REPEATS ?? 3);
const LAYOUT = process.env.LAYOUT === 'json' ? 'json' : 'columns';
const FILES = 4;

const columns: SyntheticColumn[] = [
  ...Array.from({ length: FEATURES }, (_, i): SyntheticColumn =>
    i % 10 === 9
      ? { name: `f${i}`, kind: 'category', values: ['a', 'b', 'c', 'd', 'e', 'f'], weights: [30, 25, 20, 15, 7, 3], nullEvery: 97 }
      : { name: `f${i}`, kind: 'normal', mean: i, sd: 1 + i / 10, nullEvery: 101 }),
  { name: 'score', kind: 'score', shift: -0.5 },
];

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-monitoring-'));
  try {
    const train = path.join(tmp, 'train.parquet');
    const files = Array.from({ length: FILES }, (_, k) => path.join(tmp, `window-${k}.parquet`));
    const built = await withConnection(async (c) => {
      await writeSyntheticParquet(c, train, { rows: 200_000, seed: 1, columns });
      for (let k = 0; k < FILES; k++) await writeSyntheticParquet(c, files[k]!, { rows: ROWS / FILES, seed: 2 + k, columns, firstId: (k * ROWS) / FILES });
      if (LAYOUT === 'json') {
        const obj = columns.map((col) => `${literal(col.name)}, ${ident(col.name)}`).join(', ');
        for (const f of files) await c.run(`COPY (SELECT id, json_object(${obj})::VARCHAR AS features FROM read_parquet(${literal(f)})) TO ${literal(f + '.json.parquet')} (FORMAT parquet)`);
      }
      return baselineFromParquet(c, train, columns);
    });
    const { score, ...features } = built.features;
    const baseline: MonitoringBaseline = { rows: built.rows, features, prediction: score! };

    const fileList = `[${files.map((f) => literal(LAYOUT === 'json' ? f + '.json.parquet' : f)).join(', ')}]`;
    const jsonSchema = `{${columns.map((col) => `"${col.name}":"${col.kind === 'category' ? 'VARCHAR' : 'DOUBLE'}"`).join(',')}}`;
    const from = LAYOUT === 'json' ? `(SELECT json_transform(features, ${literal(jsonSchema)}) AS j FROM read_parquet(${fileList}))` : `read_parquet(${fileList})`;
    const expr = (name: string) => (LAYOUT === 'json' ? `j.${ident(name)}` : ident(name));
    const query: WindowQuery = {
      from,
      features: Object.fromEntries(Object.entries(features).map(([name, b]) => [name, { expr: expr(name), baseline: b }])),
      prediction: { expr: expr('score'), baseline: baseline.prediction },
      scores: { expr: expr('score') },
      sample: { size: 10_000, seed: 1 },
    };

    const bareSql = `SELECT ${Object.entries(features).map(([name, b]) =>
      b.kind === 'numeric' ? `histogram(${expr(name)}, ${doubleList(numericPlan(b).boundaries)})` : `histogram(${expr(name)})`).join(', ')} FROM ${from}`;
    const bare = () => withConnection(async (c) => {
      const s = performance.now();
      await c.runAndReadAll(bareSql);
      return (performance.now() - s) / 1000;
    });
    const full = () => withConnection(async (c) => {
      const s = performance.now();
      const { aggregates, scores } = await readWindowAggregates(c, query);
      const a = performance.now();
      const drift = driftReport(baseline, aggregates);
      const quality = qualityReport(baseline, aggregates);
      const estimate = estimatePerformance({ histogram: scores!, windowPredictions: aggregates.rows });
      const e = performance.now();
      return { seconds: (e - s) / 1000, duckdbSeconds: (a - s) / 1000, statisticsSeconds: (e - a) / 1000, drift, quality, estimate };
    });

    await bare(); // warm the files and DuckDB
    await full();
    const bareRuns: number[] = [];
    const fullRuns: Array<Awaited<ReturnType<typeof full>>> = [];
    for (let r = 0; r < REPEATS; r++) {
      bareRuns.push(await bare());
      fullRuns.push(await full());
    }
    const best = fullRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const bareBest = Math.min(...bareRuns);
    const last = fullRuns[fullRuns.length - 1]!;

    console.log(JSON.stringify({
      bench: 'monitoring',
      layout: LAYOUT,
      rows: ROWS,
      features: FEATURES,
      files: FILES,
      cores: os.cpus().length,
      loadAverage: os.loadavg().map((x) => round(x, 1)),
      monitoring: {
        seconds: round(best.seconds),
        medianSeconds: round(median(fullRuns.map((f) => f.seconds))),
        duckdbSeconds: round(best.duckdbSeconds),
        statisticsSeconds: round(best.statisticsSeconds, 3),
        rowsPerSec: Math.round(ROWS / best.seconds),
      },
      bareDuckdb: { seconds: round(bareBest), medianSeconds: round(median(bareRuns)), rowsPerSec: Math.round(ROWS / bareBest) },
      ratio: round(best.seconds / bareBest),
      targets: { seconds: 2, ratio: 1.5 },
      result: {
        drifted: last.drift.features.filter((f) => f.status === 'drift').map((f) => f.feature),
        dataset: last.drift.dataset.status,
        methods: [...new Set(last.drift.features.map((f) => f.method))],
        maxNullRate: round(Math.max(...last.quality.features.map((f) => f.nullRate)), 4),
        estimatedAuc: round(last.estimate.metrics.auc ?? NaN, 4),
      },
      note: 'ratio = best monitoring time (DuckDB aggregates + sample + drift, quality and estimated performance in TypeScript) / best bare DuckDB histogram query over the same Parquet files, same run; the window is drawn from the baseline distribution, so nothing should drift',
    }, null, 2));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
