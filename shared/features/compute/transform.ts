/**
 * The compute core: feature rows from records. The streaming path (Event Hubs batches) and batch
 * recomputation (backfills) both run this code, so training and serving see the same values.
 *
 *   const state = new WindowState(repo, 'user_clicks')
 *   state.warmUp(pastInput, until)         lookback before `until` (view.warmUpMs of it), emits nothing
 *   state.advance(input, { watermark? })   -> { rows, late, problems }
 *   state.flush(until)                     advance the event clock alone: rows that fall due by time
 *   computeView(repo, view, input, { from?, to?, history? })  one-shot batch: rows with eventTs in [from, to]
 *
 *   input: ValidRecord[] of the view's source, or for a derived view { [inputView]: FeatureRow[] }.
 *
 * ## What a row means
 * Every row is the whole view evaluated at its eventTs, for one entity:
 *   - row-level expression: f(latest record of the entity at or before t);
 *   - sliding(size): the aggregation over records with event time in (t - size, t];
 *   - tumbling(size): the aggregation over the last complete window [k*size, (k+1)*size) ending at
 *     or before t (so a row at a window's end carries that window);
 *   - derived view: expressions over each input view's latest row at or before t (null for an input
 *     with no row yet, or whose row is older than that input view's TTL).
 * A row is emitted at every time the view's value may change: at each event (when the view has
 * row-level or sliding features), when an event leaves a sliding window (at ts + size, or rounded up
 * to the next multiple of `hop`), at the end of a tumbling window holding events and at the end of
 * the window after it, and, for derived views, at each input row and input TTL expiry. Records of one
 * entity with the same event time give one row.
 * createdTs of a row = the newest createdTs among the inputs it was computed from, and among the
 * corrections that took an input out of it (a record replaced by a version with another event
 * time: the rows that counted the old version change, even where the new one does not count, and
 * a row left empty carries the correction's createdTs too): "as known at" reads (created_ts <= T)
 * see a value only once everything it depends on had arrived, and the old value until then.
 *
 * ## Event time, arrival, watermark
 * The state keeps an event clock, the watermark W: the newest event time seen (or a `watermark` /
 * `flush(until)` passed in). Rows at event times up to W are emitted; rows that fall due later
 * (a window emptying, a tumbling window closing) wait until W passes them. Arrival order never
 * changes a result: records are sorted by (event time, createdTs, content) before anything is
 * computed, and `a late record never overwrites newer values` holds because rows carry event times.
 * A record older than W arrives late:
 *   - within the view's lateness (W - lateness <= ts): it is folded in, and every already-emitted
 *     row it changes is emitted again at the same eventTs with the newer createdTs (a correction;
 *     the online store and "as known at" reads take the newest createdTs);
 *   - older: returned in `late`, untouched, for the caller to keep (offline) and to recompute by a
 *     backfill; the state is not changed by it.
 * Inputs from an ordered stream of their own (an Event Hubs partition) may pass that stream's
 * clock (`lane`): lateness is then measured against it, and state is kept back to the slowest
 * stream (`retainFrom`), so a partition lagging the others (a backlog after a restart or a move)
 * is folded in, as it would be were it on time.
 * Records with the source's id field replace earlier records with the same id (newest createdTs
 * wins), so a redelivered or corrected record is counted once; a correction is late (left for a
 * backfill) when either its event time or the replaced version's is older than the lateness. Without an id field, callers must
 * not feed the same batch twice (ingest skips committed batches).
 *
 * ## Guarantee
 * After any split of the same inputs into batches (in any order, within lateness), the newest row
 * per (entity, eventTs) equals what one pass over all inputs gives; and warmUp(history before t)
 * followed by the inputs from t gives exactly the rows from t that a pass over the full history
 * gives. Deterministic: no clocks, no randomness (createdTs comes from the inputs).
 */
import { StrataError } from '../../errors';
import type { FeatureRow, FeatureValue } from '../definitions/values';
import type { FeatureRepo, ResolvedView } from '../definitions/repo';
import type { ValidRecord } from '../ingest/validate';
import { sameValues } from './aggregate';
import {
  DerivedTimeline,
  SourcePlan,
  SourceTimeline,
  runExpression,
  type Evaluation,
  type Item,
  type SourceItem,
  type Timeline,
  type UpstreamItem,
} from './timeline';

/** Inputs of a derived view: rows of its input views, by view name. */
export type UpstreamRows = Readonly<Record<string, ReadonlyArray<FeatureRow>>>;
export type ViewInput = ReadonlyArray<ValidRecord> | UpstreamRows;

