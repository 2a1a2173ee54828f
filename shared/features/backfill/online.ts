/**
 * After a backfill: the online store gets each affected entity's latest backfilled row.
 *
 *   refreshOnline(deps, { view, version, from, to }) -> OnlineRefresh
 *
 * The latest row per entity with event time in [from, to) goes through OnlineStore.write,
 * which applies a row only when it is newer by (eventTs, createdTs): a value the stream wrote
 * since stays. Rows already past the view's TTL are not written (they would not be served).
 * Only the app's current version is online. The same step as materialize (../online/materialize.ts),
 * bounded to the backfilled range.
 */
import { latestRowsOnline } from '../online/materialize';
import type { BackfillDeps, OnlineRefresh } from './types';

export async function refreshOnline(
  deps: BackfillDeps,
  job: { view: string; version: string; from: number; to: number },
): Promise<OnlineRefresh> {
  const view = deps.repo.view(job.view);
  if (view.version !== job.version) return { view: job.view, entities: 0, applied: 0, skipped: 0, expired: 0 }; // the app serves another version now
  return latestRowsOnline(deps, {
    view: job.view,
    version: job.version,
    ttlMs: view.ttlMs,
    from: job.from,
    to: job.to,
  });
}
