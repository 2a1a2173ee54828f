/**
 * The train job's activities: thin wrappers over shared/training/train-steps.ts on this
 * process's training services (shared/training/deps.ts). Each step runs through runStep, which
 * counts its executions in the run and answers the caller's own mistakes as a result.
 *   train-start                 startRun: the run, RUNNING
 *   train-<step>                one step (TRAIN_STEPS) -> StepResult of its reference/numbers
 *   train-finish                finishRun: COMPLETED with totals, or FAILED with the step and reason
 */
import * as df from 'durable-functions';
import { featureRepo } from '../shared/definitions';
import { trainingConfigSpec } from '../shared/definitions/training';
import { trainDeps } from '../shared/training/deps';
import { parseTrainJob, type TrainJob } from '../shared/training/train-job';
import type { Metrics } from '../shared/training/metrics';
import type { TrainStep, TrainingRun } from '../shared/training/runs';
import {
  baselineStep,
  buildTrainingSetStep,
  evaluateProductionStep,
  evaluateStep,
  finishRun,
  fitStep,
  gateStep,
  registerStep,
  runStep,
  splitStep,
  startRun,
  type FitRef,
  type ProductionEval,
  type SplitRef,
  type StepResult,
  type TrainDeps,
  type TrainingSetRef,
} from '../shared/training/train-steps';
import { TRAIN_ACTIVITY } from './train';

interface StepInput {
  jobId: string;
  input: unknown;
  results: Partial<Record<TrainStep, unknown>>;
}

interface Results {
  'training-set': TrainingSetRef;
  split: SplitRef;
  fit: FitRef;
  evaluate: Metrics;
  'evaluate-production': ProductionEval;
  baseline: string;
  register: number;
}

type Work = (deps: TrainDeps, jobId: string, job: TrainJob, r: Results) => Promise<StepResult<unknown>>;

const STEPS: Record<TrainStep, Work> = {
  'training-set': (d, id, job) =>
    runStep(
      d,
      id,
      'training-set',
      () => buildTrainingSetStep(d, id, job),
      (run, v) => ({ ...run, trainingSet: v }),
    ),
  split: (d, id, job, r) =>
    runStep(
      d,
      id,
      'split',
      () => splitStep(d, job, r['training-set']),
      (run, v) => ({ ...run, split: v }),
    ),
  fit: async (d, id, job, r) => {
    const res = await runStep(
      d,
      id,
      'fit',
      () => fitStep(d, id, job, r['training-set'], r.split),
      (run, v) => v.record(run),
    );
    return res.ok ? { ok: true, value: res.value.ref } : res;
  },
  evaluate: (d, id, job, r) =>
    runStep(
      d,
      id,
      'evaluate',
      () => evaluateStep(d, job, r['training-set'], r.fit),
      (run, v) => ({ ...run, metrics: { ...run.metrics, candidate: v } }),
    ),
  'evaluate-production': (d, id, job, r) =>
    runStep(
      d,
      id,
      'evaluate-production',
      () => evaluateProductionStep(d, job, r['training-set']),
      (run, v) => ({ ...run, metrics: { ...run.metrics, production: v.metrics } }),
    ),
  baseline: (d, id, job, r) =>
    runStep(
      d,
      id,
      'baseline',
      () => baselineStep(d, id, job, r['training-set'], r.fit),
      (run, v) => ({ ...run, artifacts: { ...run.artifacts, baseline: v } }),
    ),
  register: (d, id, job, r) =>
    runStep(
      d,
      id,
      'register',
      () => registerStep(d, id, job, r['training-set'], r.fit, r.baseline, r.evaluate),
      (run, v) => ({ ...run, version: v }),
    ),
  gate: (d, id, job, r) =>
    runStep(
      d,
      id,
      'gate',
      () => gateStep(d, job, r.register, r.evaluate, r['evaluate-production']),
      (run: TrainingRun, v) => ({ ...run, gate: v }),
    ),
};

df.app.activity(TRAIN_ACTIVITY.start, {
  handler: async (a: { jobId: string; input: unknown }): Promise<string> => {
    await startRun(await trainDeps(), a.jobId, parseTrainJob(featureRepo, trainingConfigSpec, a.input));
    return a.jobId;
  },
});

for (const [step, work] of Object.entries(STEPS) as Array<[TrainStep, Work]>) {
  df.app.activity(TRAIN_ACTIVITY.step(step), {
    handler: async (a: StepInput): Promise<StepResult<unknown>> =>
      work(await trainDeps(), a.jobId, parseTrainJob(featureRepo, trainingConfigSpec, a.input), a.results as Results),
  });
}

df.app.activity(TRAIN_ACTIVITY.finish, {
  handler: async (a: {
    jobId: string;
    outcome: { ok: true } | { ok: false; step: string; message: string };
  }): Promise<string> => {
    const run = await finishRun(await trainDeps(), a.jobId, a.outcome);
    return run.status;
  },
});
