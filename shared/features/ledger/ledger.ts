/**
 * The interval ledger: for each feature view (and each source's own records, `src.<source>`)
 * and UTC day, how complete the offline rows of the view's current definition version are.
 * Ingest updates it once per batch, backfills once per interval; the plan and the views'
 * caught-up flags read it. It is an index over the offline store, never the data itself.
 *
 *   const ledger = new IntervalLedger(store)                                  store: a LedgerStore (platform.ts builds it)
 *   ledger.recordStream(streamUpdate(repo, pipelineResult, clock, { source, accepted }))   one call per ingest batch
 *   ledger.markPending([{ view, version, day, closesAt }], jobId) / ledger.recordBackfill(parts)   a backfill's days
 *   ledger.entries({ fromDay?, toDay?, views? }) -> LedgerEntry[]                    effective statuses
 *   ledger.heads() -> Map<view, LedgerHead>                                           watermark per view
 *   ledger.rewind(heads, forgetAfterDay)                                              admin repair of a clock that ran ahead
 *
 * Statuses (per view, version and day):
 *   complete    the day's rows are final: a backfill computed the whole day, or the stream's
 *               clock passed the day's end plus the view's lateness (nothing more can fold in);
 *   incomplete  rows are missing or may still change — `reason` says why:
 *                 open     the stream is still writing the day (complete once the clock passes closesAt),
 *                 late     records arrived too late to be folded in (recompute with a backfill),
 *                 partial  the day holds rows of this version for part of it only (the definition
 *                          changed mid-day, or a backfill covered part of it),
 *                 stalled  a backfill marked it pending long ago and never finished;
 *   pending     a backfill has planned the day and not finished it;
 *   none        nothing is recorded for the view's current version (reported by readers for
 *               a day with no row, or a row of another version).
 *
 * Rows live in a LedgerStore (store.ts): one row per (day, view), a head row per view; a batch
 * touches one or two days, so one read and one write per day. Rows change all or nothing over
 * what was read (optimistic, retried on a lost race), so concurrent batches never lose each
 * other's counts or move a watermark back. Row counts may count a batch twice if ingest crashes
 * between this update and its batch-done marker (statuses and watermarks are idempotent).
 */
import type { DayRow, HeadRow, LedgerStore } from './store';
import type { FeatureRepo } from '../definitions/repo';
import type { PipelineResult } from '../compute/pipeline';
import type { ValidRecord } from '../ingest/validate';
import { downstream } from '../compute/dag';
import { forEachLimit, settleAll } from '../../concurrency';
import { eventDay, dayStart, sourceOfSegmentView, sourceSegmentView } from '../offline/segment-id';

export const DAY_MS = 86_400_000;
/** A pending day whose backfill has not reported for this long is reported `stalled`. */
export const DEFAULT_PENDING_TIMEOUT_MS = 6 * 3_600_000;

export type IntervalStatus = 'complete' | 'incomplete' | 'pending' | 'none';
export type IncompleteReason = 'open' | 'late' | 'partial' | 'stalled';

export interface LedgerEntry {
  /** A view name, or `src.<source>` for a source's own records. */
  view: string;
  version: string;
  day: string;
  /** The day's bounds [from, to), epoch ms. */
  from: number;
  to: number;
  status: Exclude<IntervalStatus, 'none'>;
  reason?: IncompleteReason;
  /** Event time up to which the day's rows are computed (capped at the day's end). */
  watermark: number;
  /** Rows the stream wrote for the day. */
  rows: number;
  /** Rows backfills wrote for the day (the last backfill's parts). */
  backfillRows: number;
  /** Records that arrived too late to be folded into the day (or into a window reaching it). */
  lateRecords: number;
  /** When the stream can no longer change the day: its end plus the view's lateness. */
  closesAt: number;
  /** The backfill that marked or computed the day. */
  jobId?: string;
  updatedAt: number;
  updatedBy: 'ingest' | 'backfill';
}

