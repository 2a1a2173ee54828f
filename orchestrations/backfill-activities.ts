/**
 * The backfill's activities: thin wrappers over shared/features/backfill, on the app's platform
 * (repo, offline and online stores, interval ledger).
 *   backfill-plan            startBackfill: plan, mark the planned days pending  -> BackfillPlan
 *   backfill-interval        runBackfillInterval: one stage's views for one interval -> IntervalResult
 *   backfill-refresh-online  refreshOnline: latest backfilled row per entity online -> OnlineRefresh
 */
import * as df from 'durable-functions';
import { platform, once } from '../shared/platform';
import { IntervalLedger } from '../shared/features/ledger';
import {
  refreshOnline, runBackfillInterval, startBackfill,
  type BackfillDeps, type BackfillPlan, type BackfillRequest, type IntervalResult, type IntervalTask, type OnlineRefresh,
} from '../shared/features/backfill';

const deps = once(async (): Promise<BackfillDeps> => {
  const p = platform();
  return { repo: p.repo, offline: await p.offline(), online: p.online, ledger: await IntervalLedger.open(p.storage) };
});

df.app.activity('backfill-plan', {
  handler: async (input: { request: BackfillRequest; jobId: string }): Promise<BackfillPlan> => startBackfill(await deps(), input.request, input.jobId),
});

df.app.activity('backfill-interval', {
  handler: async (task: IntervalTask): Promise<IntervalResult> => runBackfillInterval(await deps(), task),
});

df.app.activity('backfill-refresh-online', {
  handler: async (job: { view: string; version: string; from: number; to: number }): Promise<OnlineRefresh> => refreshOnline(await deps(), job),
});

