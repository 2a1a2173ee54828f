/**
 * The whole DAG on one event clock: records of a source in, rows of every affected view out.
 * Ingest (streaming) and backfills use it so that derived views see exactly what their inputs emit.
 *
 *   const p = new FeaturePipeline(repo)                   a WindowState per view (or { views } and everything downstream, or { only })
 *   p.warmUp(view, pastInput, until)                      per view, before the first ingest
 *   p.ingest(source, validRecords) -> PipelineResult      rows per view in DAG order (+ late, problems)
 *   p.ingestRows(view, rows)       -> PipelineResult      rows of a view this pipeline does not compute
 *                                                         (a backfill reads them from the offline store) into its consumers
 *   p.flush(until)                 -> PipelineResult      move the clock without records (idle streams, interval ends)
 *   p.watermark                                           the shared event clock
 *
 * One clock for all views: the newest event time seen in any source (ingest gives each source a
 * pipeline of its own, so that is the source's clock; lateness within it is per partition, `lane`). Every view advances to it on
 * every ingest, so a quiet source's windows still empty on time and a derived view never waits for
 * an idle input. The price: lateness is measured against that clock, so a source that lags the
 * others by more than a view's lateness has its records returned as late (for a backfill).
 */
import type { FeatureRow } from '../definitions/values';
import type { FeatureRepo } from '../definitions/repo';
import type { ValidRecord } from '../ingest/validate';
import { downstream } from './dag';
import { WindowState, type LateInput, type TransformProblem, type TransformResult, type ViewInput } from './transform';

export interface PipelineResult {
  /** Views with new rows, in DAG order. */
  rows: Map<string, FeatureRow[]>;
  late: Array<LateInput & { view: string }>;
  problems: TransformProblem[];
}

export class FeaturePipeline {
  private readonly states = new Map<string, WindowState>();
  private clock = -Infinity;
  /** Per ordered stream (an Event Hubs partition): the newest event time it brought. */
  private readonly lanes = new Map<string, number>();
  /** Whether state was loaded from history (warmUp): lanes new after it start at the pipeline clock. */
  private warmed = false;

  constructor(
    readonly repo: FeatureRepo,
    /** views: those and everything downstream; only: exactly these (ingest keeps derived views out, see derived-from-store.ts). */
    opts: { views?: string[]; only?: string[] } = {},
  ) {
    const names = opts.only
      ? repo.viewOrder.filter((v) => opts.only!.includes(v))
      : opts.views
        ? downstream(repo, opts.views, { includeSelf: true })
        : repo.viewOrder;
    for (const n of names) this.states.set(n, new WindowState(repo, n));
  }

  get watermark(): number {
    return this.clock;
  }

  /** The views this pipeline computes, in DAG order. */
  get views(): string[] {
    return [...this.states.keys()];
  }

  state(view: string): WindowState {
    const s = this.states.get(view);
    if (!s) this.repo.view(view); // NotFoundError for an unknown name
    if (!s) throw new Error(`view "${view}" is not computed by this pipeline (views: ${this.views.join(', ')})`);
    return s;
  }

  warmUp(view: string, input: ViewInput, until: number): Pick<TransformResult, 'problems'> {
    const r = this.state(view).warmUp(input, until);
    if (until - 1 > this.clock) this.clock = until - 1; // the clock a lane new to the pipeline is measured against
    this.warmed = true;
    return r;
  }

  /**
   * `lane`: the ordered stream the records come from (a partition): lateness is measured against
   * its own clock (see transform.ts), so one partition running ahead never makes another's records late.
   */
  ingest(source: string, records: ReadonlyArray<ValidRecord>, opts: { lane?: string } = {}): PipelineResult {
    this.repo.source(source);
    // A lane new to a fresh pipeline has no clock yet: its first batch is measured against itself,
    // not against lanes that ran ahead (a replayed backlog reaches the partitions in turn: one
    // read after the others would otherwise be all late, its entities left with no features).
    // After a warm-up a new lane starts at the pipeline clock, as if it were on time: the state
    // holds no history before the warm-up for entities it has not seen.
    const known = opts.lane !== undefined ? this.lanes.get(opts.lane) : undefined;
    const firstOfLane = opts.lane !== undefined && known === undefined && !this.warmed;
    const lane = opts.lane !== undefined ? (known ?? (firstOfLane ? -Infinity : this.clock)) : undefined;
    let newest = lane ?? -Infinity;
    for (const r of records) {
      if (r.eventTs > this.clock) this.clock = r.eventTs;
      if (r.eventTs > newest) newest = r.eventTs;
    }
    if (opts.lane !== undefined) this.lanes.set(opts.lane, newest);
    return this.run((s) => (s === source ? records : []), new Map(), lane, firstOfLane);
  }

  /** A lane's clock known from storage (a warm-up reads it from the committed batches). */
  setLaneClock(lane: string, clock: number): void {
    this.lanes.set(lane, Math.max(this.lanes.get(lane) ?? -Infinity, clock));
  }

  ingestRows(view: string, rows: ReadonlyArray<FeatureRow>): PipelineResult {
    this.repo.view(view);
    if (this.states.has(view))
      throw new Error(`view "${view}" is computed by this pipeline; feed its source records instead`);
    for (const r of rows) if (r.eventTs > this.clock) this.clock = r.eventTs;
    return this.run(() => [], new Map([[view, rows]]));
  }

  flush(until: number): PipelineResult {
    if (until > this.clock) this.clock = until;
    for (const [lane, clock] of this.lanes) if (until > clock) this.lanes.set(lane, until); // time passed for every stream
    return this.run(() => []);
  }

  private run(
    recordsOf: (source: string) => ReadonlyArray<ValidRecord>,
    external = new Map<string, ReadonlyArray<FeatureRow>>(),
    lane?: number,
    firstOfLane = false,
  ): PipelineResult {
    const retainFrom = Math.min(this.clock, ...this.lanes.values());
    const result: PipelineResult = { rows: new Map(), late: [], problems: [] };
    for (const [name, state] of this.states) {
      const view = state.view;
      let input: ViewInput;
      if (view.input.kind === 'source') {
        input = recordsOf(view.input.source);
      } else {
        const upstream: Record<string, ReadonlyArray<FeatureRow>> = {};
        for (const i of view.input.views) {
          const rows = result.rows.get(i) ?? external.get(i);
          if (rows) upstream[i] = rows;
        }
        input = upstream;
      }
      const r = state.advance(input, {
        watermark: this.clock,
        retainFrom,
        ...(lane !== undefined ? { lane } : {}),
        ...(firstOfLane ? { firstOfLane } : {}),
      });
      if (r.rows.length) result.rows.set(name, r.rows);
      for (const l of r.late) result.late.push({ ...l, view: name });
      result.problems.push(...r.problems);
    }
    return result;
  }
}
