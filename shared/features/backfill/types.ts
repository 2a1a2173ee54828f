/**
 * The vocabulary of backfills, shared by the planner, the interval worker, the in-process
 * driver and the Durable orchestration (whose activities pass these as JSON).
 */
import type { FeatureRepo } from '../definitions/repo';
import type { OfflineStore } from '../offline/store';
import type { OnlineStore } from '../online/types';
import type { IntervalLedger } from '../ledger/ledger';
import type { BackfillRequest } from './request';
import type { OnlineRefresh } from '../online/materialize';

export interface BackfillDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  online: OnlineStore;
  /** null: do not record intervals (benchmarks of the bare compute). */
  ledger: IntervalLedger | null;
  /** Wall clock (the cap "now minus lateness" and ledger times); default Date.now. */
  now?: () => number;
}

export interface PlannedView {
  view: string;
  version: string;
  /** 0 for views over sources; a derived view runs one stage after its inputs in the backfill. */
  stage: number;
  /** The range recomputed, [from, to): the request's, widened back where a derived view of the backfill needs this view's earlier rows. */
  from: number;
  to: number;
}

export interface PlannedInterval {
  from: number;
  /** Exclusive; the last interval may end early, at the cap. */
  to: number;
  /** Views of the stage computed for this interval (a view over a source with no data in reach is left out). */
  views: string[];
}

export interface PlannedStage {
  views: string[];
  intervals: PlannedInterval[];
}

export interface BackfillPlan {
  jobId: string;
  request: BackfillRequest;
  /**
   * Where the backfill stops: the stream's clock (the newest event of any source on the
   * feature clock, or now minus the largest lateness when later), or the request's end. Rows
   * after it are the stream's to write, as they fall due.
   */
  cap: number;
  views: PlannedView[];
  stages: PlannedStage[];
  /** Interval runs (a (stage, interval) pair each). */
  intervals: number;
  versions: Record<string, string>;
}

/** One interval of one stage, the unit of work (one activity). */
export interface IntervalTask {
  jobId: string;
  stage: number;
  from: number;
  to: number;
  views: string[];
  /** The versions planned: an app redeployed with other definitions mid-backfill refuses the task. */
  versions: Record<string, string>;
  /** The day's computable end (the plan's cap), for the ledger. */
  cap: number;
}

/** The tasks of one stage of a plan, one per interval: what the orchestration fans out and run.ts runs in process. */
export function intervalTasks(plan: BackfillPlan, stage: number): IntervalTask[] {
  return plan.stages[stage]!.intervals.map((i) => ({
    jobId: plan.jobId,
    stage,
    from: i.from,
    to: i.to,
    views: i.views,
    versions: plan.versions,
    cap: plan.cap,
  }));
}

export interface ViewIntervalResult {
  view: string;
  /** committed: new rows; already-committed: this interval's segment existed (a resumed or repeated backfill); empty: no input, nothing to write. */
  status: 'committed' | 'already-committed' | 'empty';
  rows: number;
  segments: string[];
  /** Transform problems (an expression that threw), as lines; at most 20. */
  problems: string[];
  /** Where the rows were computed: one DuckDB query (sql-windows.ts) or the JS pipeline; absent when nothing was. */
  computedBy?: 'duckdb' | 'js';
}

export interface IntervalResult {
  stage: number;
  from: number;
  to: number;
  views: ViewIntervalResult[];
}

export type { OnlineRefresh };

/** The custom status of a running backfill and, with `online`, its output. */
export interface BackfillProgress {
  jobId: string;
  phase: 'planning' | 'computing' | 'refreshing online' | 'done';
  /** `2/3` while computing. */
  stage?: string;
  intervals: { total: number; done: number; committed: number; skipped: number; empty: number };
  rows: Record<string, number>;
  from?: string;
  to?: string;
  views?: string[];
  online?: OnlineRefresh[];
}

export function emptyProgress(jobId: string): BackfillProgress {
  return { jobId, phase: 'planning', intervals: { total: 0, done: 0, committed: 0, skipped: 0, empty: 0 }, rows: {} };
}

/** Fold a plan and finished intervals into the progress (pure: the orchestrator calls it on replay). */
export function withPlan(p: BackfillProgress, plan: BackfillPlan): BackfillProgress {
  return {
    ...p,
    phase: 'computing',
    intervals: { ...p.intervals, total: plan.intervals },
    rows: Object.fromEntries(plan.views.map((v) => [v.view, 0])),
    from: new Date(plan.request.from).toISOString(),
    to: new Date(plan.cap).toISOString(),
    views: plan.views.map((v) => v.view),
  };
}

export function withInterval(p: BackfillProgress, r: IntervalResult): BackfillProgress {
  const rows = { ...p.rows };
  for (const v of r.views) rows[v.view] = (rows[v.view] ?? 0) + v.rows;
  const kind = r.views.some((v) => v.status === 'committed')
    ? 'committed'
    : r.views.every((v) => v.status === 'empty')
      ? 'empty'
      : 'skipped';
  return { ...p, rows, intervals: { ...p.intervals, done: p.intervals.done + 1, [kind]: p.intervals[kind] + 1 } };
}
