/**
 * The train orchestration: one activity per step, in order (shared/training/train-steps.ts says
 * what each does), each result a reference or a few numbers, so the history never carries rows
 * or model bytes. It only schedules; train-activities.ts does the work.
 *
 *   input: TrainJobInput (the POST /api/jobs/train body with its window as exact times), checked
 *          here by the route's own rules (parseTrainJob): an instance started on the Durable API
 *          with a bad input fails at once, naming the field; instance id: trainInstanceId(job)
 *   custom status: { jobId, model, step, stepIndex, steps } (live fit progress is in the run:
 *          GET /api/jobs/{id} merges both)
 *   output: { run, version, gate } on success
 *
 * A step that throws is retried with backoff (transient storage trouble, a dead worker); a step
 * that answers the caller's own mistake (no labels in the window, bad params: 4xx) fails the job
 * at once. Either way the run is marked FAILED with the step and the reason, and the job fails
 * with "step <name> failed: <reason>". After a host crash the instance resumes from its
 * history: finished steps are not run again; the one in flight is (steps are idempotent).
 */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { featureRepo } from '../shared/definitions';
import { trainingConfigSpec } from '../shared/definitions/training';
import { parseTrainJob } from '../shared/training/train-job';
import { TRAIN_STEPS, type TrainStep } from '../shared/training/runs';
import type { StepResult } from '../shared/training/train-steps';

export const TRAIN_ORCHESTRATION = 'train';
/** Activity names: `train-<step>`, plus the run's start and finish. */
export const TRAIN_ACTIVITY = Object.freeze({
  start: 'train-start',
  finish: 'train-finish',
  step: (s: TrainStep) => `train-${s}`,
});

function retry(): df.RetryOptions {
  const r = new df.RetryOptions(2_000, 3);
  r.backoffCoefficient = 2;
  r.maxRetryIntervalInMilliseconds = 30_000;
  return r;
}

class StepFailed extends Error {
  constructor(
    readonly step: string,
    reason: string,
  ) {
    super(`step ${step} failed: ${reason}`);
  }
}

df.app.orchestration(TRAIN_ORCHESTRATION, function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput();
  const job = parseTrainJob(featureRepo, trainingConfigSpec, input);
  const jobId = ctx.df.instanceId;
  const status = (step: string, extra: Record<string, unknown> = {}) =>
    ctx.df.setCustomStatus({
      jobId,
      model: job.config.model,
      step,
      stepIndex: (TRAIN_STEPS as readonly string[]).indexOf(step) + 1,
      steps: TRAIN_STEPS.length,
      ...extra,
    });
  status('starting');
  yield ctx.df.callActivityWithRetry(TRAIN_ACTIVITY.start, retry(), { jobId, input });

  const results: Partial<Record<TrainStep, unknown>> = {};
  let current: string = 'starting';
  try {
    for (const step of TRAIN_STEPS) {
      current = step;
      status(step);
      let r: StepResult<unknown>;
      try {
        r = yield ctx.df.callActivityWithRetry(TRAIN_ACTIVITY.step(step), retry(), { jobId, input, results });
      } catch (e) {
        throw new StepFailed(
          step,
          (e as Error).message.replace(/^Activity function '[^']+' failed: /, '').split('\n')[0]!,
        );
      }
      if (!r.ok) throw new StepFailed(step, `${r.status}: ${r.error}`);
      results[step] = r.value;
    }
  } catch (e) {
    const message = e instanceof StepFailed ? e.message.replace(/^step \S+ failed: /, '') : (e as Error).message;
    status(current, { failed: true, error: message });
    yield ctx.df.callActivityWithRetry(TRAIN_ACTIVITY.finish, retry(), {
      jobId,
      outcome: { ok: false, step: current, message },
    });
    throw e instanceof StepFailed ? e : new StepFailed(current, message);
  }
  status('done');
  yield ctx.df.callActivityWithRetry(TRAIN_ACTIVITY.finish, retry(), { jobId, outcome: { ok: true } });
  return { run: jobId, version: results.register, gate: results.gate };
});
