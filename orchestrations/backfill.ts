/**
 * The backfill orchestration: plan, then each stage's intervals in waves of maxParallel, then
 * the online refresh. It only schedules; every read and write is in an activity
 * (backfill-activities.ts), each a thin wrapper over shared/features/backfill.
 *
 *   input: BackfillRequest (parsed at the edge, functions/backfills.ts, and checked again here with the same
 *          schema: an instance started on the Durable API with bad input fails naming the field); instance id: backfillInstanceId(request)
 *   custom status: BackfillProgress (phase, stage, intervals done/total, rows per view)
 *   output: the final BackfillProgress, with the online refresh per view
 *
 * Exactly once: an interval's segments are named by the work (view, version, interval, inputs),
 * so an activity re-run after a crash, a retry, or the same request started again finds them
 * committed and skips; the orchestration's history means a resumed instance never re-runs an
 * interval whose completion it recorded.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import {
  emptyProgress,
  intervalTasks,
  withInterval,
  withPlan,
  type BackfillPlan,
  type BackfillProgress,
  type IntervalResult,
  type IntervalTask,
  type OnlineRefresh,
} from '../shared/features/backfill/types';
import { parseBackfillJob } from '../shared/features/backfill/request';
import type { BackfillRequest } from '../shared/features/backfill';
import { activity, callActivity, type OutputOf } from './activity';

export const BACKFILL_ORCHESTRATION = 'backfill';

/** The backfill's activities (registered in backfill-activities.ts). */
export const BACKFILL_PLAN = activity<{ request: BackfillRequest; jobId: string }, BackfillPlan>('backfill-plan');
export const BACKFILL_INTERVAL = activity<IntervalTask, IntervalResult>('backfill-interval');
export const BACKFILL_REFRESH_ONLINE = activity<
  { view: string; version: string; from: number; to: number },
  OnlineRefresh
>('backfill-refresh-online');

/** For transient storage trouble. (A definition changed mid-way fails every attempt alike, and then the backfill.) */
function retry(): df.RetryOptions {
  const r = new df.RetryOptions(2_000, 4);
  r.backoffCoefficient = 2;
  r.maxRetryIntervalInMilliseconds = 30_000;
  return r;
}

/** Plan, the stages' intervals in waves, the online refresh; the progress as custom status. */
export function* backfillOrchestrator(ctx: OrchestrationContext): Generator<Task, BackfillProgress, unknown> {
  const request = parseBackfillJob(ctx.df.getInput());
  const jobId = ctx.df.instanceId;
  let progress: BackfillProgress = emptyProgress(jobId);
  ctx.df.setCustomStatus(progress);

  const plan = (yield callActivity(ctx, BACKFILL_PLAN, { request, jobId }, retry())) as OutputOf<typeof BACKFILL_PLAN>;
  progress = withPlan(progress, plan);
  ctx.df.setCustomStatus(progress);

  for (const stage of plan.stages.keys()) {
    progress = { ...progress, stage: `${stage + 1}/${plan.stages.length}` };
    ctx.df.setCustomStatus(progress);
    const tasks = intervalTasks(plan, stage);
    // Bounded fan-out in waves of maxParallel. (A sliding window would yield tasks again inside a
    // new Task.any, which the Durable replay protocol does not support: each yield of a compound
    // task re-sends its children's actions.)
    for (let k = 0; k < tasks.length; k += request.maxParallel) {
      const wave = tasks.slice(k, k + request.maxParallel);
      const results = (yield ctx.df.Task.all(
        wave.map((t) => callActivity(ctx, BACKFILL_INTERVAL, t, retry())),
      )) as Array<OutputOf<typeof BACKFILL_INTERVAL>>;
      for (const r of results) progress = withInterval(progress, r);
      ctx.df.setCustomStatus(progress);
    }
  }

  progress = { ...progress, phase: 'refreshing online' };
  ctx.df.setCustomStatus(progress);
  const online = (yield ctx.df.Task.all(
    plan.views.map((v) =>
      callActivity(ctx, BACKFILL_REFRESH_ONLINE, { view: v.view, version: v.version, from: v.from, to: v.to }, retry()),
    ),
  )) as Array<OutputOf<typeof BACKFILL_REFRESH_ONLINE>>;
  progress = { ...progress, phase: 'done', online };
  ctx.df.setCustomStatus(progress);
  return progress;
}

df.app.orchestration(BACKFILL_ORCHESTRATION, backfillOrchestrator);
