/**
 * The training-set job: POST /api/training-sets hands a large set (or one the client asked to
 * run asynchronously) to this orchestration and answers 202 with its status links. It only
 * schedules; the build is one activity, a thin wrapper over shared/features/pit.
 *
 *   input: the POST /api/training-sets body, checked here by the route's own rules
 *          (parseTrainingSetJob: trainingSetRequestFromApi): an instance started on the Durable API with a bad input
 *          fails at once, naming the field; instance id: trainingSetJobId(request)
 *   custom status: { phase: 'building' | 'done' | 'refused', ... } (refused: status, error, details)
 *   output: the training set's record (what the synchronous route answers), `created` in the status
 *
 * Exactly one set per request: the activity is createTrainingSet, whose record is claimed with
 * If-None-Match, so a retried or repeated build finds the stored set, and a different request
 * under a taken id is refused (409) like the synchronous route refuses it.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { featureRepo } from '../shared/definitions';
import { parseTrainingSetJob, type TrainingSetJobResult } from '../shared/features/pit/training-set-job';
import type { TrainingSetRequest, TrainingSetResult } from '../shared/features/pit';
import { activity, callActivity, type OutputOf } from './activity';

export const TRAINING_SET_ORCHESTRATION = 'training-set';
/** The job's one activity (registered in training-set-activities.ts). */
export const TRAINING_SET_BUILD = activity<{ request: TrainingSetRequest; jobId: string }, TrainingSetJobResult>(
  'training-set-build',
);

/** For transient storage trouble; the client's own mistakes come back as a result and are not retried. */
function retry(): df.RetryOptions {
  const r = new df.RetryOptions(5_000, 3);
  r.backoffCoefficient = 2;
  r.maxRetryIntervalInMilliseconds = 60_000;
  return r;
}

/** Build the set through its activity; a refusal fails the job with the HTTP answer's status and details. */
export function* trainingSetOrchestrator(ctx: OrchestrationContext): Generator<Task, TrainingSetResult, unknown> {
  const request = parseTrainingSetJob(featureRepo, ctx.df.getInput());
  const jobId = ctx.df.instanceId;
  ctx.df.setCustomStatus({ phase: 'building', jobId });
  const r = (yield callActivity(ctx, TRAINING_SET_BUILD, { request, jobId }, retry())) as OutputOf<
    typeof TRAINING_SET_BUILD
  >;
  if (!r.ok) {
    ctx.df.setCustomStatus({ phase: 'refused', jobId, status: r.status, error: r.error, details: r.details });
    throw new Error(
      `${r.status}: ${r.error}${r.details.length ? ` (${r.details.map((d) => `${d.where}: ${d.problem}`).join('; ')})` : ''}`,
    );
  }
  ctx.df.setCustomStatus({ phase: 'done', jobId, id: r.set.id, created: r.created });
  return r.set;
}

df.app.orchestration(TRAINING_SET_ORCHESTRATION, trainingSetOrchestrator);