export interface LedgerHead {
  view: string;
  version: string;
  /** Event time up to which the view's rows of this version are computed. */
  watermark: number;
  /** Sources (`src.<source>`): the oldest and newest event stored. */
  earliestEvent?: number;
  newestEvent?: number;
  updatedAt: number;
}

/** One ingest batch's effect, per (view, day) and per view head: see streamUpdate(). */
export interface StreamUpdate {
  at: number;
  days: DayDelta[];
  heads: HeadDelta[];
}

export interface DayDelta {
  view: string;
  version: string;
  day: string;
  closesAt: number;
  rows: number;
  maxEventTs: number;
  late: number;
}

export interface HeadDelta {
  view: string;
  version: string;
  watermark: number;
  earliestEvent?: number;
  newestEvent?: number;
}

/** What one backfill interval computed for one view and day. */
export interface BackfillPart {
  view: string;
  version: string;
  day: string;
  /** The part of the day computed, [from, to). */
  from: number;
  to: number;
  /** Where the backfill's range ends for this day: the day's end, or the clock when earlier. */
  dayEnd: number;
  closesAt: number;
  rows: number;
  /** When the interval listed its inputs: late records marked after this were not read. */
  inputsListedAt: number;
  jobId: string;
}

type Row = DayRow;

export class IntervalLedger {
  constructor(private readonly store: LedgerStore) {}

  /** Apply one ingest batch: rows and late records per day, the views' watermarks. */
  async recordStream(u: StreamUpdate): Promise<void> {
    if (!u.days.length && !u.heads.length) return;
    const byDay = groupBy(u.days, (d) => d.day);
    await settleAll([
      ...[...byDay].map(([day, deltas]) =>
        this.store.updateDay(day, new Set(deltas.map((d) => d.view)), (view, row) =>
          applyStream(
            row,
            deltas.find((d) => d.view === view)!,
            u.at,
          ),
        ),
      ),
      this.mergeHeads(u.heads, u.at),
    ]);
  }

  /** A backfill planned these days: pending (a new job starts the days' parts afresh). */
  async markPending(
    items: ReadonlyArray<{ view: string; version: string; day: string; closesAt: number }>,
    jobId: string,
    at = Date.now(),
  ): Promise<void> {
    const byDay = groupBy(items, (i) => i.day);
    await forEachLimit([...byDay], 4, ([day, list]) =>
      this.store.updateDay(day, new Set(list.map((i) => i.view)), (view, row) => {
        const item = list.find((i) => i.view === view)!;
        const base = row && row.version === item.version ? row : fresh(day, view, item.version, item.closesAt, at);
        const sameJob = base.jobId === jobId;
        return {
          ...base,
          status: base.status === 'complete' && sameJob ? 'complete' : 'pending',
          reason: undefined,
          ...(sameJob ? {} : { parts: '[]', backfillRows: 0 }),
          jobId,
          pendingSince: sameJob ? (base.pendingSince ?? at) : at,
          updatedAt: at,
          updatedBy: 'backfill',
        };
      }),
    );
  }

  /** A backfill computed part of a day (idempotent per part: a re-run activity changes nothing). */
  async recordBackfill(parts: ReadonlyArray<BackfillPart>, at = Date.now()): Promise<void> {
    const byDay = groupBy(parts, (p) => p.day);
    await settleAll(
      [...byDay].map(([day, list]) =>
        this.store.updateDay(day, new Set(list.map((p) => p.view)), (view, row) => {
          let out = row;
          for (const p of list.filter((x) => x.view === view)) out = applyBackfill(out, p, at);
          return out!;
        }),
      ),
    );
    const heads = new Map<string, HeadDelta>();
    for (const p of parts) {
      const h = heads.get(p.view);
      if (!h || h.watermark < p.to) heads.set(p.view, { view: p.view, version: p.version, watermark: p.to });
    }
    await this.mergeHeads([...heads.values()], at);
  }