export interface TransformProblem {
  view: string;
  entityId: string;
  eventTs: number;
  feature?: string;
  message: string;
}

export type LateInput = { kind: 'record'; record: ValidRecord } | { kind: 'row'; view: string; row: FeatureRow };

export interface TransformResult {
  /** Sorted by (eventTs, entityId). Corrections repeat an earlier eventTs with a newer createdTs. */
  rows: FeatureRow[];
  /** Inputs older than the watermark minus lateness: not applied (recompute them with a backfill). */
  late: LateInput[];
  /** Records without an entity id, expressions that threw or returned a wrong type (value null). */
  problems: TransformProblem[];
}

export class WindowState {
  readonly view: ResolvedView;
  private wm = -Infinity;
  /** State is kept for inputs from here on (minus lateness and reach): the slowest lane's clock, or wm. */
  private retain = -Infinity;
  /**
   * The newest horizon any entity's timeline was evicted to: a held entity's input from a lane's
   * first batch older than it would be evaluated without what was forgotten, so it is late.
   */
  private forgotBefore = -Infinity;
  private readonly timelines = new Map<string, Timeline<Item>>();
  private readonly dueAt = new Map<string, number>();
  private readonly heap = new MinHeap();
  private readonly makeTimeline: () => Timeline<Item>;
  private readonly sourcePlan?: SourcePlan;
  /** The source's id field: records with the same id replace each other. */
  private readonly idField?: string;
  /** Evaluations from here on may need inputs this far back. */
  private readonly keepMs: number;

  constructor(repo: FeatureRepo, viewName: string) {
    const view = repo.view(viewName);
    this.view = view;
    if (view.input.kind === 'source') {
      const plan = new SourcePlan(view);
      this.sourcePlan = plan;
      this.idField = repo.source(view.input.source).idField;
      this.makeTimeline = () => new SourceTimeline(plan) as Timeline<Item>;
      this.keepMs = plan.reach;
    } else {
      const inputs = view.input.views.map((n) => {
        const v = repo.view(n);
        return { name: n, columns: v.columns.map((c) => c.name), ...(v.ttlMs !== undefined ? { ttlMs: v.ttlMs } : {}) };
      });
      this.makeTimeline = () => new DerivedTimeline(view, inputs) as Timeline<Item>;
      this.keepMs = 0; // plus the row in force at the horizon, which DerivedTimeline keeps itself
    }
  }

  /** The event clock: rows up to this time have been emitted. -Infinity before any input. */
  get watermark(): number {
    return this.wm;
  }

  /** Entities with state (memory). */
  get entityCount(): number {
    return this.timelines.size;
  }

  /**
   * Load history before `until` (at least view.warmUpMs of it) without emitting: afterwards the
   * state is as if every row before `until` had been emitted.
   */
  warmUp(input: ViewInput, until: number): Pick<TransformResult, 'problems'> {
    if (until - 1 < this.wm) {
      throw new StrataError(
        `view "${this.view.name}": warm-up until ${new Date(until).toISOString()} is behind the state's watermark; warm up a fresh state`,
      );
    }
    const problems: TransformProblem[] = [];
    const byEntity = this.toItems(input, problems);
    for (const [entity, items] of byEntity) {
      const tooNew = items.find((i) => i.ts >= until);
      if (tooNew) {
        throw new StrataError(
          `view "${this.view.name}": warm-up input at ${new Date(tooNew.ts).toISOString()} is not before until=${new Date(until).toISOString()}; pass it to advance()`,
        );
      }
      const tl = this.timeline(entity);
      tl.insert(items.filter((i) => tl.decide(i).changes));
    }
    this.wm = until - 1;
    this.retain = this.wm;
    for (const entity of byEntity.keys()) this.settle(entity);
    return { problems };
  }

