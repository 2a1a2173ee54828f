/**
 * One fit, start to finish, as a pure function of its job: load the training rows the way
 * the trainer wants them, fit, score the holdout with the trainer's own predictions,
 * evaluate train / validation / holdout, and compute the monitoring baseline. The fit
 * worker runs this (worker.ts); it can also run in-process (tests, tiny sets).
 *
 * A FitJob is plain data (structured-clonable): a trainer name and params, the task, the
 * seed, and references to the rows (Parquet files, or typed arrays for small inline sets).
 * A FitOutcome is plain data too: the ONNX bytes, metrics, curves, the holdout predictions
 * and the baseline, everything the job's later steps (register, gate) need.
 */
import { performance } from 'node:perf_hooks';
import { ValidationError } from '../errors';
import { computeBaseline, type Baseline, type BaselineOptions } from './baseline';
import { binDense, loadBinned, type BinnedData } from './bins';
import {
  checkLabels,
  denseData,
  denseSource,
  loadDense,
  TASKS,
  type DataSource,
  type DenseData,
  type Task,
} from './data';
import { evaluate, type Metrics } from './metrics';
import { parquetSource, type ParquetRef } from './parquet';
import { Random } from './random';
import type { FitProgress, LossCurves, ModelOutput } from './trainer';
import { getTrainer, loadTrainerModule } from './trainers';
import { threadCpuMs } from './thread-cpu';

/** Rows given inline (tests, small sets): row-major float32 features, float64 labels. */
export interface InlineRef {
  kind: 'inline';
  features: string[];
  x: Float32Array;
  y: Float64Array;
}

export type DataRef = ParquetRef | InlineRef;

export interface FitJob {
  trainer: string;
  params?: unknown;
  task: Task;
  /** Default 0. */
  seed?: number;
  /** Threads the trainer may use (default 1). */
  threads?: number;
  train: DataRef;
  /** Rows never seen in training, to evaluate on (e.g. the newest share of a time split). */
  holdout?: DataRef;
  /** Baseline statistics options; false = skip. Default: computed with default options. */
  baseline?: BaselineOptions | false;
  /** Modules with users' trainers to load first (see trainers.ts). */
  trainerModules?: string[];
}

export type FitPhase = 'loading' | 'fitting' | 'evaluating' | 'baseline';

export interface JobProgress extends Partial<FitProgress> {
  phase: FitPhase;
}

export interface FitOutcome {
  trainer: string;
  task: Task;
  seed: number;
  threads: number;
  /** The params as the trainer resolved them (defaults filled): what the run records. */
  params: unknown;
  featureNames: string[];
  onnx: Uint8Array;
  inputName: string;
  output: ModelOutput;
  rows: { train: number; validation: number; holdout: number };
  metrics: { train: Metrics; validation: Metrics | null; holdout: Metrics | null };
  curves: LossCurves;
  summary: Record<string, unknown>;
  /** The trainer's predictions for the holdout rows, in order (null without a holdout). */
  holdoutPredictions: Float64Array | null;
  baseline: Baseline | null;
  timings: { loadMs: number; fitMs: number; evaluateMs: number; baselineMs: number; totalMs: number };
  /** CPU time of the whole fit (its thread and the trainer's helper threads), ms; null where the platform cannot tell. */
  cpuMs: number | null;
  /** Bytes of training rows held in memory during the fit (bins or floats, and labels). */
  dataBytes: number;
}

export function sourceOf(ref: DataRef): DataSource {
  if (ref.kind === 'parquet') return parquetSource(ref);
  return denseSource(denseData(ref.features, ref.x, ref.y));
}

function checkJob(job: FitJob): void {
  if (!TASKS.includes(job.task))
    throw new ValidationError('unknown task', [
      { where: 'task', problem: `must be one of ${TASKS.join(', ')}, got ${String(job.task)}` },
    ]);
  const problems = [];
  if (job.seed !== undefined && !Number.isInteger(job.seed))
    problems.push({ where: 'seed', problem: `must be a whole number, got ${job.seed}` });
  if (job.threads !== undefined && !(Number.isInteger(job.threads) && job.threads >= 1))
    problems.push({ where: 'threads', problem: `must be a whole number >= 1, got ${job.threads}` });
  if (job.holdout && job.holdout.features.join('\u0000') !== job.train.features.join('\u0000')) {
    problems.push({ where: 'holdout.features', problem: 'must list the same features as train, in the same order' });
  }
  if (problems.length) throw new ValidationError('invalid fit job', problems);
}