  /**
   * An admin repair of a clock that ran ahead (features/ingest/future-records.ts): set these views'
   * heads back to the watermark (and newest event) given, and forget their day rows after
   * `forgetAfterDay`. The only update that moves a watermark back.
   */
  async rewind(heads: readonly HeadDelta[], forgetAfterDay: string, at = Date.now()): Promise<void> {
    const byView = new Map(heads.map((h) => [h.view, h]));
    await this.store.updateHeads(new Set(byView.keys()), (view, h) => {
      const d = byView.get(view)!;
      if (!h || h.version !== d.version) return h as HeadRow;
      const row: HeadRow = { view, version: h.version, watermark: d.watermark, updatedAt: at };
      if (h.earliestEvent !== undefined) row.earliestEvent = h.earliestEvent;
      const newest = d.newestEvent ?? h.newestEvent;
      if (newest !== undefined) row.newestEvent = newest;
      return row;
    });
    await this.store.forgetDays(forgetAfterDay, new Set(byView.keys()));
  }

  /** Day rows (with effective statuses) in a day range, optionally for some views only. */
  async entries(
    q: { fromDay?: string; toDay?: string; views?: readonly string[]; now?: number; pendingTimeoutMs?: number } = {},
  ): Promise<LedgerEntry[]> {
    const wanted = q.views ? new Set(q.views) : undefined;
    const range = { ...(q.fromDay ? { fromDay: q.fromDay } : {}), ...(q.toDay ? { toDay: q.toDay } : {}) };
    const [rows, heads] = await Promise.all([this.store.days(range), this.heads()]);
    const now = q.now ?? Date.now();
    const timeout = q.pendingTimeoutMs ?? DEFAULT_PENDING_TIMEOUT_MS;
    return rows
      .filter((r) => !wanted || wanted.has(r.view))
      .map((r) => effective(r, heads.get(r.view), now, timeout))
      .sort((a, b) => a.day.localeCompare(b.day) || a.view.localeCompare(b.view));
  }

  async heads(): Promise<Map<string, LedgerHead>> {
    const out = new Map<string, LedgerHead>();
    for (const e of await this.store.heads()) {
      out.set(e.view, {
        view: e.view,
        version: e.version,
        watermark: e.watermark,
        ...(e.earliestEvent !== undefined ? { earliestEvent: e.earliestEvent } : {}),
        ...(e.newestEvent !== undefined ? { newestEvent: e.newestEvent } : {}),
        updatedAt: e.updatedAt,
      });
    }
    return out;
  }

  /** Heads move forward only (max watermark and newest event, min earliest), under ETag like day rows. */
  private async mergeHeads(deltas: readonly HeadDelta[], at: number): Promise<void> {
    if (!deltas.length) return;
    const byView = new Map(deltas.map((d) => [d.view, d]));
    await this.store.updateHeads(new Set(byView.keys()), (view, h) => {
      const d = byView.get(view)!;
      const same = h?.version === d.version;
      const row: HeadRow = {
        view,
        version: d.version,
        watermark: same ? Math.max(h!.watermark, d.watermark) : d.watermark,
        updatedAt: at,
      };
      const earliest = minDefined(same ? h!.earliestEvent : undefined, d.earliestEvent);
      const newest = maxDefined(same ? h!.newestEvent : undefined, d.newestEvent);
      if (earliest !== undefined) row.earliestEvent = earliest;
      if (newest !== undefined) row.newestEvent = newest;
      if (
        same &&
        row.watermark === h!.watermark &&
        row.earliestEvent === h!.earliestEvent &&
        row.newestEvent === h!.newestEvent
      )
        return h!;
      return row;
    });
  }
}

// ---------------------------------------------------------------------------------------------
// State transitions (pure)

