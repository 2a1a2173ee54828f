/**
 * Records dated too far ahead of their arrival, and the repair of the event clock they moved.
 *
 * Validation refuses a record whose event time is more than STRATA_MAX_FUTURE_SKEW ahead of its
 * arrival (validate.ts), so only records that can be true move the clock. Data accepted before
 * that limit existed (or under a larger one) may still hold such a record, and the clock it
 * moved (one clock for the whole DAG, pipeline.ts; warmed again from the source segments after
 * a restart) makes every later record late: views stop changing, and their rows and online
 * values run ahead of time. The repair, for one source:
 *   1. the offending records go to the dead-letter store with the reason (before anything else);
 *   2. they are retracted from the source's own segments (what warm-up and backfills read);
 *   3. every view's rows dated after the moment the first of them arrived are retracted (they
 *      were computed on the moved clock), and online values dated after it are forgotten;
 *   4. the ledger's watermarks go back to that moment, and its days after the clock are forgotten;
 *   5. this process's ingest pipeline forgets its clock (it warms again from the offline store;
 *      other instances do so when they restart);
 *   6. the report names the backfill that recomputes the views from that moment on.
 * A dry run reports what would go and changes nothing. Running it again finds nothing more.
 *
 *   retractFutureRecords(deps, source, { maxFutureSkewMs, dryRun?, jobId?, now? }) -> FutureRecordsReport
 */
import type { FeatureRepo } from '../definitions/repo';
import type { OfflineStore } from '../offline/store';
import type { OnlineStore } from '../online/types';
import type { DeadLetterRef, DeadLetterStore } from './dead-letter';
import type { IntervalLedger } from '../ledger/ledger';
import type { IngestService } from './service';
import { sourceSegmentView, validRecordOf } from './service';
import { retractRows } from '../offline/retraction';
import { eventDay } from '../offline/segment-id';
import { repairBatchId } from './batch-id';
import { futureSkewProblem } from './validate';
import { formatDuration } from '../definitions/duration';

export interface FutureRecordsDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  online: OnlineStore;
  deadLetters: DeadLetterStore;
  ledger: IntervalLedger | null;
  /** This process's ingest, whose clock is reset afterwards. */
  ingest?: IngestService;
}

export interface ViewRetraction {
  rowsRetracted: number;
  segmentsRewritten: number;
  segmentsRetracted: number;
  onlineForgotten: number;
}

export interface FutureRecordsReport {
  source: string;
  dryRun: boolean;
  maxFutureSkew: string;
  /** Records of the source dated more than the skew ahead of their arrival. */
  records: number;
  /** When the first of them arrived: every view's rows after it were computed on the moved clock. */
  since: string | null;
  deadLetter?: DeadLetterRef;
  sourceSegments: { rewritten: number; retracted: number };
  views: Record<string, ViewRetraction>;
  /** The event clock the stored records give, before and after the repair. */
  clock: { before: string | null; after: string | null };
  /** Run this backfill (POST /api/backfills) to recompute the views' rows from `since` on. */
  backfill: { views: string[]; from: string; to: string } | null;
  /** Segments that changed while being repaired (a compaction ran): run the repair again. */
  conflicts: number;
}

