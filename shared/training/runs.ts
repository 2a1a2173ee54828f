/**
 * Runs (experiment tracking, MLflow's words): every training job records one run, written as
 * the job goes (each step's executions and timings, the fit's live progress), and finished
 * with params, final and per-iteration metrics, the data window, training set, definition
 * versions, artifacts, duration and CPU seconds, and the gate's decision and why.
 *
 * The store is a small contract (RunStore) so the job and the API never know it is a Table
 * (shared/azure/run-table.ts); the rules that do not need storage (status names, comparison) are here.
 * A run's id is its job's instance id.
 */
import type { LossCurves } from './trainer';
import type { Metrics } from './metrics';
import type { LabelWindow } from './label-spine';

export const JOB_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The train job's steps, in order: the names activities, runs and the status use. */
export const TRAIN_STEPS = [
  'training-set',
  'split',
  'fit',
  'evaluate',
  'evaluate-production',
  'baseline',
  'register',
  'gate',
] as const;
export type TrainStep = (typeof TRAIN_STEPS)[number];

export interface StepRecord {
  /** Times the step's activity started (more than 1: retried, or re-run after a crash). */
  executions: number;
  startedAt: number;
  finishedAt?: number;
  durationMs?: number;
  /** CPU seconds of the process while the step ran (the fit: its own threads). */
  cpuSeconds?: number;
  error?: string;
}

export interface RunProgress {
  phase: string;
  done?: number;
  total?: number;
  unit?: string;
  trainLoss?: number;
  validationLoss?: number;
}

export interface GateDecision {
  policy: 'register' | 'canary' | 'promote';
  /** What was done: staged (registered only), canary (share set), promoted, refused (registered, not deployed). */
  action: 'staged' | 'canary' | 'promoted' | 'refused';
  metric: string;
  margin: number;
  candidate: number | null;
  production: number | null;
  productionVersion: number | null;
  reason: string;
}

export interface TrainingRun {
  id: string;
  model: string;
  status: JobStatus;
  /** Why it ran: http, schedule, alert:<rule>, ... */
  reason: string;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  step?: TrainStep;
  steps: Partial<Record<TrainStep, StepRecord>>;
  progress?: RunProgress;
  params: {
    trainer: string;
    params: unknown;
    task: string;
    seed: number;
    holdoutFraction: number;
    featureService: string;
    labels: unknown;
    knownAt: string;
    gate: unknown;
    tags: string[];
  };
  window: { from: number; to: number };
  data?: LabelWindow;
  definitionVersions: Record<string, string>;
  codeVersion: string;
  /** What the plan-before-run check compares: the trainer config and definitions, and the label data (without the window's bounds). */
  plan?: { config: string; data: string };
  trainingSet?: { id: string; rows: number; blobPath: string; labelSum: number };
  split?: { cutoff: number; trainRows: number; holdoutRows: number };
  metrics?: {
    train?: Metrics;
    validation?: Metrics | null;
    /** The trainer's own predictions on the holdout. */
    holdout?: Metrics | null;
    /** The registered ONNX file, scored by onnxruntime on the holdout: what the gate compares. */
    candidate?: Metrics;
    /** The production version on the same holdout (null: none, or it reads other features). */
    production?: Metrics | null;
  };
  curves?: LossCurves;
  summary?: Record<string, unknown>;
  artifacts?: { model?: string; sha256?: string; baseline?: string };
  version?: number;
  durationMs?: number;
  /** CPU seconds of the whole job: the fit's own threads plus the other steps' process time. */
  cpuSeconds?: number;
  /** CPU seconds of the fit's threads (Linux; the worker and its helper threads, not serving). */
  fitCpuSeconds?: number;
  gate?: GateDecision;
  error?: { step: string; message: string };
}

/** When a model's training was last started automatically (cooldown), and on what data (plan before run). */
export interface TriggerState {
  model: string;
  lastStartAt: number;
  lastRunId: string;
  reason: string;
}

export interface RunQuery {
  model?: string;
  status?: JobStatus;
  limit?: number;
}

export interface RunStore {
  /** Create the run unless one with this id exists; returns the stored run. */
  create(run: TrainingRun): Promise<{ run: TrainingRun; created: boolean }>;
  get(id: string): Promise<TrainingRun | undefined>;
  /** Read-modify-write under optimistic concurrency (retried on a conflict). */
  update(id: string, change: (run: TrainingRun) => TrainingRun): Promise<TrainingRun>;
  list(q?: RunQuery): Promise<TrainingRun[]>;
  getTrigger(model: string): Promise<TriggerState | undefined>;
  setTrigger(t: TriggerState): Promise<void>;
}

export interface RunComparison {
  ids: string[];
  params: Array<{ name: string; values: unknown[]; differs: boolean }>;
  metrics: Array<{ name: string; values: Array<number | null>; differs: boolean; best: number | null }>;
  gate: Array<GateDecision | null>;
  window: Array<{ from: number; to: number }>;
  trainingSets: Array<string | null>;
}

/** Leaves of a JSON value as dotted paths (arrays kept whole). */
function flatten(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, v);
}

const LOWER_IS_BETTER = /(logLoss|brier|rmse|mae)$/;

/** Params and scalar metrics of runs side by side: each row says whether the runs differ, metrics which run is best. */
export function compareRuns(runs: readonly TrainingRun[]): RunComparison {
  const flat = (pick: (r: TrainingRun) => unknown) =>
    runs.map((r) => {
      const m = new Map<string, unknown>();
      flatten(pick(r), '', m);
      return m;
    });
  const names = (maps: Array<Map<string, unknown>>) => [...new Set(maps.flatMap((m) => [...m.keys()]))].sort();
  const p = flat((r) => r.params);
  const params = names(p).map((name) => {
    const values = p.map((m) => (m.has(name) ? m.get(name) : null));
    return { name, values, differs: new Set(values.map((v) => JSON.stringify(v))).size > 1 };
  });
  const mm = flat((r) => {
    const { train, validation, holdout, candidate, production } = r.metrics ?? {};
    const scalar = (x: unknown) =>
      x && typeof x === 'object'
        ? Object.fromEntries(Object.entries(x).filter(([, v]) => typeof v === 'number'))
        : undefined;
    return {
      train: scalar(train),
      validation: scalar(validation),
      holdout: scalar(holdout),
      candidate: scalar(candidate),
      production: scalar(production),
      durationMs: r.durationMs,
      cpuSeconds: r.cpuSeconds,
    };
  });
  const metrics = names(mm)
    .filter((n) => mm.some((m) => typeof m.get(n) === 'number'))
    .map((name) => {
      const values = mm.map((m) => (typeof m.get(name) === 'number' ? (m.get(name) as number) : null));
      const present = values.filter((v): v is number => v !== null);
      const lower = LOWER_IS_BETTER.test(name) || /durationMs|cpuSeconds/.test(name);
      const bestValue = present.length ? (lower ? Math.min(...present) : Math.max(...present)) : null;
      return {
        name,
        values,
        differs: new Set(values).size > 1,
        best: bestValue === null || present.length < 2 ? null : values.indexOf(bestValue),
      };
    });
  return {
    ids: runs.map((r) => r.id),
    params,
    metrics,
    gate: runs.map((r) => r.gate ?? null),
    window: runs.map((r) => r.window),
    trainingSets: runs.map((r) => r.trainingSet?.id ?? null),
  };
}