function fresh(day: string, view: string, version: string, closesAt: number, at: number): Row {
  return {
    day,
    view,
    version,
    status: 'incomplete',
    reason: 'open',
    watermark: dayStart(day),
    rows: 0,
    backfillRows: 0,
    lateRecords: 0,
    closesAt,
    parts: '[]',
    updatedAt: at,
    updatedBy: 'ingest',
  };
}

function applyStream(row: Row | undefined, d: DayDelta, at: number): Row {
  const start = dayStart(d.day);
  const end = start + DAY_MS;
  // A day with rows of an older version: this version holds it only from now on.
  const newVersion = row !== undefined && row.version !== d.version;
  const base = !row || newVersion ? fresh(d.day, d.view, d.version, d.closesAt, at) : row;
  if (newVersion) base.reason = 'partial';
  const out: Row = {
    ...base,
    rows: base.rows + d.rows,
    watermark: Math.max(base.watermark, Math.min(d.maxEventTs + 1, end)),
    lateRecords: base.lateRecords + d.late,
    closesAt: Math.max(base.closesAt, d.closesAt),
    updatedAt: at,
    updatedBy: 'ingest',
  };
  if (d.late > 0) {
    out.lateMarkedAt = at;
    // A pending day keeps its backfill; the backfill's completion checks lateMarkedAt.
    if (out.status !== 'pending') {
      out.status = 'incomplete';
      out.reason = 'late';
    }
  }
  return out;
}

function applyBackfill(row: Row | undefined, p: BackfillPart, at: number): Row {
  const base =
    row && row.version === p.version
      ? row
      : { ...fresh(p.day, p.view, p.version, p.closesAt, at), status: 'pending', reason: undefined };
  const parts = (
    JSON.parse(base.jobId === p.jobId ? (base.parts ?? '[]') : '[]') as Array<[number, number, number]>
  ).filter(([f, t]) => !(f === p.from && t === p.to));
  parts.push([p.from, p.to, p.rows]);
  parts.sort((a, b) => a[0] - b[0]);
  const start = dayStart(p.day);
  // Covered from the day's start without a gap up to where?
  let reach = start;
  for (const [f, t] of parts) if (f <= reach) reach = Math.max(reach, t);
  const out: Row = {
    ...base,
    parts: JSON.stringify(parts),
    backfillRows: parts.reduce((n, x) => n + x[2], 0),
    watermark: Math.max(base.watermark, Math.min(reach, start + DAY_MS)),
    closesAt: Math.max(base.closesAt, p.closesAt),
    jobId: p.jobId,
    updatedAt: at,
    updatedBy: 'backfill',
  };
  delete out.reason;
  if (base.lateMarkedAt !== undefined && base.lateMarkedAt > p.inputsListedAt) {
    out.status = 'incomplete';
    out.reason = 'late';
  } else if (reach >= start + DAY_MS) {
    out.status = 'complete';
  } else if (reach >= p.dayEnd) {
    // Computed up to the clock: the stream writes the rest of the day.
    out.status = 'incomplete';
    out.reason = 'open';
  } else {
    out.status = 'pending';
  }
  return out;
}

function effective(r: Row, head: LedgerHead | undefined, now: number, pendingTimeoutMs: number): LedgerEntry {
  const from = dayStart(r.day);
  let status = r.status as LedgerEntry['status'];
  let reason = r.reason as IncompleteReason | undefined;
  let watermark = r.watermark;
  const sameHead = head !== undefined && head.version === r.version;
  if (status === 'incomplete' && reason === 'open' && sameHead) {
    // The stream computed everything up to its clock, this day included.
    watermark = Math.max(watermark, Math.min(head.watermark, from + DAY_MS));
    // watermark = clock + 1; a record at the day's last ms is late once clock > end - 1 + lateness.
    if (head.watermark > r.closesAt) {
      status = 'complete';
      reason = undefined;
    }
  }
  if (status === 'pending' && r.pendingSince !== undefined && now - r.pendingSince > pendingTimeoutMs) {
    status = 'incomplete';
    reason = 'stalled';
  }
  return {
    view: r.view,
    version: r.version,
    day: r.day,
    from,
    to: from + DAY_MS,
    status,
    ...(reason ? { reason } : {}),
    watermark,
    rows: r.rows,
    backfillRows: r.backfillRows ?? 0,
    lateRecords: r.lateRecords,
    closesAt: r.closesAt,
    ...(r.jobId ? { jobId: r.jobId } : {}),
    updatedAt: r.updatedAt,
    updatedBy: r.updatedBy === 'backfill' ? 'backfill' : 'ingest',
  };
}

