/**
 * The example churn model (examples/churn.onnx), trained the way the app's train job trains
 * `churn`, on the example week, with no host and no storage, so `npm run examples` rebuilds it
 * byte for byte anywhere:
 *
 *   generated records  -> validateRecords + FeaturePipeline   the views' rows, as ingest and backfills compute them
 *                      -> one local Parquet file per view       in the offline store's segment schema
 *   label records      -> spine (entity_id, ts, label)         what the job's label spine holds
 *   spine x views      -> pointInTimeJoin                      the job's training set: columns <view>__<feature>
 *   training set       -> timeSplit + runFit                   the `churn` training config (trainer, params, seed, holdout)
 *
 * Every record counts as received at its event time (created_ts = event_ts), as if the week had
 * streamed in live; the config's knownAt decides which rows count, exactly as in the job. What
 * differs from the job is only where rows live (local files instead of Blob segments and a
 * manifest): the computation is the app's own code.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { GeneratedRecord } from '../cli/generator';
import { featureRepo } from '../shared/definitions';
import { trainingConfigs } from '../shared/definitions/training';
import { FeaturePipeline } from '../shared/features/compute/pipeline';
import { validateRecords, type ValidRecord } from '../shared/features/ingest/validate';
import { DUCKDB_TYPE, ident, literal, withConnection } from '../shared/features/offline/duckdb';
import { segmentSelectList, stageRows } from '../shared/features/offline/segment-file';
import { pointInTimeJoin, type PitView } from '../shared/features/pit/join';
import { loadSpine } from '../shared/features/pit/spine';
import type { FeatureRow } from '../shared/features/definitions/values';
import { runFit, timeSplit, type FitOutcome, type Metrics, type TimeSplit } from '../shared/training';
import { trainedSignature } from '../shared/training/train-steps';
import type { TrainingConfig } from '../shared/training/config';

export const EXAMPLE_MODEL = 'churn';

export interface ExampleModel {
  config: TrainingConfig;
  /** The training set (Parquet, in `workDir`) split as the job splits it. */
  split: TimeSplit;
  outcome: FitOutcome;
  /** What the registry would record for it: the signature the train job's register step writes. */
  signature: ReturnType<typeof trainedSignature>;
}

/** The views' rows over the records, in DAG order: source runs fed in event-time order on one clock. */
function computeViews(records: readonly GeneratedRecord[], until: number): Map<string, FeatureRow[]> {
  const pipeline = new FeaturePipeline(featureRepo);
  const out = new Map<string, FeatureRow[]>();
  const take = (rows: Map<string, FeatureRow[]>) => {
    for (const [view, r] of rows) out.set(view, [...(out.get(view) ?? []), ...r]);
  };
  const events = records
    .filter((r): r is Exclude<GeneratedRecord, { source: 'labels' }> => r.source !== 'labels')
    .sort((a, b) => a.ts - b.ts);
  for (let i = 0; i < events.length;) {
    const source = events[i]!.source;
    let j = i;
    while (j < events.length && events[j]!.source === source) j++;
    const run = events.slice(i, j).map((r, k) => ({ record: r.record, position: i + k }));
    const { accepted, rejected } = validateRecords(featureRepo, source, run, { receivedAt: until });
    if (rejected.length) throw new Error(`example ${source} record rejected: ${rejected[0]!.reason}`);
    const onTime: ValidRecord[] = accepted.map((a) => ({ ...a, createdTs: a.eventTs }));
    const result = pipeline.ingest(source, onTime);
    if (result.late.length || result.problems.length)
      throw new Error(
        `example ${source} records were late or failed a transform: ${JSON.stringify(result.problems[0])}`,
      );
    take(result.rows);
    i = j;
  }
  take(pipeline.flush(until).rows);
  return out;
}

