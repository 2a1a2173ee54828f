/**
 * A window whose labels arrived after it was computed: what a monitoring run does for each
 * window within the label horizon (30 days for churn) whenever a label segment lands. One window
 * of ROWS logged predictions (50,000 entities) and LABELS label records over the horizon after
 * it, a share of them for the window's entities; `computeWindow` (the full computation, what a
 * recompute ran before) against `relabelWindow` (what labels decide only: the predictions'
 * entity, time and score joined to the labels), and the bare floor in the same run: the one
 * ASOF join query that pairs each prediction with its label, materialized. Prints one JSON object.
 *
 *   node dist/bench/monitoring-labels.js      (ROWS, LABELS, FEATURES, REPEATS, THREADS)
 */
import os from 'node:os';
import path from 'node:path';
import { literal, withConnection } from '../shared/features/offline/duckdb';
import { withMonitoringConnection } from '../shared/monitoring/monitor-duckdb';
import { computeWindow, relabelWindow, type LabelInputs, type WindowInputs } from '../shared/monitoring/window-compute';
import type { WindowResult } from '../shared/monitoring/window-result';
import { benchWindow } from './lib/monitoring-data';
import { machine, median } from './lib/ab';
import { benchMain, round } from './lib/bench-main';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const LABELS = Number(process.env.LABELS ?? 500_000);
const FEATURES = Number(process.env.FEATURES ?? 20);
const REPEATS = Number(process.env.REPEATS ?? 5);
const THREADS = Number(process.env.THREADS ?? os.cpus().length);
const MODEL = 'bench';
const START = Date.parse('2026-01-05T12:00:00Z');
const HORIZON_MS = 30 * 86_400_000;
/** The window's entities (bench/lib/monitoring-data.ts: `e<id % 50000>`). */
const ENTITIES = 50_000;

/**
 * LABELS label records dated over the window and its horizon, in event-time order (as the store
 * writes a source's records): one in five is for one of the window's entities, the rest for
 * entities it never predicted; a third are positive.
 */
async function writeLabels(file: string): Promise<void> {
  await withConnection((c) =>
    c.run(
      `COPY (SELECT CASE WHEN i % 5 = 0 THEN 'e' || (hash(i) % ${ENTITIES}) ELSE 'other' || i END AS user_id,
         ${START} + (i * ${HORIZON_MS + 3_600_000}) // ${LABELS} AS event_ts,
         CAST(hash(i, 1) % 3 = 0 AS INTEGER) AS churned
       FROM range(${LABELS}) t(i) ORDER BY event_ts) TO ${literal(file)} (FORMAT parquet)`,
    ),
  );
}

benchMain('strata-bench-monitoring-labels-', async (tmp) => {
  const window = await withConnection((c) =>
    benchWindow(c, tmp, { rows: ROWS, features: FEATURES, model: MODEL, start: START }),
  );
  const labelFile = path.join(tmp, 'labels.parquet');
  await writeLabels(labelFile);
  const labels: LabelInputs = {
    files: [labelFile],
    entityField: 'user_id',
    labelField: 'churned',
    horizonMs: HORIZON_MS,
  };
  const inputs: WindowInputs & { labels: LabelInputs } = { ...window, labels };
  const timed = async <T>(f: () => Promise<T>): Promise<{ seconds: number; value: T }> => {
    const s = performance.now();
    const value = await f();
    return { seconds: (performance.now() - s) / 1000, value };
  };
  const full = () => withMonitoringConnection(THREADS, (c) => timed(() => computeWindow(c, inputs, Date.now())));
  const stored: WindowResult = (await full()).value;
  const relabel = () =>
    withMonitoringConnection(THREADS, (c) => timed(() => relabelWindow(c, inputs, stored, Date.now())));
  const files = inputs.predictionFiles.map(literal).join(', ');
  const bareSql = `SELECT p.score, l.y FROM
        (SELECT entityId AS entity, ts, predictionNumber AS score FROM read_parquet([${files}])
          WHERE model = ${literal(MODEL)} AND version = 1 AND ts >= ${inputs.start} AND ts < ${inputs.end} AND predictionNumber IS NOT NULL) p
        ASOF JOIN (SELECT user_id AS entity, event_ts AS lts, CAST(churned AS DOUBLE) AS y FROM read_parquet(${literal(labelFile)})
          WHERE churned IS NOT NULL AND event_ts >= ${inputs.start} AND event_ts < ${inputs.end + HORIZON_MS}) l
        ON p.entity = l.entity AND l.lts >= p.ts WHERE l.lts < p.ts + ${HORIZON_MS}`;
  const bare = () => withMonitoringConnection(THREADS, (c) => timed(async () => (await c.run(bareSql)).rowCount));
  const cases = { full, relabel, bare };
  const runs: Record<keyof typeof cases, number[]> = { full: [], relabel: [], bare: [] };
  let labelled = 0;
  let joined = 0;
  for (const f of Object.values(cases)) await f(); // warm the files and DuckDB
  for (let r = 0; r < REPEATS; r++)
    for (const [name, f] of Object.entries(cases)) {
      const { seconds, value } = await f();
      runs[name as keyof typeof cases].push(seconds);
      if (typeof value === 'number') joined = value;
      else labelled = value.performance?.find((p) => p.kind === 'realized')?.labelled ?? 0;
    }
  if (labelled !== joined) throw new Error(`relabelWindow labelled ${labelled} predictions, the bare join ${joined}`);
  const best = (name: keyof typeof cases) => Math.min(...runs[name]);
  const figure = (name: keyof typeof cases) => ({
    seconds: round(best(name)),
    medianSeconds: round(median(runs[name])),
  });
  return {
    bench: 'monitoring-labels',
    windowRows: stored.rows,
    labelRecords: LABELS,
    labelledPredictions: labelled,
    features: FEATURES,
    duckdbThreads: THREADS,
    ...machine(),
    full: figure('full'),
    relabel: figure('relabel'),
    bareJoin: figure('bare'),
    ratioRelabelToBare: round(best('relabel') / best('bare')),
    speedupOverFull: round(best('full') / best('relabel')),
    note: 'best of REPEATS; full = computeWindow with labels (every statistic of the window), relabel = relabelWindow (realized performance, label drift, label count), bareJoin = the one ASOF join of predictions to labels, its result materialized by DuckDB (not converted to JS values); same run, same files',
  };
});