// ---------------------------------------------------------------------------------------------
// What one ingest batch did, as ledger deltas

/**
 * The ledger deltas of one ingest batch: rows per (view, day); late inputs mark the days a
 * late record could have changed (its day up to its windows' reach) in its view and every view
 * downstream; heads move every pipeline view to the clock and record the source's event span.
 */
export function streamUpdate(
  repo: FeatureRepo,
  result: PipelineResult,
  clock: number,
  records?: { source: string; accepted: ReadonlyArray<ValidRecord> },
  at = Date.now(),
): StreamUpdate {
  const days = new Map<string, DayDelta>();
  const delta = (view: string, day: string): DayDelta => {
    const key = `${view}\u0000${day}`;
    let d = days.get(key);
    if (!d) {
      const source = sourceOfSegmentView(view);
      const v = source === undefined ? repo.view(view) : undefined;
      const version = v ? v.version : repo.source(source!).version;
      const lateness = v ? v.latenessMs : Math.max(0, ...repo.viewsReading(source!).map((x) => x.latenessMs));
      days.set(
        key,
        (d = {
          view,
          version,
          day,
          closesAt: dayStart(day) + DAY_MS + lateness,
          rows: 0,
          maxEventTs: -Infinity,
          late: 0,
        }),
      );
    }
    return d;
  };
  for (const [view, rows] of result.rows) {
    for (const r of rows) {
      const d = delta(view, eventDay(r.eventTs));
      d.rows++;
      if (r.eventTs > d.maxEventTs) d.maxEventTs = r.eventTs;
    }
  }
  for (const l of result.late) {
    const ts = l.kind === 'record' ? l.record.eventTs : l.row.eventTs;
    const v = repo.view(l.view);
    const reach = v.warmUpMs === null ? 0 : v.warmUpMs - v.latenessMs;
    for (const view of downstream(repo, l.view, { includeSelf: true })) {
      for (let t = Math.floor(ts / DAY_MS) * DAY_MS; t <= ts + reach; t += DAY_MS) delta(view, eventDay(t)).late++;
    }
  }
  const src = records ? sourceSegmentView(records.source) : '';
  let earliest = Infinity;
  let newest = -Infinity;
  for (const r of records?.accepted ?? []) {
    const d = delta(src, eventDay(r.eventTs));
    d.rows++;
    if (r.eventTs > d.maxEventTs) d.maxEventTs = r.eventTs;
    earliest = Math.min(earliest, r.eventTs);
    newest = Math.max(newest, r.eventTs);
  }
  const heads: HeadDelta[] = [];
  if (Number.isFinite(clock)) {
    for (const name of repo.viewOrder)
      heads.push({ view: name, version: repo.view(name).version, watermark: clock + 1 });
  }
  if (records?.accepted.length) {
    heads.push({
      view: src,
      version: repo.source(records.source).version,
      watermark: clock + 1,
      earliestEvent: earliest,
      newestEvent: newest,
    });
  }
  return { at, days: [...days.values()], heads };
}

// ---------------------------------------------------------------------------------------------

function groupBy<T>(list: ReadonlyArray<T>, key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of list) {
    const k = key(x);
    const l = out.get(k);
    if (l) l.push(x);
    else out.set(k, [x]);
  }
  return out;
}

const minDefined = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);
const maxDefined = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);