export async function retractFutureRecords(
  deps: FutureRecordsDeps,
  sourceName: string,
  opts: { maxFutureSkewMs: number; dryRun?: boolean; jobId?: string; now?: number },
): Promise<FutureRecordsReport> {
  const { repo, offline, online } = deps;
  const source = repo.source(sourceName);
  const skew = Math.floor(opts.maxFutureSkewMs);
  const dryRun = opts.dryRun === true;
  const now = opts.now ?? Date.now();
  const key = `retract-future:${source.name}:${skew}`;
  const report: FutureRecordsReport = {
    source: source.name,
    dryRun,
    maxFutureSkew: formatDuration(skew),
    records: 0,
    since: null,
    sourceSegments: { rewritten: 0, retracted: 0 },
    views: {},
    clock: { before: null, after: null },
    backfill: null,
    conflicts: 0,
  };
  const clockBefore = await storedClock(deps);
  report.clock.before = iso(clockBefore);

  // 1-2. The records themselves: find them, dead-letter them, take them out of the source's segments.
  const srcView = sourceSegmentView(source.name);
  const suspects = (await offline.manifest.live({ view: srcView, version: source.version })).filter(
    (s) => s.minLagMs < -skew,
  );
  const keepRecord = `event_ts - created_ts <= ${skew}`;
  const found = await Promise.all(suspects.map((s) => retractRows(offline, s, keepRecord, { key, dryRun: true })));
  const records = found.flatMap((f, i) => f.removed.map((row) => ({ row, segment: suspects[i]! })));
  report.records = records.length;
  if (records.length === 0) {
    report.clock.after = report.clock.before;
    return report;
  }
  const since = Math.min(...records.map((r) => r.row.createdTs));
  report.since = iso(since);
  const letters = records.map(({ row, segment }) => ({
    source: source.name,
    record: validRecordOf(source, row).data,
    reason: `${futureSkewProblem(source.eventTime, row.eventTs, row.createdTs, skew)} (retracted from the offline store by the future-records repair)`,
    position: `offline store ${srcView} ${segment.day} segment ${segment.segmentId}`,
    receivedAt: new Date(row.createdTs).toISOString(),
  }));
  if (!dryRun) {
    const batchId = repairBatchId(
      key,
      records.map((r) => r.segment.segmentId),
    );
    const ref = await deps.deadLetters.write(source.name, batchId, letters, new Date(now));
    if (ref) report.deadLetter = ref;
  }
  for (const s of suspects) {
    const r = dryRun
      ? found[suspects.indexOf(s)]!
      : await retractRows(offline, s, keepRecord, { key, ...(opts.jobId ? { jobId: opts.jobId } : {}) });
    if (r.status === 'rewritten') report.sourceSegments.rewritten++;
    else if (r.status === 'retracted') report.sourceSegments.retracted++;
    else if (r.status === 'conflict') report.conflicts++;
  }

  // 3. Every view on the clock: rows after `since` were computed on the moved clock.
  const keepRow = `event_ts <= ${since}`;
  for (const name of repo.viewOrder) {
    const view = repo.view(name);
    const out: ViewRetraction = { rowsRetracted: 0, segmentsRewritten: 0, segmentsRetracted: 0, onlineForgotten: 0 };
    const entities = new Set<string>();
    for (const s of (
      await offline.manifest.live({ view: name, version: view.version, fromDay: eventDay(since) })
    ).filter((x) => x.maxEventTs > since)) {
      const r = await retractRows(offline, s, keepRow, { key, dryRun, ...(opts.jobId ? { jobId: opts.jobId } : {}) });
      out.rowsRetracted += r.removed.length;
      for (const row of r.removed) entities.add(row.entityId);
      if (r.status === 'rewritten') out.segmentsRewritten++;
      else if (r.status === 'retracted') out.segmentsRetracted++;
      else if (r.status === 'conflict') report.conflicts++;
    }
    if (!dryRun && entities.size) out.onlineForgotten = await online.forgetAfter(name, [...entities], since);
    if (out.rowsRetracted || out.onlineForgotten) report.views[name] = out;
  }

  // 4-5. The clock the remaining records give; the ledger and this process follow it.
  const clockAfter = await storedClock(
    deps,
    dryRun ? new Map(suspects.map((s, i) => [s.segmentId, found[i]!.keptMaxEventTs])) : undefined,
  );
  report.clock.after = iso(clockAfter);
  if (!dryRun) {
    if (deps.ledger) {
      const newestOfSource = Math.max(
        -Infinity,
        ...(await offline.listSegments(srcView, { version: source.version })).map((s) => s.maxEventTs),
      );
      await deps.ledger.rewind(
        [
          ...repo.viewOrder.map((v) => ({ view: v, version: repo.view(v).version, watermark: since + 1 })),
          {
            view: srcView,
            version: source.version,
            watermark: since + 1,
            ...(Number.isFinite(newestOfSource) ? { newestEvent: newestOfSource } : {}),
          },
        ],
        eventDay(Math.max(clockAfter ?? since, since)),
      );
    }
    deps.ingest?.reset();
  }
  // 6. What recomputes the views.
  const roots = repo.viewOrder.filter((v) => repo.view(v).input.kind === 'source');
  report.backfill = {
    views: roots,
    from: new Date(since).toISOString(),
    to: new Date(Math.max(now, (clockAfter ?? since) + 1)).toISOString(),
  };
  return report;
}

/**
 * The event clock the stored source records give (what a cold pipeline warms up to): the newest
 * event of every source on the feature clock. `replaced`: segments counted by these newest
 * events instead (a dry run's view of the repaired store; null: nothing kept).
 */
async function storedClock(
  deps: FutureRecordsDeps,
  replaced?: ReadonlyMap<string, number | null>,
): Promise<number | null> {
  let newest = -Infinity;
  for (const s of deps.repo.sources.values()) {
    if (deps.repo.viewsReading(s.name).length === 0) continue;
    for (const seg of await deps.offline.listSegments(sourceSegmentView(s.name), { version: s.version })) {
      const max = replaced?.has(seg.segmentId) ? replaced.get(seg.segmentId) : seg.maxEventTs;
      if (max !== null && max !== undefined) newest = Math.max(newest, max);
    }
  }
  return Number.isFinite(newest) ? newest : null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