  /**
   * `lane`: the clock of the ordered stream the input comes from (an Event Hubs partition) before
   * it: lateness is measured against it rather than against the view's clock, so a partition
   * lagging the others is not late. `retainFrom`: keep state for inputs that far back (the
   * slowest lane's clock), however far the view's clock moved. `firstOfLane`: the first input of a
   * lane with no clock yet (a partition whose first batch comes after others ran ahead, as when a
   * backlog of history is replayed): nothing in it is late against a clock it never had, only
   * inputs of entities whose state has already been evicted past them (forgotBefore).
   */
  advance(
    input: ViewInput,
    opts: { watermark?: number; lane?: number; firstOfLane?: boolean; retainFrom?: number } = {},
  ): TransformResult {
    const problems: TransformProblem[] = [];
    const late: LateInput[] = [];
    const rows: FeatureRow[] = [];
    const byEntity = this.toItems(input, problems);
    const wPrev = this.wm;
    let wNew = Math.max(wPrev, opts.watermark ?? -Infinity);
    for (const items of byEntity.values()) for (const i of items) if (i.ts > wNew) wNew = i.ts;
    const lateBefore = opts.firstOfLane ? -Infinity : Math.min(wPrev, opts.lane ?? wPrev) - this.view.latenessMs;
    const emit = (entityId: string, t: number, e: Evaluation) =>
      rows.push({ entityId, eventTs: t, createdTs: e.createdTs, values: e.values });

    const touched = new Set<string>();
    for (const [entity, items] of byEntity) {
      const existing = this.timelines.get(entity);
      const accepted: Item[] = [];
      let t0 = Infinity;
      for (const it of items) {
        const d = existing ? existing.decide(it) : { changes: true };
        if (
          it.ts < lateBefore ||
          (d.replacedTs !== undefined && d.replacedTs < lateBefore) ||
          (opts.firstOfLane === true && existing !== undefined && it.ts < this.forgotBefore)
        ) {
          late.push(this.lateOf(it));
          continue;
        }
        if (!d.changes) continue; // an identical or older version of what is held: replay is a no-op
        accepted.push(it);
        t0 = Math.min(t0, it.ts, d.replacedTs ?? Infinity);
      }
      if (!accepted.length) continue;
      const tl = existing ?? this.timeline(entity);
      // What was emitted at [t0, wPrev] (all candidates up to wPrev were), to emit only what changes.
      const before = new Map<number, Evaluation>();
      if (t0 <= wPrev) for (const t of tl.candidates(t0, wPrev)) before.set(t, tl.evaluate(t));
      tl.insert(accepted);
      const times = new Set(before.keys());
      for (const t of tl.candidates(Math.min(t0, wPrev + 1), wNew)) times.add(t);
      for (const t of [...times].sort((a, b) => a - b)) {
        const now = tl.evaluate(t, this.sink(problems, entity, t));
        const was = before.get(t);
        if (was && was.createdTs === now.createdTs && sameValues(was.values, now.values)) continue;
        emit(entity, t, now);
      }
      touched.add(entity);
    }

    // Entities whose value changes by time alone (windows emptying, tumbling windows closing, TTLs).
    for (let top = this.heap.peek(); top && top.t <= wNew; top = this.heap.peek()) {
      this.heap.pop();
      const { entity, t } = top;
      if (touched.has(entity) || this.dueAt.get(entity) !== t) continue; // done above, or a stale entry
      const tl = this.timelines.get(entity)!;
      for (const c of tl.candidates(wPrev + 1, wNew)) emit(entity, c, tl.evaluate(c, this.sink(problems, entity, c)));
      touched.add(entity);
    }

    this.wm = wNew;
    this.retain = Math.min(wNew, opts.retainFrom ?? wNew);
    for (const entity of touched) this.settle(entity);
    rows.sort((a, b) => a.eventTs - b.eventTs || (a.entityId < b.entityId ? -1 : a.entityId > b.entityId ? 1 : 0));
    return { rows, late, problems };
  }

  flush(until: number): TransformResult {
    return this.advance(this.view.input.kind === 'source' ? [] : {}, { watermark: until });
  }

  // -------------------------------------------------------------------------------------------

  private timeline(entity: string): Timeline<Item> {
    let tl = this.timelines.get(entity);
    if (!tl) this.timelines.set(entity, (tl = this.makeTimeline()));
    return tl;
  }

  /** After the watermark moved: forget what is no longer needed and schedule the next due time. */
  private settle(entity: string): void {
    const tl = this.timelines.get(entity);
    if (!tl) return;
    const horizon = Math.min(this.wm, this.retain) - this.view.latenessMs - this.keepMs;
    if (horizon > this.forgotBefore) this.forgotBefore = horizon;
    if (tl.evict(horizon)) {
      this.timelines.delete(entity);
      this.dueAt.delete(entity);
      return;
    }
    // Wake up for the next row that falls due, or to evict an idle entity once its inputs age out.
    const evictAt = tl.quietAfter() + this.view.latenessMs + this.keepMs + 1;
    const due = Math.min(tl.nextCandidateAfter(this.wm), Math.max(evictAt, this.wm + 1));
    if (due === Infinity) {
      this.dueAt.delete(entity);
      return;
    }
    if (this.dueAt.get(entity) !== due) {
      this.dueAt.set(entity, due);
      this.heap.push({ t: due, entity });
    }
  }