export async function runFit(
  job: FitJob,
  onProgress: (p: JobProgress) => void = () => {},
  signal?: AbortSignal,
): Promise<FitOutcome> {
  checkJob(job);
  for (const m of job.trainerModules ?? []) loadTrainerModule(m);
  const trainer = getTrainer(job.trainer);
  if (!trainer.tasks.includes(job.task)) {
    throw new ValidationError(`trainer "${trainer.name}" does not do ${job.task}`, [
      { where: 'task', problem: `${trainer.name} supports ${trainer.tasks.join(', ')}` },
    ]);
  }
  const params = trainer.parseParams(job.params);
  const seed = job.seed ?? 0;
  const threads = job.threads ?? 1;
  const t0 = performance.now();
  const cpu0 = threadCpuMs();
  let helperCpuMs = 0;

  onProgress({ phase: 'loading' });
  const layout = trainer.layout(params);
  let rows: DenseData | BinnedData;
  if (job.train.kind === 'inline') {
    const dense = denseData(job.train.features, job.train.x, job.train.y);
    rows =
      layout.kind === 'dense'
        ? dense
        : binDense(dense, { maxBins: layout.maxBins, sampleRows: layout.sampleRows, seed });
  } else {
    const source = parquetSource(job.train);
    rows =
      layout.kind === 'dense'
        ? await loadDense(source)
        : await loadBinned(source, { maxBins: layout.maxBins, sampleRows: layout.sampleRows, seed });
  }
  checkLabels(job.task, rows.y, 0, job.train.kind === 'parquet' ? job.train.label : 'label');
  const dataBytes = (rows.kind === 'dense' ? rows.x.byteLength : rows.bins.byteLength) + rows.y.byteLength;
  const t1 = performance.now();

  const root = new Random(seed);
  const fitted = await trainer.fit(rows, params, {
    task: job.task,
    seed,
    random: (label) => root.fork(label),
    progress: (p) => onProgress({ phase: 'fitting', ...p }),
    threads,
    signal,
    helperCpu: (ms) => (helperCpuMs += ms),
  });
  const t2 = performance.now();

  onProgress({ phase: 'evaluating' });
  const n = rows.nRows;
  const nFit = n - fitted.validationRows;
  const y = rows.y;
  const trainMetrics = evaluate(job.task, y.subarray(0, nFit), fitted.trainPredictions.subarray(0, nFit));
  const validationMetrics = fitted.validationRows
    ? evaluate(job.task, y.subarray(nFit), fitted.trainPredictions.subarray(nFit))
    : null;
  let holdoutPredictions: Float64Array | null = null;
  let holdoutMetrics: Metrics | null = null;
  if (job.holdout) {
    const source = sourceOf(job.holdout);
    const m = await source.rowCount();
    holdoutPredictions = new Float64Array(m);
    const hy = new Float64Array(m);
    let at = 0;
    for await (const c of source.chunks()) {
      checkLabels(job.task, c.y, at, job.holdout.kind === 'parquet' ? job.holdout.label : 'label');
      holdoutPredictions.set(fitted.predict(c.x, c.nRows), at);
      hy.set(c.y, at);
      at += c.nRows;
    }
    if (m) holdoutMetrics = evaluate(job.task, hy, holdoutPredictions);
  }
  const t3 = performance.now();

  let baseline: Baseline | null = null;
  if (job.baseline !== false) {
    onProgress({ phase: 'baseline' });
    // A binary label is two categories: monitoring compares its drift by their frequencies.
    const categorical = [...(job.task === 'binary' ? ['label'] : []), ...(job.baseline?.categorical ?? [])];
    baseline = await computeBaseline(sourceOf(job.train), fitted.trainPredictions, {
      seed,
      ...(job.baseline ?? {}),
      categorical,
    });
  }
  const t4 = performance.now();
  const cpu1 = threadCpuMs();
  return {
    trainer: trainer.name,
    task: job.task,
    seed,
    threads,
    params,
    featureNames: [...rows.featureNames],
    onnx: fitted.onnx,
    inputName: fitted.inputName,
    output: fitted.output,
    rows: { train: nFit, validation: fitted.validationRows, holdout: holdoutPredictions?.length ?? 0 },
    metrics: { train: trainMetrics, validation: validationMetrics, holdout: holdoutMetrics },
    curves: fitted.curves,
    summary: fitted.summary,
    holdoutPredictions,
    baseline,
    timings: { loadMs: t1 - t0, fitMs: t2 - t1, evaluateMs: t3 - t2, baselineMs: t4 - t3, totalMs: t4 - t0 },
    cpuMs: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 + helperCpuMs : null,
    dataBytes,
  };
}
