/**
 * GET /api/overview: the dashboard's first page in one answer, computed from shared storage
 * (so every instance answers the same): dependency health; per source, the records ingested
 * over the last hour (per minute, from the offline store's manifest: each ingested batch's
 * source segment carries its row count and commit time), dead-lettered records and the days
 * marked late (records arrived too late to be folded in: a backfill fixes them) over the last
 * days; per view, its freshness (watermark, lag behind its sources, caught up) from
 * the interval ledger's plan. Counters in process memory (/api/metrics) are per instance;
 * these are not.
 */
import type { FeatureRepo } from '../features/definitions/repo';
import type { Manifest } from '../features/offline/manifest';
import type { IntervalLedger } from '../features/ledger/ledger';
import type { DeadLetterStore } from '../features/ingest/dead-letter';
import type { HealthReport } from '../health';
import { computePlan, type ViewStatus } from '../features/ledger/plan';
import { sourceSegmentView } from '../features/ingest/service';
import { eventDay } from '../features/offline/segment-id';

export interface OverviewDeps {
  repo: FeatureRepo;
  manifest: Manifest;
  ledger: IntervalLedger;
  deadLetters: DeadLetterStore;
  health(): Promise<HealthReport>;
}

export interface OverviewOptions {
  now?: number;
  /** The window of the ingest rate (default 5 min). */
  rateWindowMs?: number;
  /** Days counted for dead-lettered and late records (default 7, today included). */
  days?: number;
}

export interface SourceOverview {
  name: string;
  version: string;
  hub: string | null;
  files: boolean;
  /** Views computed from it (none: only stored, like the prediction log). */
  views: string[];
  newestEvent: string | null;
  ingest: {
    /** Records per second over the rate window. */
    recordsPerSecond: number;
    rateWindowSeconds: number;
    /** Records ingested per minute over the last hour: `perMinute[i]` is the minute starting at `since + i min`. */
    since: string;
    perMinute: number[];
    lastHour: number;
  };
  deadLettered: { days: number; records: number };
  /**
   * Days (of the last `days`) that a view reading this source has marked late: records arrived
   * too late to be folded in. Days, not records: the ledger marks every day a late record's
   * windows reach, so its per-day counts do not add up to records.
   */
  late: { days: number; daysMarked: number; byView: Record<string, number> };
}

export interface ViewOverview extends ViewStatus {
  /** What it is computed from: a source, or the views it reads. */
  inputs: string[];
  /** now - watermark, ms: how old the newest computed value is (null: nothing computed). */
  ageMs: number | null;
  /** Days of the last `days` with records too late to be folded in. */
  lateDays: number;
}

export interface Overview {
  generatedAt: string;
  health: HealthReport;
  sources: SourceOverview[];
  views: ViewOverview[];
}

const MINUTE = 60_000;
const DAY_MS = 86_400_000;

export async function dashboardOverview(deps: OverviewDeps, opts: OverviewOptions = {}): Promise<Overview> {
  const now = opts.now ?? Date.now();
  const rateWindowMs = opts.rateWindowMs ?? 5 * MINUTE;
  const days = opts.days ?? 7;
  const fromDay = eventDay(now - (days - 1) * DAY_MS);
  const since = Math.floor((now - 60 * MINUTE) / MINUTE) * MINUTE;
  const { repo } = deps;

  const [health, plan, heads, entries, sources] = await Promise.all([
    deps.health(),
    computePlan({ repo, ledger: deps.ledger }, { now }),
    deps.ledger.heads(),
    deps.ledger.entries({ fromDay, toDay: eventDay(now), now }), // a late record also marks days its windows reach: not future ones
    Promise.all(
      [...repo.sources.values()].map(async (s) => {
        const view = sourceSegmentView(s.name);
        const [recent, dead] = await Promise.all([
          // Every batch's own segment, live or since compacted; compactions' merged segments would count rows twice.
          deps.manifest.list({ view, version: s.version, committedSince: since }),
          deps.deadLetters.countsByDay(s.name, fromDay),
        ]);
        return { s, recent: recent.filter((r) => r.lineage.input.kind !== 'compaction'), dead };
      }),
    ),
  ]);

  const lateDays = new Map<string, Set<string>>();
  for (const e of entries)
    if (e.lateRecords > 0) (lateDays.get(e.view) ?? lateDays.set(e.view, new Set()).get(e.view)!).add(e.day);

  const sourceRows: SourceOverview[] = sources.map(({ s, recent, dead }) => {
    const perMinute = new Array<number>(61).fill(0);
    let inWindow = 0;
    let newest = heads.get(sourceSegmentView(s.name))?.newestEvent ?? -Infinity;
    for (const r of recent) {
      const i = Math.floor((r.committedAt - since) / MINUTE);
      if (i >= 0 && i < perMinute.length) perMinute[i]! += r.rowCount;
      if (r.committedAt > now - rateWindowMs) inWindow += r.rowCount;
      newest = Math.max(newest, r.maxEventTs);
    }
    const views = repo.viewsReading(s.name).map((v) => v.name);
    const byView = Object.fromEntries(views.map((v) => [v, lateDays.get(v)?.size ?? 0]));
    const marked = new Set(views.flatMap((v) => [...(lateDays.get(v) ?? [])]));
    return {
      name: s.name,
      version: s.version,
      hub: s.stream?.hub ?? null,
      files: s.file !== undefined,
      views,
      newestEvent: Number.isFinite(newest) ? new Date(newest).toISOString() : null,
      ingest: {
        recordsPerSecond: inWindow / (rateWindowMs / 1000),
        rateWindowSeconds: rateWindowMs / 1000,
        since: new Date(since).toISOString(),
        perMinute,
        lastHour: perMinute.reduce((a, b) => a + b, 0),
      },
      deadLettered: { days, records: Object.values(dead).reduce((a, b) => a + b, 0) },
      late: { days, daysMarked: marked.size, byView },
    };
  });

  const views: ViewOverview[] = plan.views.map((v) => {
    const view = repo.view(v.view);
    const watermark = v.watermark === null ? null : Date.parse(v.watermark);
    return {
      ...v,
      inputs: view.input.kind === 'source' ? [view.input.source] : [...view.input.views],
      ageMs: watermark === null ? null : Math.max(0, now - watermark),
      lateDays: lateDays.get(v.view)?.size ?? 0,
    };
  });
  return { generatedAt: new Date(now).toISOString(), health, sources: sourceRows, views };
}
