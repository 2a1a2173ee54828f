/**
 * Where the interval ledger keeps its rows: the contract between the ledger's rules
 * (ledger.ts: statuses, transitions, what a batch or a backfill changes) and a storage
 * backend (shared/azure/ledger-table.ts on Azure Tables; shared/memory/ledger.ts in memory).
 * A backend stores rows; it never decides what a row says.
 *
 *   updateDay(day, views, next)    read those views' rows of the day, write next(view, row) for each
 *   updateHeads(views, next)       the same for the views' head rows
 *   days({ fromDay?, toDay? })     every day row in the range (inclusive yyyy-mm-dd bounds)
 *   heads()                        every head row
 *   forgetDays(afterDay, views)    delete those views' day rows after `afterDay`
 *
 * An update is all or nothing, and only over the rows as read: when another writer changed
 * one meanwhile, the backend reads again and calls `next` again (so `next` must be pure), and
 * gives up with a DependencyError (retry later) when the rows keep changing. `next` returning
 * the row it was given (the same object) leaves that row as it is. Rows come and go as plain
 * copies: changing one changes nothing stored.
 */

/** How complete one view's rows of one definition version are on one UTC day (ledger.ts explains each field). */
export interface DayRow {
  day: string;
  view: string;
  version: string;
  status: string;
  reason?: string;
  watermark: number;
  rows: number;
  backfillRows: number;
  lateRecords: number;
  /** Wall time the newest late record was recorded. */
  lateMarkedAt?: number;
  closesAt: number;
  /** JSON [[from, to, rows], ...]: the parts of the day the current backfill computed. */
  parts?: string;
  jobId?: string;
  pendingSince?: number;
  updatedAt: number;
  updatedBy: string;
}

/** One view's (or source's) clock and event span for its current version. */
export interface HeadRow {
  view: string;
  version: string;
  watermark: number;
  earliestEvent?: number;
  newestEvent?: number;
  updatedAt: number;
}

export interface LedgerStore {
  updateDay(
    day: string,
    views: ReadonlySet<string>,
    next: (view: string, row: DayRow | undefined) => DayRow,
  ): Promise<void>;
  updateHeads(views: ReadonlySet<string>, next: (view: string, head: HeadRow | undefined) => HeadRow): Promise<void>;
  days(range: { fromDay?: string; toDay?: string }): Promise<DayRow[]>;
  heads(): Promise<HeadRow[]>;
  forgetDays(afterDay: string, views: ReadonlySet<string>): Promise<void>;
}