/** Each view's rows as one Parquet file in the segment schema; returns the file per view. */
async function writeViewFiles(
  c: DuckDBConnection,
  rows: Map<string, FeatureRow[]>,
  dir: string,
): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [view, r] of rows) {
    const columns = featureRepo.view(view).columns;
    const table = `rows_${view}`;
    await stageRows(c, table, columns, r);
    const file = path.join(dir, `${view}.parquet`);
    await c.run(
      `COPY (SELECT ${segmentSelectList(columns)} FROM ${ident(table)} ORDER BY entity_id, event_ts, created_ts) TO ${literal(file)} (FORMAT parquet)`,
    );
    files.set(view, file);
  }
  return files;
}

/**
 * Train the example model on `records` (the generator's output for the example week, labels
 * included; the events span [from, to)), at every label; scratch files go to `workDir`.
 */
export async function trainExampleModel(
  records: readonly GeneratedRecord[],
  window: { from: number; to: number },
  workDir: string,
): Promise<ExampleModel> {
  const config = trainingConfigs().get(EXAMPLE_MODEL);
  if (!config) throw new Error(`no training config for model "${EXAMPLE_MODEL}" (shared/definitions/training.ts)`);
  fs.mkdirSync(workDir, { recursive: true });
  const rows = computeViews(records, window.to);
  const setFile = path.join(workDir, 'training-set.parquet');
  await withConnection(async (c) => {
    const files = await writeViewFiles(c, rows, workDir);
    // Every label, as in examples/spine.csv (the last midnight is the span's end).
    const spineRows = records
      .filter((r): r is Extract<GeneratedRecord, { source: 'labels' }> => r.source === 'labels')
      .map((l) => ({ entityId: l.entityId, ts: l.ts, label: l.label }));
    const spine = await loadSpine(c, 'spine', { rows: spineRows });
    const byView = new Map<string, TrainingConfig['features']>();
    for (const f of config.features) byView.set(f.view, [...(byView.get(f.view) ?? []), f]);
    const views: PitView[] = [...byView].map(([view, features]) => {
      const def = featureRepo.view(view);
      const type = (name: string) => DUCKDB_TYPE[def.columns.find((col) => col.name === name)!.type];
      return {
        view,
        files: [files.get(view)!],
        features: features.map((f) => ({ name: f.feature, type: type(f.feature), as: f.column })),
        ...(def.ttlMs !== undefined ? { ttlMs: def.ttlMs } : {}),
      };
    });
    await pointInTimeJoin(
      c,
      { table: 'spine', hasLabel: true, minTs: spine.minTs, maxTs: spine.maxTs },
      views,
      config.knownAt === 'asOf' ? { knownAt: 'asOf', asOf: window.to } : { knownAt: 'row' },
      setFile,
    );
  });
  const split = await timeSplit(
    { kind: 'parquet', files: [setFile], features: config.features.map((f) => f.column), label: 'label' },
    { holdoutFraction: config.holdoutFraction, tieBreak: ['row_id'] },
  );
  const outcome = await runFit({
    trainer: config.trainer,
    params: config.params,
    task: config.task,
    seed: config.seed,
    threads: 1,
    train: split.train,
    holdout: split.holdout,
    baseline: false,
  });
  return { config, split, outcome, signature: trainedSignature(config, outcome) };
}

const headline = (m: Metrics) =>
  Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' || typeof v === 'string'));

/** examples/churn.json: how the model was made and how it did, beside the ONNX file. */
export function exampleModelCard(m: ExampleModel, window: { from: number; to: number }, sha256: string): unknown {
  const o = m.outcome;
  return {
    model: m.config.model,
    file: 'churn.onnx',
    sha256,
    madeBy: 'npm run examples (scripts/make-examples.ts, scripts/example-model.ts)',
    trainer: o.trainer,
    params: o.params,
    task: o.task,
    seed: o.seed,
    featureService: m.config.featureService,
    labels: m.config.labels,
    window: { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() },
    knownAt: m.config.knownAt,
    holdoutFraction: m.config.holdoutFraction,
    rows: o.rows,
    // The scalar metrics (the calibration tables are in the run a train job records).
    metrics: { train: headline(o.metrics.train), holdout: o.metrics.holdout && headline(o.metrics.holdout) },
    signature: m.signature,
  };
}
