/**
 * The freshness plan: which days of which views are missing, incomplete or stale against each
 * view's freshness target, whether each view has caught up with its sources, and the
 * backfills that would fix it. Read from the interval ledger only (no data is scanned).
 *
 *   computePlan({ repo, ledger }, { freshness?, views?, now? }) -> FreshnessPlan
 *   viewStatus({ repo, ledger }, view, { days? })               -> ViewStatus (+ its recent days)
 *   caughtUpViews({ repo, ledger })                              -> { view: boolean }
 *
 * For each view (at the app's definition version) the days that need it are the days with
 * records of its sources, each followed by the days its windows still reach (a click at 23:00
 * changes a 24h window's values until 23:00 the next day). Such a day is
 *   missing     when the ledger has nothing for the view's current version (never computed, or
 *               computed by an older definition: backfill after a definition change);
 *   incomplete  when records arrived too late for it, it holds only part of the day
 *               (definition changed mid-day), or a backfill of it stalled;
 *   stale       when it is still open and the view's watermark lags its sources' newest event
 *               by more than the freshness target (the stream stopped computing the view);
 * pending days (a backfill runs) and complete ones need nothing. A view has caught up when its
 * watermark (the event time up to which its rows of this version are computed) has reached
 * the newest source event.
 *
 * Freshness target: `freshness` (ms, per view or for all), default 1 day.
 */
import type { FeatureRepo } from '../definitions/repo';
import { downstream, upstream } from '../compute/dag';
import { sourceSegmentView } from '../ingest/service';
import { eventDay, dayStart } from '../offline/segment-id';
import { DAY_MS, type IntervalLedger, type LedgerEntry, type LedgerHead } from './ledger';

export const DEFAULT_FRESHNESS_MS = DAY_MS;

export type WorkKind = 'missing' | 'incomplete' | 'stale';

export interface PlannedWork {
  view: string;
  version: string;
  day: string;
  kind: WorkKind;
  /** In words: "never computed", "computed for version 1a2b3c4d", "3 records arrived too late", ... */
  reason: string;
}

export interface ViewStatus {
  view: string;
  version: string;
  freshnessMs: number;
  /** Event time up to which the view's rows of this version are computed (exclusive); null when nothing is. */
  watermark: string | null;
  /** The newest event of the sources the view reads. */
  newestSourceEvent: string | null;
  /** How far the watermark is behind the newest source event, ms (0 when caught up; null when unknown). */
  lagMs: number | null;
  caughtUp: boolean;
  days: Record<'complete' | 'incomplete' | 'pending' | 'missing' | 'stale', number>;
}

export interface ProposedBackfill {
  /** The views to name (everything downstream of them is recomputed too). */
  views: string[];
  from: string;
  to: string;
  /** Days with work in the range. */
  days: number;
}

export interface FreshnessPlan {
  generatedAt: string;
  views: ViewStatus[];
  work: PlannedWork[];
  backfills: ProposedBackfill[];
}

export interface PlanDeps {
  repo: FeatureRepo;
  ledger: IntervalLedger;
}

export interface PlanOptions {
  /** Freshness target in ms, for every view or by view name (others: the default). */
  freshness?: number | Record<string, number>;
  /** Only these views (and what is downstream of them). */
  views?: string[];
  now?: number;
  pendingTimeoutMs?: number;
}

