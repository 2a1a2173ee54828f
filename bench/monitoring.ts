/**
 * One monitoring window the way the timer computes it: 1M logged predictions × 20 features
 * (18 numeric, 2 categorical codes) in 4 prediction-log segments written by the offline
 * store's segment writer (a typed column per feature, the view's age and the prediction), through
 * `computeWindow` on monitoring's own thread-limited DuckDB instance (monitor.ts calls exactly
 * this): aggregates, sample, defaulted shares, freshness, the output contract, drift, quality
 * and the performance estimate. Against the bare floor measured in the same run on the same
 * instance: one DuckDB query computing only the same histograms drift reads, each feature's and
 * the prediction's (the baseline's boundaries per numeric column, a plain histogram per
 * categorical one), from their stored columns in the same files.
 * Prints one JSON object.
 *
 *   node dist/bench/monitoring.js      (ROWS, FEATURES, REPEATS; THREADS: monitoring's
 *                                       DuckDB threads, default the cores; PROFILE=1 adds
 *                                       each query's time)
 *
 * Targets (issue 14): under 2 s on 2 cores, at most 1.5× the bare query. Predict p99 while a
 * window runs: bench/monitoring-serving.ts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import os from 'node:os';
import { ident, literal, withConnection } from '../shared/features/offline/duckdb';
import type { ColumnBaseline } from '../shared/training/baseline';
import { mapColumn } from '../shared/features/ingest/number-maps';
import { withMonitoringConnection } from '../shared/monitoring/monitor-duckdb';
import { computeWindow } from '../shared/monitoring/window-compute';
import { doubleList, numericPlan } from '../shared/monitoring/window-query';
import { benchWindow } from './lib/monitoring-data';
import { machine, median } from './lib/ab';
import { benchMain, round } from './lib/bench-main';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const FEATURES = Number(process.env.FEATURES ?? 20);
const REPEATS = Number(process.env.REPEATS ?? 3);
const THREADS = Number(process.env.THREADS ?? os.cpus().length);
const PROFILE = process.env.PROFILE === '1';
const FILES = 4;
const MODEL = 'bench';
const START = Date.UTC(2026, 0, 5, 10);

benchMain('strata-bench-monitoring-', async (tmp) => {
  const inputs = await withConnection((c) =>
    benchWindow(c, tmp, { rows: ROWS, features: FEATURES, files: FILES, model: MODEL, start: START }),
  );
  const { baseline, predictionFiles: files } = inputs;
  // The histograms drift needs, each feature's and the prediction's, from their stored columns.
  const histogram = (column: string, b: ColumnBaseline) =>
    b.categorical
      ? `histogram(${ident(column)})`
      : `histogram(${ident(column)}, ${doubleList(numericPlan(b).boundaries)})`;
  const bareSql = `SELECT ${[
    ...baseline.features.map((b) => histogram(mapColumn('features', b.name), b)),
    histogram('predictionNumber', baseline.prediction),
  ].join(', ')} FROM read_parquet([${files.map(literal).join(', ')}])`;
  const bare = () =>
    withMonitoringConnection(THREADS, async (c) => {
      const s = performance.now();
      const cpu = process.cpuUsage();
      await c.runAndReadAll(bareSql);
      return { seconds: (performance.now() - s) / 1000, cpuSeconds: cpuSince(cpu) };
    });
  const queries: Array<{ sql: string; seconds: number }> = [];
  const full = () =>
    withMonitoringConnection(THREADS, async (c) => {
      queries.length = 0;
      const s = performance.now();
      const cpu = process.cpuUsage();
      const result = await computeWindow(PROFILE ? timed(c, queries) : c, inputs, Date.now());
      return { seconds: (performance.now() - s) / 1000, cpuSeconds: cpuSince(cpu), result };
    });

  await bare(); // warm the files and DuckDB
  await full();
  const bareRuns: Array<Awaited<ReturnType<typeof bare>>> = [];
  const fullRuns: Array<Awaited<ReturnType<typeof full>>> = [];
  for (let r = 0; r < REPEATS; r++) {
    bareRuns.push(await bare());
    fullRuns.push(await full());
  }
  const best = Math.min(...fullRuns.map((f) => f.seconds));
  const bareBest = Math.min(...bareRuns.map((b) => b.seconds));
  const cpuBest = Math.min(...fullRuns.map((f) => f.cpuSeconds));
  const bareCpuBest = Math.min(...bareRuns.map((b) => b.cpuSeconds));
  const last = fullRuns[fullRuns.length - 1]!.result;
  const estimate = last.performance?.find((p) => p.kind === 'estimated');

  return {
    bench: 'monitoring',
    rows: ROWS,
    features: FEATURES,
    files: FILES,
    duckdbThreads: THREADS,
    ...machine(),
    monitoring: {
      seconds: round(best),
      medianSeconds: round(median(fullRuns.map((f) => f.seconds))),
      cpuSeconds: round(cpuBest),
      rowsPerSec: Math.round(ROWS / best),
    },
    bareDuckdb: {
      seconds: round(bareBest),
      medianSeconds: round(median(bareRuns.map((b) => b.seconds))),
      cpuSeconds: round(bareCpuBest),
      rowsPerSec: Math.round(ROWS / bareBest),
    },
    ratio: round(best / bareBest),
    cpuRatio: round(cpuBest / bareCpuBest),
    targets: { seconds: 2, ratio: 1.5 },
    result: {
      rows: last.rows,
      drifted: last.drift?.features.filter((f) => f.status === 'drift').map((f) => f.feature),
      dataset: last.drift?.dataset.status,
      methods: [...new Set(last.drift?.features.map((f) => f.method))],
      maxNullRate: round(Math.max(...(last.quality?.features.map((f) => f.nullRate) ?? [])), 4),
      defaultedShare: last.quality?.defaultedShare,
      freshnessFeatures: Object.keys(last.quality?.freshness ?? {}).length,
      contractChecked: last.contracts?.probability?.checked,
      estimatedAuc: estimate && round(estimate.metrics.auc ?? NaN, 4),
    },
    ...(PROFILE ? { queries: queries.map((q) => ({ seconds: round(q.seconds), sql: q.sql.slice(0, 160) })) } : {}),
    note: 'cpuRatio = the same with the CPU time of this process (DuckDB runs in it), which a machine busy with other work disturbs less than the wall time; ratio = best computeWindow time (every DuckDB query of the window + drift, quality, contracts and estimated performance in TypeScript) / best bare DuckDB query of the same histograms (every feature and the prediction) over the same Parquet files, same run and DuckDB instance; the window is drawn from the baseline distribution, so nothing should drift',
  };
});

/** The connection with each run and runAndReadAll timed into `out` (PROFILE=1: where a window's time goes). */
function timed(c: DuckDBConnection, out: Array<{ sql: string; seconds: number }>): DuckDBConnection {
  return new Proxy(c, {
    get(target, prop, receiver) {
      if (prop !== 'runAndReadAll' && prop !== 'run') return Reflect.get(target, prop, receiver) as unknown;
      return async (sql: string) => {
        const s = performance.now();
        const r = await (prop === 'run' ? target.run(sql) : target.runAndReadAll(sql));
        out.push({ sql, seconds: (performance.now() - s) / 1000 });
        return r;
      };
    },
  });
}

/** CPU seconds (user + system, every thread of this process) since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}
