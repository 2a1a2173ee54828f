/**
 * The backfill's activities: thin wrappers over shared/features/backfill, on the app's platform
 * (repo, offline and online stores, interval ledger). Names and types are declared beside the
 * orchestrator (backfill.ts) that calls them.
 *   backfill-plan            startBackfill: plan, mark the planned days pending  -> BackfillPlan
 *   backfill-interval        runBackfillInterval: one stage's views for one interval -> IntervalResult
 *   backfill-refresh-online  refreshOnline: latest backfilled row per entity online -> OnlineRefresh
 */
import { platform, once } from '../shared/platform';
import { refreshOnline, runBackfillInterval, startBackfill, type BackfillDeps } from '../shared/features/backfill';
import { registerActivity, type InputOf, type OutputOf } from './activity';
import { BACKFILL_INTERVAL, BACKFILL_PLAN, BACKFILL_REFRESH_ONLINE } from './backfill';

const deps = once(async (): Promise<BackfillDeps> => {
  const p = platform();
  return { repo: p.repo, offline: await p.offline(), online: p.online, ledger: await p.ledger() };
});

export async function backfillPlan(input: InputOf<typeof BACKFILL_PLAN>): Promise<OutputOf<typeof BACKFILL_PLAN>> {
  return startBackfill(await deps(), input.request, input.jobId);
}

export async function backfillInterval(
  task: InputOf<typeof BACKFILL_INTERVAL>,
): Promise<OutputOf<typeof BACKFILL_INTERVAL>> {
  return runBackfillInterval(await deps(), task);
}

export async function backfillRefreshOnline(
  job: InputOf<typeof BACKFILL_REFRESH_ONLINE>,
): Promise<OutputOf<typeof BACKFILL_REFRESH_ONLINE>> {
  return refreshOnline(await deps(), job);
}

registerActivity(BACKFILL_PLAN, backfillPlan);
registerActivity(BACKFILL_INTERVAL, backfillInterval);
registerActivity(BACKFILL_REFRESH_ONLINE, backfillRefreshOnline);