export async function computePlan(deps: PlanDeps, opts: PlanOptions = {}): Promise<FreshnessPlan> {
  const { repo } = deps;
  const now = opts.now ?? Date.now();
  const names = opts.views ? downstream(repo, opts.views, { includeSelf: true }) : [...repo.viewOrder];
  const [heads, entries] = await Promise.all([
    deps.ledger.heads(),
    deps.ledger.entries({
      now,
      ...(opts.pendingTimeoutMs !== undefined ? { pendingTimeoutMs: opts.pendingTimeoutMs } : {}),
    }),
  ]);
  const byKey = new Map(entries.map((e) => [`${e.view}/${e.day}`, e]));

  const views: ViewStatus[] = [];
  const work: PlannedWork[] = [];
  const needed = new Map<string, Set<string>>();
  for (const name of repo.viewOrder) {
    const view = repo.view(name);
    const days = neededDays(repo, name, entries, heads, needed);
    needed.set(name, days);
    if (!names.includes(name)) continue;
    const status = statusOf(repo, name, heads, freshnessOf(opts.freshness, name));
    const newest = status.newestSourceEvent === null ? undefined : Date.parse(status.newestSourceEvent);
    for (const day of [...days].sort()) {
      const e = byKey.get(`${name}/${day}`);
      const w = classify(e, view.version, day, newest, status.freshnessMs);
      if (w === 'complete' || w === 'pending' || w === 'open') {
        status.days[w === 'open' ? 'incomplete' : w]++;
        continue;
      }
      status.days[w.kind]++;
      work.push({ view: name, version: view.version, day, ...w });
    }
    views.push(status);
  }
  return { generatedAt: new Date(now).toISOString(), views, work, backfills: proposeBackfills(repo, work) };
}

/** One view's status and its ledger days (newest first), for GET /api/views/{view}/status. */
export async function viewStatus(
  deps: PlanDeps,
  view: string,
  opts: { days?: number; freshness?: number; now?: number } = {},
): Promise<ViewStatus & { recent: LedgerEntry[] }> {
  const v = deps.repo.view(view);
  const now = opts.now ?? Date.now();
  const plan = await computePlan(deps, {
    views: [view],
    now,
    ...(opts.freshness !== undefined ? { freshness: opts.freshness } : {}),
  });
  const status = plan.views.find((s) => s.view === v.name)!;
  const fromDay = eventDay(now - (opts.days ?? 7) * DAY_MS);
  const recent = (await deps.ledger.entries({ views: [v.name], fromDay, now }))
    .filter((e) => e.version === v.version)
    .reverse();
  return { ...status, recent };
}

/** Whether each view has caught up with its sources (for serving's freshness flags). */
export async function caughtUpViews(deps: PlanDeps): Promise<Record<string, boolean>> {
  const heads = await deps.ledger.heads();
  return Object.fromEntries(
    deps.repo.viewOrder.map((v) => [v, statusOf(deps.repo, v, heads, DEFAULT_FRESHNESS_MS).caughtUp]),
  );
}

// ---------------------------------------------------------------------------------------------

function statusOf(
  repo: FeatureRepo,
  name: string,
  heads: ReadonlyMap<string, LedgerHead>,
  freshnessMs: number,
): ViewStatus {
  const view = repo.view(name);
  const head = heads.get(name);
  const watermark = head && head.version === view.version ? head.watermark : undefined;
  let newest: number | undefined;
  for (const s of upstream(repo, name).sources) {
    const h = heads.get(sourceSegmentView(s));
    if (h?.newestEvent !== undefined && h.version === repo.source(s).version)
      newest = Math.max(newest ?? -Infinity, h.newestEvent);
  }
  // watermark is exclusive: rows up to watermark - 1 are computed.
  const lag = newest === undefined ? 0 : watermark === undefined ? null : Math.max(0, newest + 1 - watermark);
  return {
    view: name,
    version: view.version,
    freshnessMs,
    watermark: watermark === undefined ? null : new Date(watermark).toISOString(),
    newestSourceEvent: newest === undefined ? null : new Date(newest).toISOString(),
    lagMs: lag,
    caughtUp: lag === 0,
    days: { complete: 0, incomplete: 0, pending: 0, missing: 0, stale: 0 },
  };
}

