/**
 * Planning a backfill: which views, over which ranges, in which stages and intervals.
 *
 *   planBackfill(deps, request, jobId) -> BackfillPlan
 *
 * - Views: the requested ones and everything downstream of them, at the app's definition
 *   versions. Stage 0 holds views over sources; a derived view runs one stage after the
 *   latest of its inputs that the backfill recomputes (it reads their new rows from the
 *   offline store), so intervals within a stage are independent and fan out.
 * - Ranges: the request's whole days. A view that a derived view of the backfill reads is
 *   recomputed from further back — by its TTL (how far back the derived view looks for its
 *   latest row), or from the first source event when it has none — so the derived view's
 *   first values see the new rows of its inputs. Never before the first source event.
 * - Cap: nothing after the stream's clock (the newest event of any source on the feature
 *   clock, or now minus the largest lateness when that is later): rows that fall due later
 *   are the stream's to write, and a backfill must not put future rows online.
 * - Intervals: whole UTC days cut by `intervalMs`; a view over a source skips the days with no
 *   source record within its warm-up reach (nothing could change there).
 */
import type { FeatureRepo, ResolvedView } from '../definitions/repo';
import type { SegmentRecord } from '../offline/types';
import { downstream, upstream } from '../compute/dag';
import { sourceSegmentView } from '../ingest/service';
import { eventDay } from '../offline/segment-id';
import { DAY_MS } from '../ledger/ledger';
import { MAX_INTERVALS, type BackfillRequest } from './request';
import { ValidationError } from '../../errors';

/** Interval-by-view pairs one plan may hold (views reach back past the request by their TTLs). */
const MAX_PLANNED_INTERVALS = 20 * MAX_INTERVALS;
import type { BackfillDeps, BackfillPlan, PlannedInterval, PlannedStage, PlannedView } from './types';

export async function planBackfill(deps: BackfillDeps, req: BackfillRequest, jobId: string): Promise<BackfillPlan> {
  const { repo, offline } = deps;
  const now = (deps.now ?? Date.now)();
  const names = downstream(repo, req.views, { includeSelf: true });
  const inSet = new Set(names);

  // How much earlier than the request each view must start (reverse DAG order).
  const extra = new Map<string, number>();
  for (const name of [...names].reverse()) {
    const v = repo.view(name);
    let e = 0;
    for (const c of repo.consumers(name))
      if (inSet.has(c.name)) e = Math.max(e, (v.ttlMs ?? Infinity) + extra.get(c.name)!);
    extra.set(name, e);
  }

  // Source data spans: every source on the feature clock (the cap), listed once.
  const feeding = [...repo.sources.values()].filter((s) => repo.viewsReading(s.name).length > 0);
  const earliestNeeded = Math.min(...names.map((n) => req.from - extra.get(n)! - (repo.view(n).warmUpMs ?? 0)));
  const spans = new Map<string, SegmentRecord[]>();
  await Promise.all(
    feeding.map(async (s) => {
      const segs = await offline.listSegments(sourceSegmentView(s.name), {
        version: s.version,
        to: req.to,
        ...(Number.isFinite(earliestNeeded) ? { from: earliestNeeded } : {}),
      });
      spans.set(s.name, segs);
    }),
  );
  let clock = -Infinity;
  for (const segs of spans.values()) for (const s of segs) clock = Math.max(clock, Math.min(s.maxEventTs, req.to - 1));
  const maxLateness = Math.max(0, ...[...repo.views.values()].map((v) => v.latenessMs));
  const cap = Math.min(req.to, Math.max(clock + 1, now - maxLateness));

  const stageOf = new Map<string, number>();
  for (const name of names) {
    const v = repo.view(name);
    const ins = v.input.kind === 'views' ? v.input.views.filter((i) => inSet.has(i)) : [];
    stageOf.set(name, ins.length ? 1 + Math.max(...ins.map((i) => stageOf.get(i)!)) : 0);
  }

  const views: PlannedView[] = [];
  for (const name of names) {
    const v = repo.view(name);
    const srcs = upstream(repo, name).sources;
    const first = Math.min(...srcs.map((s) => Math.min(...(spans.get(s) ?? []).map((x) => x.minEventTs))));
    // Whole days (the ledger's unit), then the interval grid from there.
    const from =
      Math.floor(Math.max(req.from - extra.get(name)!, Number.isFinite(first) ? first : req.from) / DAY_MS) * DAY_MS;
    views.push({ view: name, version: v.version, stage: stageOf.get(name)!, from, to: cap });
  }

  // Bounded whatever the input: a request is checked at both edges, but a plan never loops on one that slipped by.
  if (!(Number.isInteger(req.intervalMs) && req.intervalMs > 0)) {
    throw new ValidationError(
      `backfill ${jobId}: intervalMs must be a positive whole number of milliseconds, got ${req.intervalMs}`,
      [{ where: 'intervalMs', problem: 'must be positive' }],
    );
  }
  const planned = views.reduce((n, v) => n + Math.max(0, Math.ceil((v.to - v.from) / req.intervalMs)), 0);
  if (planned > MAX_PLANNED_INTERVALS) {
    throw new ValidationError(
      `backfill ${jobId}: the plan has ${planned} view intervals, more than ${MAX_PLANNED_INTERVALS}; use a longer interval or a shorter range`,
      [{ where: 'to', problem: 'range too long for the interval' }],
    );
  }

  const stages: PlannedStage[] = [];
  const depth = Math.max(-1, ...views.map((v) => v.stage));
  for (let s = 0; s <= depth; s++) {
    const inStage = views.filter((v) => v.stage === s);
    const byStart = new Map<number, PlannedInterval>();
    for (const pv of inStage) {
      const v = repo.view(pv.view);
      for (let a = pv.from; a < pv.to; a += req.intervalMs) {
        const b = Math.min(a + req.intervalMs, pv.to);
        // Skip whole days (so a day is planned entirely or not at all) without source data in reach.
        const day = Math.floor(a / DAY_MS) * DAY_MS;
        if (v.input.kind === 'source' && !hasData(spans.get(v.input.source) ?? [], day - v.warmUpMs!, day + DAY_MS))
          continue;
        const i = byStart.get(a) ?? { from: a, to: b, views: [] };
        i.views.push(pv.view);
        byStart.set(a, i);
      }
    }
    stages.push({
      views: inStage.map((v) => v.view),
      intervals: [...byStart.values()].sort((x, y) => x.from - y.from),
    });
  }

  return {
    jobId,
    request: req,
    cap,
    views,
    stages,
    intervals: stages.reduce((n, s) => n + s.intervals.length, 0),
    versions: Object.fromEntries(views.map((v) => [v.view, v.version])),
  };
}

/** The (view, day) pairs a plan computes, for the ledger. */
export function plannedDays(
  repo: FeatureRepo,
  plan: BackfillPlan,
): Array<{ view: string; version: string; day: string; closesAt: number }> {
  const out = new Map<string, { view: string; version: string; day: string; closesAt: number }>();
  for (const stage of plan.stages) {
    for (const i of stage.intervals) {
      for (const view of i.views) {
        const v: ResolvedView = repo.view(view);
        for (let t = Math.floor(i.from / DAY_MS) * DAY_MS; t < i.to; t += DAY_MS) {
          const day = eventDay(t);
          out.set(`${view}/${day}`, { view, version: v.version, day, closesAt: t + DAY_MS + v.latenessMs });
        }
      }
    }
  }
  return [...out.values()];
}

function hasData(segments: readonly SegmentRecord[], from: number, to: number): boolean {
  return segments.some((s) => s.maxEventTs >= from && s.minEventTs < to);
}
