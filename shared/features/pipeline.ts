/**
 * The whole DAG on one event clock: records of a source in, rows of every affected view out.
 * Ingest (streaming) and backfills use it so that derived views see exactly what their inputs emit.
 *
 *   const p = new FeaturePipeline(repo)                   a WindowState per view (or { views } and everything downstream)
 *   p.warmUp(view, pastInput, until)                      per view, before the first ingest
 *   p.ingest(source, validRecords) -> PipelineResult      rows per view in DAG order (+ late, problems)
 *   p.ingestRows(view, rows)       -> PipelineResult      rows of a view this pipeline does not compute
 *                                                         (a backfill reads them from the offline store) into its consumers
 *   p.flush(until)                 -> PipelineResult      move the clock without records (idle streams, interval ends)
 *   p.watermark                                           the shared event clock
 *
 * One clock for all views: the newest event time seen in any source. Every view advances to it on
 * every ingest, so a quiet source's windows still empty on time and a derived view never waits for
 * an idle input. The price: lateness is measured against that clock, so a source that lags the
 * others by more than a view's lateness has its records returned as late (for a backfill).
 */
import type { FeatureRow } from './types';
import type { FeatureRepo } from './repo';
import type { ValidRecord } from './validate';
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

  constructor(
    readonly repo: FeatureRepo,
    opts: { views?: string[] } = {},
  ) {
    const names = opts.views ? downstream(repo, opts.views, { includeSelf: true }) : repo.viewOrder;
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
    return this.state(view).warmUp(input, until);
  }

  ingest(source: string, records: ReadonlyArray<ValidRecord>): PipelineResult {
    this.repo.source(source);
    for (const r of records) if (r.eventTs > this.clock) this.clock = r.eventTs;
    return this.run((s) => (s === source ? records : []));
  }

  ingestRows(view: string, rows: ReadonlyArray<FeatureRow>): PipelineResult {
    this.repo.view(view);
    if (this.states.has(view)) throw new Error(`view "${view}" is computed by this pipeline; feed its source records instead`);
    for (const r of rows) if (r.eventTs > this.clock) this.clock = r.eventTs;
    return this.run(() => [], new Map([[view, rows]]));
  }

  flush(until: number): PipelineResult {
    if (until > this.clock) this.clock = until;
    return this.run(() => []);
  }

  private run(recordsOf: (source: string) => ReadonlyArray<ValidRecord>, external = new Map<string, ReadonlyArray<FeatureRow>>()): PipelineResult {
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
      const r = state.advance(input, { watermark: this.clock });
      if (r.rows.length) result.rows.set(name, r.rows);
      for (const l of r.late) result.late.push({ ...l, view: name });
      result.problems.push(...r.problems);
    }
    return result;
  }
}