  private sink(problems: TransformProblem[], entityId: string, eventTs: number) {
    return (feature: string, message: string) =>
      problems.push({ view: this.view.name, entityId, eventTs, feature, message });
  }

  private lateOf(it: Item): LateInput {
    return this.view.input.kind === 'source'
      ? { kind: 'record', record: it.origin as ValidRecord }
      : { kind: 'row', view: (it as UpstreamItem).input, row: it.origin as FeatureRow };
  }

  /** Records (or upstream rows) as timeline items, grouped by entity. */
  private toItems(input: ViewInput, problems: TransformProblem[]): Map<string, Item[]> {
    const out = new Map<string, Item[]>();
    const push = (entity: string, item: Item) => {
      const list = out.get(entity);
      if (list) list.push(item);
      else out.set(entity, [item]);
    };
    const view = this.view;
    if (view.input.kind === 'source') {
      if (!Array.isArray(input)) {
        throw new StrataError(
          `view "${view.name}" reads source "${view.input.source}": pass its validated records (an array), not upstream rows`,
        );
      }
      const plan = this.sourcePlan!;
      const sourceName = view.input.source;
      const idField = this.idField;
      for (const r of input as ReadonlyArray<ValidRecord>) {
        if (r.source !== sourceName) {
          throw new StrataError(
            `view "${view.name}" reads source "${sourceName}", but was given a record of "${r.source}"`,
          );
        }
        const key = r.data[view.joinKey];
        if (typeof key !== 'string' && typeof key !== 'number') {
          problems.push({
            view: view.name,
            entityId: '',
            eventTs: r.eventTs,
            message: `record has no entity id in field "${view.joinKey}"`,
          });
          continue;
        }
        const entityId = String(key);
        const exprValues: Record<string, FeatureValue> = {};
        for (const f of plan.exprs) {
          exprValues[f.name] = runExpression(f, r.data, (feature, message) =>
            problems.push({ view: view.name, entityId, eventTs: r.eventTs, feature, message }),
          );
        }
        const id = idField !== undefined ? r.data[idField] : undefined;
        const item: SourceItem = {
          ts: r.eventTs,
          createdTs: r.createdTs,
          data: r.data,
          origin: r,
          exprValues,
          ...(id !== undefined && id !== null ? { key: String(id) } : {}),
        };
        push(entityId, item);
      }
    } else {
      if (Array.isArray(input)) {
        throw new StrataError(
          `view "${view.name}" is derived from ${view.input.views.map((v) => `"${v}"`).join(', ')}: pass their rows as { view: rows }`,
        );
      }
      const names = new Set(view.input.views);
      for (const [name, list] of Object.entries(input as UpstreamRows)) {
        if (!names.has(name)) {
          throw new StrataError(
            `view "${view.name}" does not read view "${name}"; its inputs: ${[...names].join(', ')}`,
          );
        }
        for (const row of list) {
          const item: UpstreamItem = {
            input: name,
            ts: row.eventTs,
            createdTs: row.createdTs,
            data: row.values,
            origin: row,
          };
          push(row.entityId, item);
        }
      }
    }
    return out;
  }
}

/**
 * One batch computation of a view (backfills, tests): rows with eventTs in [from, to].
 * `history`: inputs before `from` for warm-up (at least view.warmUpMs of them); `input`: from `from` on.
 * Without from/to: every row up to the last input event plus everything that falls due up to `to`.
 */
export function computeView(
  repo: FeatureRepo,
  viewName: string,
  input: ViewInput,
  opts: { from?: number; to?: number; history?: ViewInput } = {},
): TransformResult {
  const state = new WindowState(repo, viewName);
  const view = state.view;
  const problems: TransformProblem[] = [];
  if (opts.from !== undefined)
    problems.push(...state.warmUp(opts.history ?? (Array.isArray(input) ? [] : {}), opts.from).problems);
  const result = state.advance(input);
  if (opts.to !== undefined) {
    const more = state.flush(opts.to);
    result.rows.push(...more.rows);
    result.late.push(...more.late);
    result.problems.push(...more.problems);
  }
  const rows = opts.to !== undefined ? result.rows.filter((r) => r.eventTs <= opts.to!) : result.rows;
  return { rows, late: result.late, problems: [...problems, ...result.problems] };
}

/** A binary min-heap of due times. */
class MinHeap {
  private readonly a: Array<{ t: number; entity: string }> = [];
  peek(): { t: number; entity: string } | undefined {
    return this.a[0];
  }
  push(x: { t: number; entity: string }): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.t <= a[i]!.t) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): { t: number; entity: string } | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.t < a[m]!.t) m = l;
        if (r < a.length && a[r]!.t < a[m]!.t) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
