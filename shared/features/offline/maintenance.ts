/**
 * Offline store upkeep: merge the small segments that streaming leaves behind (one per batch)
 * into one per view, version and finished day, then delete blobs no manifest row points at
 * (crashed uploads, compacted-away segments) once their grace period has passed.
 */
import type { FeatureRepo } from '../definitions/repo';
import type { OfflineStore } from './store';
import { compactView, type CompactionResult } from './compaction';
import { gcOrphans, type GcResult } from './gc';
import { sourceSegmentView } from '../ingest/service';

export interface MaintenanceReport {
  compacted: Array<Pick<CompactionResult, 'view' | 'version' | 'day' | 'inputs' | 'status'>>;
  gc: GcResult;
}

const DAY_MS = 86_400_000;

/** Compact every view's and source's days that ended before `now`'s UTC day, then collect garbage. */
export async function maintainOfflineStore(
  store: OfflineStore,
  repo: FeatureRepo,
  opts: { now?: number; jobId?: string; graceMs?: number } = {},
): Promise<MaintenanceReport> {
  const today = Math.floor((opts.now ?? Date.now()) / DAY_MS) * DAY_MS;
  const views = [...repo.views.keys(), ...[...repo.sources.keys()].map(sourceSegmentView)];
  const compacted: MaintenanceReport['compacted'] = [];
  for (const view of views) {
    for (const r of await compactView(store, view, { to: today }, opts.jobId ? { jobId: opts.jobId } : {})) {
      if (r.status !== 'nothing-to-do')
        compacted.push({ view: r.view, version: r.version, day: r.day, inputs: r.inputs, status: r.status });
    }
  }
  const gc = await gcOrphans(store, opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {});
  return { compacted, gc };
}