/** Days of a view that hold (or should hold) rows: its sources' days, plus its windows' reach. */
function neededDays(
  repo: FeatureRepo,
  name: string,
  entries: readonly LedgerEntry[],
  heads: ReadonlyMap<string, LedgerHead>,
  known: ReadonlyMap<string, Set<string>>,
): Set<string> {
  const view = repo.view(name);
  if (view.input.kind === 'views') {
    const out = new Set<string>();
    for (const i of view.input.views) for (const d of known.get(i) ?? []) out.add(d);
    return out;
  }
  const source = repo.source(view.input.source);
  const src = sourceSegmentView(source.name);
  const reach = view.warmUpMs! - view.latenessMs;
  const newest = heads.get(src)?.newestEvent;
  const lastDay = newest === undefined ? undefined : eventDay(newest);
  const out = new Set<string>();
  for (const e of entries) {
    if (e.view !== src || e.version !== source.version || e.rows === 0) continue;
    for (let t = e.from; t <= e.from + DAY_MS - 1 + reach; t += DAY_MS) {
      const d = eventDay(t);
      if (lastDay !== undefined && d > lastDay) break;
      out.add(d);
    }
  }
  return out;
}

type Verdict = 'complete' | 'pending' | 'open' | { kind: WorkKind; reason: string };

function classify(
  e: LedgerEntry | undefined,
  version: string,
  day: string,
  newestSource: number | undefined,
  freshnessMs: number,
): Verdict {
  if (!e) return { kind: 'missing', reason: 'never computed' };
  if (e.version !== version)
    return {
      kind: 'missing',
      reason: `computed for definition version ${e.version.slice(0, 12)}, not the current ${version.slice(0, 12)}`,
    };
  if (e.status === 'complete') return 'complete';
  if (e.status === 'pending') return 'pending';
  switch (e.reason) {
    case 'late':
      return {
        kind: 'incomplete',
        reason: `${e.lateRecords} record${e.lateRecords === 1 ? '' : 's'} arrived too late to be folded in`,
      };
    case 'partial':
      return { kind: 'incomplete', reason: 'holds rows of this definition version for part of the day only' };
    case 'stalled':
      return {
        kind: 'incomplete',
        reason: `a backfill (${e.jobId ?? 'unknown'}) marked it pending and never finished`,
      };
    default: {
      // Open: the stream is still computing it. Stale once it lags the source beyond the target.
      const due = Math.min(dayStart(day) + DAY_MS, newestSource === undefined ? -Infinity : newestSource + 1);
      if (due - e.watermark > freshnessMs) {
        return {
          kind: 'stale',
          reason: `computed up to ${new Date(e.watermark).toISOString()}, ${Math.round((due - e.watermark) / 60_000)} min behind its sources (target ${Math.round(freshnessMs / 60_000)} min)`,
        };
      }
      return 'open';
    }
  }
}

function freshnessOf(f: PlanOptions['freshness'], view: string): number {
  if (typeof f === 'number') return f;
  return f?.[view] ?? DEFAULT_FRESHNESS_MS;
}

/**
 * Backfill requests covering the work: per day the views with work that no other view with
 * work that day feeds (a backfill recomputes everything downstream), consecutive days with
 * the same views merged into one request.
 */
function proposeBackfills(repo: FeatureRepo, work: readonly PlannedWork[]): ProposedBackfill[] {
  const byDay = new Map<string, Set<string>>();
  for (const w of work) {
    const s = byDay.get(w.day) ?? new Set<string>();
    s.add(w.view);
    byDay.set(w.day, s);
  }
  const out: ProposedBackfill[] = [];
  let current: { views: string[]; first: number; last: number; days: number } | undefined;
  for (const day of [...byDay.keys()].sort()) {
    const set = byDay.get(day)!;
    const roots = [...set].filter((v) => ![...set].some((o) => o !== v && downstream(repo, o).includes(v))).sort();
    const t = dayStart(day);
    if (current && current.views.join() === roots.join() && current.last + DAY_MS === t) {
      current.last = t;
      current.days++;
    } else {
      if (current) out.push(close(current));
      current = { views: roots, first: t, last: t, days: 1 };
    }
  }
  if (current) out.push(close(current));
  return out;
}

function close(c: { views: string[]; first: number; last: number; days: number }): ProposedBackfill {
  return {
    views: c.views,
    from: new Date(c.first).toISOString(),
    to: new Date(c.last + DAY_MS).toISOString(),
    days: c.days,
  };
}
