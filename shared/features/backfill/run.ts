/**
 * A backfill in one process, without Durable Functions: the same plan, intervals and online
 * refresh the orchestration (orchestrations/backfill.ts) runs as activities, for tests,
 * benchmarks and scripts. Stages run in order; a stage's intervals run `maxParallel` at a time.
 */
import { plannedDays, planBackfill } from './plan';
import { runBackfillInterval } from './interval';
import { refreshOnline } from './online';
import { forEachLimit } from '../../concurrency';
import type { BackfillRequest } from './request';
import {
  emptyProgress,
  intervalTasks,
  withInterval,
  withPlan,
  type BackfillDeps,
  type BackfillPlan,
  type BackfillProgress,
  type IntervalResult,
} from './types';

export async function runBackfill(
  deps: BackfillDeps,
  req: BackfillRequest,
  opts: { jobId: string; onProgress?: (p: BackfillProgress) => void; refreshOnline?: boolean },
): Promise<BackfillProgress & { plan: BackfillPlan; results: IntervalResult[] }> {
  const plan = await startBackfill(deps, req, opts.jobId);
  let progress = withPlan(emptyProgress(opts.jobId), plan);
  const results: IntervalResult[] = [];
  for (const stage of plan.stages.keys()) {
    progress = { ...progress, stage: `${stage + 1}/${plan.stages.length}` };
    await forEachLimit(intervalTasks(plan, stage), req.maxParallel, async (task) => {
      const r = await runBackfillInterval(deps, task);
      results.push(r);
      progress = withInterval(progress, r);
      opts.onProgress?.(progress);
    });
  }
  if (opts.refreshOnline !== false) {
    progress = { ...progress, phase: 'refreshing online' };
    const online = await Promise.all(
      plan.views.map((v) => refreshOnline(deps, { view: v.view, version: v.version, from: v.from, to: v.to })),
    );
    progress = { ...progress, online };
  }
  return { ...progress, phase: 'done', plan, results };
}

/** Plan, and mark the planned days pending in the ledger (the orchestration's first activity). */
export async function startBackfill(deps: BackfillDeps, req: BackfillRequest, jobId: string): Promise<BackfillPlan> {
  const plan = await planBackfill(deps, req, jobId);
  if (deps.ledger) await deps.ledger.markPending(plannedDays(deps.repo, plan), jobId, (deps.now ?? Date.now)());
  return plan;
}
