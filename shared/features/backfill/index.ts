/**
 * Backfills: recompute feature views (and everything downstream) over past days from the
 * offline store's source records, commit each interval exactly once, refresh the online store.
 *
 *   parseBackfillRequest(repo, body) -> BackfillRequest        request.ts (validated at the edge)
 *   backfillInstanceId(repo, request) -> 'backfill-<hash>'      same request, same job
 *   planBackfill / startBackfill(deps, request, jobId)          plan.ts, run.ts
 *   runBackfillInterval(deps, task) -> IntervalResult           interval.ts (one activity)
 *   refreshOnline(deps, { view, version, from, to })            online.ts (one activity per view)
 *   runBackfill(deps, request, { jobId })                       run.ts: all of it in one process
 */
export * from './types';
export {
  parseBackfillRequest,
  parseBackfillJob,
  backfillInstanceId,
  backfillRequestSchema,
  backfillJobSchema,
  DEFAULT_MAX_PARALLEL,
} from './request';
export type { BackfillRequest } from './request';
export { planBackfill, plannedDays } from './plan';
export { runBackfillInterval } from './interval';
export { refreshOnline } from './online';
export { runBackfill, startBackfill } from './run';
