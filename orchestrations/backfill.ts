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
import type { OrchestrationContext } from 'durable-functions';
import {
  emptyProgress, withInterval, withPlan,
  type BackfillPlan, type BackfillProgress, type IntervalResult, type IntervalTask, type OnlineRefresh,
} from '../shared/features/backfill/types';
import { parseBackfillJob } from '../shared/features/backfill/request';

export const BACKFILL_ORCHESTRATION = 'backfill';

/** For transient storage trouble. (A definition changed mid-way fails every attempt alike, and then the backfill.) */
function retry(): df.RetryOptions {
  const r = new df.RetryOptions(2_000, 4);
  r.backoffCoefficient = 2;
  r.maxRetryIntervalInMilliseconds = 30_000;
  return r;
}

df.app.orchestration(BACKFILL_ORCHESTRATION, function* (ctx: OrchestrationContext) {
  const request = parseBackfillJob(ctx.df.getInput());
  const jobId = ctx.df.instanceId;
  let progress: BackfillProgress = emptyProgress(jobId);
  ctx.df.setCustomStatus(progress);

  const plan: BackfillPlan = yield ctx.df.callActivityWithRetry('backfill-plan', retry(), { request, jobId });
  progress = withPlan(progress, plan);
  ctx.df.setCustomStatus(progress);

  for (const [stage, s] of plan.stages.entries()) {
    progress = { ...progress, stage: `${stage + 1}/${plan.stages.length}` };
    ctx.df.setCustomStatus(progress);
    const tasks: IntervalTask[] = s.intervals.map((i) => ({ jobId, stage, from: i.from, to: i.to, views: i.views, versions: plan.versions, cap: plan.cap }));
    // Bounded fan-out in waves of maxParallel. (A sliding window would yield tasks again inside a
    // new Task.any, which the Durable replay protocol does not support: each yield of a compound
    // task re-sends its children's actions.)
    for (let k = 0; k < tasks.length; k += request.maxParallel) {
      const wave = tasks.slice(k, k + request.maxParallel);
      const results: IntervalResult[] = yield ctx.df.Task.all(wave.map((t) => ctx.df.callActivityWithRetry('backfill-interval', retry(), t)));
      for (const r of results) progress = withInterval(progress, r);
      ctx.df.setCustomStatus(progress);
    }
  }

  progress = { ...progress, phase: 'refreshing online' };
  ctx.df.setCustomStatus(progress);
  const online: OnlineRefresh[] = yield ctx.df.Task.all(
    plan.views.map((v) => ctx.df.callActivityWithRetry('backfill-refresh-online', retry(), { view: v.view, version: v.version, from: v.from, to: v.to })),
  );
  progress = { ...progress, phase: 'done', online };
  ctx.df.setCustomStatus(progress);
  return progress;
});
