/**
 * One monitoring window read out of a compacted day of the prediction log: what a recompute
 * (late data) or a backlog (windows deferred, a host down) reads once the hourly maintenance has
 * merged the day's segments. HOURS windows of ROWS predictions each are written as segments and
 * merged by the offline store's own compaction step (mergeFiles) into one day file, twice: in
 * the order the store writes a source's records (by event time) and in the order every segment
 * had before (by entity, still a feature view's). `computeWindow` of one hour over each, against
 * the same window over its own segments only (the floor: nothing else in the files) in the same
 * run. Prints one JSON object.
 *
 *   node dist/bench/monitoring-compacted-day.js      (HOURS, ROWS per hour, FEATURES, REPEATS, THREADS)
 */
import os from 'node:os';
import path from 'node:path';
import { withConnection } from '../shared/features/offline/duckdb';
import { mergeFiles, segmentOrder } from '../shared/features/offline/segment-file';
import { sourceSegmentView } from '../shared/features/offline/segment-id';
import { withMonitoringConnection } from '../shared/monitoring/monitor-duckdb';
import { computeWindow, type WindowInputs } from '../shared/monitoring/window-compute';
import { benchWindow, benchWindowColumns, writePredictionSegments } from './lib/monitoring-data';
import { machine, median } from './lib/ab';
import { benchMain, round } from './lib/bench-main';

const HOURS = Number(process.env.HOURS ?? 24);
const ROWS = Number(process.env.ROWS ?? 250_000);
const FEATURES = Number(process.env.FEATURES ?? 20);
const REPEATS = Number(process.env.REPEATS ?? 3);
const THREADS = Number(process.env.THREADS ?? os.cpus().length);
const MODEL = 'bench';
const DAY = '2026-01-05';
const DAY_START = Date.parse(`${DAY}T00:00:00Z`);
/** The window measured: mid-day, so neither order has it at an edge of the file. */
const HOUR = Math.floor(HOURS / 2);
/** Any feature view's name: merged in a view's order (by entity), as every segment was before. */
const ENTITY_ORDERED_VIEW = 'predictions_by_entity';

benchMain('strata-bench-compacted-day-', async (tmp) => {
  const { inputs, byTime, byEntity } = await withConnection(async (c) => {
    const start = DAY_START + HOUR * 3_600_000;
    const inputs = await benchWindow(c, tmp, { rows: ROWS, features: FEATURES, files: 1, model: MODEL, start });
    const day = [...inputs.predictionFiles];
    for (let h = 0; h < HOURS; h++) {
      if (h === HOUR) continue;
      day.push(
        ...(await writePredictionSegments(c, path.join(tmp, `hour-${h}`), {
          rows: ROWS,
          files: 1,
          seed: 100 + h,
          columns: benchWindowColumns(FEATURES),
          model: MODEL,
          start: DAY_START + h * 3_600_000,
        })),
      );
    }
    const merged = (view: string) => mergeFiles(c, view, DAY, day, path.join(tmp, view, `${DAY}.parquet`));
    return {
      inputs,
      byTime: await merged(sourceSegmentView('predictions')),
      byEntity: await merged(ENTITY_ORDERED_VIEW),
    };
  });
  const window = (files: string[]): Promise<{ seconds: number; rows: number }> =>
    withMonitoringConnection(THREADS, async (c) => {
      const s = performance.now();
      const result = await computeWindow(c, { ...inputs, predictionFiles: files } satisfies WindowInputs, Date.now());
      return { seconds: (performance.now() - s) / 1000, rows: result.rows };
    });
  const cases = { ownSegments: inputs.predictionFiles, dayByTime: [byTime.file], dayByEntity: [byEntity.file] };
  const runs: Record<keyof typeof cases, Array<{ seconds: number; rows: number }>> = {
    ownSegments: [],
    dayByTime: [],
    dayByEntity: [],
  };
  for (const files of Object.values(cases)) await window(files); // warm the files and DuckDB
  for (let r = 0; r < REPEATS; r++)
    for (const [name, files] of Object.entries(cases)) runs[name as keyof typeof cases].push(await window(files));
  const best = (name: keyof typeof cases) => Math.min(...runs[name].map((x) => x.seconds));
  const figure = (name: keyof typeof cases) => ({
    seconds: round(best(name)),
    medianSeconds: round(median(runs[name].map((x) => x.seconds))),
    windowRows: runs[name][0]!.rows,
  });
  return {
    bench: 'monitoring-compacted-day',
    hours: HOURS,
    rowsPerHour: ROWS,
    dayRows: HOURS * ROWS,
    features: FEATURES,
    duckdbThreads: THREADS,
    ...machine(),
    ownSegments: figure('ownSegments'),
    dayByTime: {
      ...figure('dayByTime'),
      order: segmentOrder(sourceSegmentView('predictions')),
      fileMB: round(byTime.sizeBytes / 1e6, 1),
    },
    dayByEntity: {
      ...figure('dayByEntity'),
      order: segmentOrder(ENTITY_ORDERED_VIEW),
      fileMB: round(byEntity.sizeBytes / 1e6, 1),
    },
    ratioByTime: round(best('dayByTime') / best('ownSegments')),
    ratioByEntity: round(best('dayByEntity') / best('ownSegments')),
    speedup: round(best('dayByEntity') / best('dayByTime')),
    note: 'ratioBy* = best computeWindow time of one hour read out of the compacted day file / the same window over its own segments (same run, same DuckDB instance); speedup = by entity / by time. Row groups of a time-ordered file each hold a stretch of time, so the window filter skips the other hours by their statistics',
  };
});
