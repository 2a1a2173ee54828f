/**
 * One entity's inputs of one view, kept in event order, and the view evaluated at any time t.
 * Internal to transform.ts (WindowState drives these; see its header for the semantics).
 *
 *   SourceTimeline   records of a source view: row-level expressions + windowed aggregations
 *   DerivedTimeline  rows of a derived view's input views: expressions over their latest values
 *
 * Both answer the same questions:
 *   decide(item)            would this item change the inputs (and which older item does it replace)?
 *   insert(items)           add them (ids / same event times replace older versions)
 *   candidates(from, to)    times in [from, to] at which the view's value may change (rows are emitted there)
 *   nextCandidateAfter(t)   the first such time after t (Infinity if none)
 *   evaluate(t)             the view's values at t and when they became knowable (max createdTs of what they use)
 *   evict(horizon)          forget what no evaluation at or after the horizon needs; true when empty
 */
import type { FeatureValue } from '../definitions/values';
import type { ResolvedFeature, ResolvedView, ResolvedWindow } from '../definitions/repo';
import { windowReach } from '../definitions/repo';
import { aggregateRange, checkValue } from './aggregate';
import { canonicalJson } from '../../canonical-json';

export interface Item {
  ts: number;
  createdTs: number;
  data: Record<string, unknown>;
  /** What the caller passed in (returned untouched when too late). */
  origin: unknown;
}

export interface SourceItem extends Item {
  /** The source's id field value: a later version replaces an earlier one. */
  key?: string;
  /** Row-level expression values, computed once when the record arrived. */
  exprValues: Record<string, FeatureValue>;
  /** Canonical JSON of data, computed on first tie (same ts and createdTs). */
  tie?: string;
}

export interface UpstreamItem extends Item {
  input: string;
  tie?: string;
}

export interface Evaluation {
  values: Record<string, FeatureValue>;
  createdTs: number;
}

export type ProblemSink = (feature: string, message: string) => void;

export interface Decision {
  /** false: the item changes nothing (an older or identical version of what is stored). */
  changes: boolean;
  /** The event time of the item it replaces, if any (the earliest time whose value changes). */
  replacedTs?: number;
}

export interface Timeline<I extends Item> {
  decide(item: I): Decision;
  insert(items: I[]): void;
  candidates(from: number, to: number): number[];
  nextCandidateAfter(t: number): number;
  evaluate(t: number, problems?: ProblemSink): Evaluation;
  evict(horizon: number): boolean;
  /** The event time after which nothing held changes any value (Infinity: never); eviction of idle entities waits for it. */
  quietAfter(): number;
}

// ---------------------------------------------------------------------------------------------

type AggFeature = Extract<ResolvedFeature, { kind: 'aggregate' }>;
type ExprFeature = Extract<ResolvedFeature, { kind: 'expr' }>;

/** What a source view needs to know, computed once per view and shared by its timelines. */
export class SourcePlan {
  readonly exprs: ExprFeature[];
  readonly groups: Array<{ window: ResolvedWindow; features: AggFeature[] }>;
  /** Row-level and sliding features change at each event. */
  readonly perEvent: boolean;
  readonly reach: number;
  readonly order: string[];
  /**
   * When a window's value changes because time passed after an event at ts: one function per kind
   * of change, each non-decreasing in ts (so the items producing changes in a time range are
   * contiguous and found by binary search).
   */
  readonly laterChanges: Array<(ts: number) => number>;

  constructor(readonly view: ResolvedView) {
    this.exprs = view.features.filter((f): f is ExprFeature => f.kind === 'expr');
    const groups = new Map<string, { window: ResolvedWindow; features: AggFeature[] }>();
    for (const f of view.features) {
      if (f.kind !== 'aggregate') continue;
      const k = `${f.window.kind}/${f.window.sizeMs}/${f.window.hopMs ?? 0}`;
      const g = groups.get(k) ?? { window: f.window, features: [] };
      g.features.push(f);
      groups.set(k, g);
    }
    this.groups = [...groups.values()];
    this.perEvent = this.exprs.length > 0 || this.groups.some((g) => g.window.kind === 'sliding');
    this.reach = Math.max(0, ...this.groups.map((g) => windowReach(g.window)));
    this.order = view.features.map((f) => f.name);
    this.laterChanges = laterChangesOf(this.groups);
  }
}

function laterChangesOf(groups: ReadonlyArray<{ window: ResolvedWindow }>): Array<(ts: number) => number> {
  const out: Array<(ts: number) => number> = [];
  for (const { window: w } of groups) {
    const size = w.sizeMs;
    if (w.kind === 'sliding') {
      const hop = w.hopMs;
      // the event leaves the window (at the next hop boundary, with a hop)
      out.push(hop ? (ts) => Math.ceil((ts + size) / hop) * hop : (ts) => ts + size);
    } else {
      out.push((ts) => Math.floor(ts / size) * size + size); // the window holding the event is complete
      out.push((ts) => Math.floor(ts / size) * size + 2 * size); // and is superseded by the next one
    }
  }
  return out;
}

/**
 * A version of a keyed record that a newer version replaced: the values that counted it (at and
 * after its event time) changed when the newer one arrived, even where the newer one does not
 * count (it moved in event time), so evaluations over its time are knowable only from then on.
 */
interface Retirement {
  ts: number;
  /** The replacing version's createdTs. */
  createdTs: number;
}

export class SourceTimeline implements Timeline<SourceItem> {
  private items: SourceItem[] = [];
  private readonly byKey = new Map<string, SourceItem>();
  /** Sorted by ts; empty unless corrections moved records (then they are few). */
  private retired: Retirement[] = [];
  /** createdTs never decreases along `items` (records arrived in event order, the usual stream): a window's newest arrival is its last item. */
  private arrivalOrdered = true;

  constructor(private readonly plan: SourcePlan) {}

  decide(item: SourceItem): Decision {
    if (item.key === undefined) return { changes: true };
    const existing = this.byKey.get(item.key);
    if (!existing) return { changes: true };
    return compareVersions(item, existing) > 0 ? { changes: true, replacedTs: existing.ts } : { changes: false };
  }

  insert(items: SourceItem[]): void {
    const removed = new Set<SourceItem>();
    const added: SourceItem[] = [];
    const retired: Retirement[] = [];
    // Versions of one id in version order, so a batch holding several gives the retirements that
    // the same versions arriving one by one give.
    const keyed = items.filter((i) => i.key !== undefined).sort(compareVersions);
    for (const it of keyed) {
      const existing = this.byKey.get(it.key!);
      if (existing && compareVersions(it, existing) <= 0) continue;
      if (existing) {
        removed.add(existing);
        retired.push({ ts: existing.ts, createdTs: it.createdTs });
      }
      this.byKey.set(it.key!, it);
      added.push(it);
    }
    for (const it of items) if (it.key === undefined) added.push(it);
    if (retired.length) this.retired = this.retired.concat(retired).sort((a, b) => a.ts - b.ts);
    const kept = removed.size ? this.items.filter((i) => !removed.has(i)) : this.items;
    const addedKept = removed.size ? added.filter((i) => !removed.has(i)) : added;
    addedKept.sort(compareEvents);
    const last = kept[kept.length - 1];
    const appended = !last || !addedKept.length || compareEvents(last, addedKept[0]!) <= 0;
    this.items = appended ? kept.concat(addedKept) : kept.concat(addedKept).sort(compareEvents);
    // Appended in order: only the new items need checking; otherwise the whole list (rare: late or replaced records).
    this.arrivalOrdered =
      appended && !removed.size
        ? this.arrivalOrdered && arrivalOrdered(addedKept, last?.createdTs ?? -Infinity)
        : arrivalOrdered(this.items, -Infinity);
  }

  // A replaced version's times stay candidates: the values there changed when it was replaced,
  // so one pass over every version emits the rows a stream re-emits when the correction arrives.
  candidates(from: number, to: number): number[] {
    const out: number[] = [];
    for (const list of [this.items, this.retired]) {
      if (this.plan.perEvent)
        for (let i = firstAtOrAfter(list, from); i < list.length && list[i]!.ts <= to; i++) out.push(list[i]!.ts);
      for (const change of this.plan.laterChanges) {
        for (let i = firstWhere(list, (ts) => change(ts) >= from); i < list.length; i++) {
          const c = change(list[i]!.ts);
          if (c > to) break;
          out.push(c);
        }
      }
    }
    return sortedUnique(out);
  }

  nextCandidateAfter(t: number): number {
    let best = Infinity;
    for (const list of [this.items, this.retired]) {
      if (this.plan.perEvent) {
        const i = firstAfter(list, t);
        if (i < list.length) best = Math.min(best, list[i]!.ts);
      }
      for (const change of this.plan.laterChanges) {
        const i = firstWhere(list, (ts) => change(ts) > t);
        if (i < list.length) best = Math.min(best, change(list[i]!.ts));
      }
    }
    return best;
  }

  evaluate(t: number, problems?: ProblemSink): Evaluation {
    const items = this.items;
    const hi = firstAfter(items, t);
    const latest = items[hi - 1];
    const retired = this.retired;
    // A value changed when a replaced version that counted here (the latest record, or in a
    // window) was replaced: it is knowable from the replacement's arrival on.
    let createdTs = Math.max(
      latest ? latest.createdTs : -Infinity,
      this.newestRetired(latest ? firstAtOrAfter(retired, latest.ts) : 0, firstAfter(retired, t)),
    );
    const values: Record<string, FeatureValue> = {};
    for (const name of this.plan.order) values[name] = null; // declared order, filled below
    for (const f of this.plan.exprs) values[f.name] = latest ? (latest.exprValues[f.name] ?? null) : null;
    for (const { window: w, features } of this.plan.groups) {
      let lo: number;
      let end: number;
      if (w.kind === 'sliding') {
        lo = firstAfter(items, t - w.sizeMs);
        end = hi;
        if (retired.length)
          createdTs = Math.max(
            createdTs,
            this.newestRetired(firstAfter(retired, t - w.sizeMs), firstAfter(retired, t)),
          );
      } else {
        const windowEnd = Math.floor(t / w.sizeMs) * w.sizeMs;
        lo = firstAtOrAfter(items, windowEnd - w.sizeMs);
        end = firstAtOrAfter(items, windowEnd);
        if (retired.length)
          createdTs = Math.max(
            createdTs,
            this.newestRetired(firstAtOrAfter(retired, windowEnd - w.sizeMs), firstAtOrAfter(retired, windowEnd)),
          );
      }
      if (this.arrivalOrdered) {
        if (end > lo) createdTs = Math.max(createdTs, items[end - 1]!.createdTs);
      } else for (let i = lo; i < end; i++) if (items[i]!.createdTs > createdTs) createdTs = items[i]!.createdTs;
      for (const f of features) {
        const checked = checkValue(f.type, aggregateRange(f.agg, f.field, items, lo, end));
        if (checked.problem !== undefined) problems?.(f.name, `${f.agg}(${f.field ?? ''}): ${checked.problem}`);
        values[f.name] = checked.value;
      }
    }
    return { values, createdTs };
  }

  evict(horizon: number): boolean {
    const n = firstAtOrAfter(this.items, horizon);
    if (n > 0) {
      for (const it of this.items.slice(0, n))
        if (it.key !== undefined && this.byKey.get(it.key) === it) this.byKey.delete(it.key);
      this.items = this.items.slice(n);
      if (!this.arrivalOrdered) this.arrivalOrdered = arrivalOrdered(this.items, -Infinity); // the late ones may have aged out
    }
    const r = firstAtOrAfter(this.retired, horizon);
    if (r > 0) this.retired = this.retired.slice(r);
    return this.items.length === 0;
  }

  /** The newest createdTs of retired[from, to) (indexes); -Infinity if none. */
  private newestRetired(from: number, to: number): number {
    let best = -Infinity;
    for (let i = from; i < to; i++) best = Math.max(best, this.retired[i]!.createdTs);
    return best;
  }

  quietAfter(): number {
    return this.items.length ? this.items[this.items.length - 1]!.ts : -Infinity;
  }
}

// ---------------------------------------------------------------------------------------------

export interface DerivedInput {
  name: string;
  ttlMs?: number;
  columns: string[];
}

export class DerivedTimeline implements Timeline<UpstreamItem> {
  private readonly byInput = new Map<string, UpstreamItem[]>();

  constructor(
    private readonly view: ResolvedView,
    private readonly inputs: DerivedInput[],
  ) {
    for (const i of inputs) this.byInput.set(i.name, []);
  }

  decide(item: UpstreamItem): Decision {
    const rows = this.byInput.get(item.input)!;
    const at = firstAtOrAfter(rows, item.ts);
    const existing = rows[at];
    if (!existing || existing.ts !== item.ts) return { changes: true };
    return compareVersions(item, existing) > 0 ? { changes: true, replacedTs: existing.ts } : { changes: false };
  }

  insert(items: UpstreamItem[]): void {
    for (const it of [...items].sort((a, b) => a.ts - b.ts)) {
      const rows = this.byInput.get(it.input)!;
      const at = firstAtOrAfter(rows, it.ts);
      const existing = rows[at];
      if (existing && existing.ts === it.ts) {
        if (compareVersions(it, existing) > 0) rows[at] = it;
      } else if (at === rows.length) {
        rows.push(it);
      } else {
        rows.splice(at, 0, it);
      }
    }
  }

  /**
   * Each input row's time, and when it expires (its view's TTL) unless a newer row of that input
   * comes first: every change at or after `lowTs` (and maybe some before). A row followed by
   * another row before lowTs changes nothing from lowTs on (its expiry, if visited, comes before
   * the next row), so the walk starts at the last row before lowTs: O(rows since lowTs), not
   * O(rows within the TTL), per call.
   */
  private eachChange(lowTs: number, visit: (t: number) => void): void {
    for (const input of this.inputs) {
      const rows = this.byInput.get(input.name)!;
      for (let i = Math.max(0, firstAtOrAfter(rows, lowTs) - 1); i < rows.length; i++) {
        const r = rows[i]!;
        visit(r.ts);
        if (input.ttlMs !== undefined) {
          const expires = r.ts + input.ttlMs;
          const next = rows[i + 1];
          if (!next || next.ts > expires) visit(expires);
        }
      }
    }
  }

  candidates(from: number, to: number): number[] {
    const out = new Set<number>();
    this.eachChange(from, (t) => {
      if (t >= from && t <= to) out.add(t);
    });
    return [...out].sort((a, b) => a - b);
  }

  nextCandidateAfter(t: number): number {
    let best = Infinity;
    this.eachChange(t, (c) => {
      if (c > t && c < best) best = c;
    });
    return best;
  }

  evaluate(t: number, problems?: ProblemSink): Evaluation {
    let createdTs = -Infinity;
    const record: Record<string, Record<string, FeatureValue>> = {};
    for (const input of this.inputs) {
      const rows = this.byInput.get(input.name)!;
      const latest = rows[firstAfter(rows, t) - 1];
      if (latest) createdTs = Math.max(createdTs, latest.createdTs);
      const live = latest && (input.ttlMs === undefined || t < latest.ts + input.ttlMs);
      const values: Record<string, FeatureValue> = {};
      for (const c of input.columns) values[c] = live ? ((latest.data[c] as FeatureValue | undefined) ?? null) : null;
      record[input.name] = values;
    }
    const values: Record<string, FeatureValue> = {};
    for (const f of this.view.features) {
      if (f.kind !== 'expr') continue;
      values[f.name] = runExpression(f, record, problems);
    }
    return { values, createdTs };
  }

  evict(horizon: number): boolean {
    let empty = true;
    for (const input of this.inputs) {
      const rows = this.byInput.get(input.name)!;
      // keep everything from the horizon on, and the row in force at the horizon (unless it has expired by then)
      let n = firstAtOrAfter(rows, horizon);
      const base = rows[n - 1];
      if (base && (input.ttlMs === undefined || base.ts + input.ttlMs > horizon)) n--;
      if (n > 0) rows.splice(0, n);
      if (rows.length) empty = false;
    }
    return empty;
  }

  quietAfter(): number {
    let quiet = -Infinity;
    for (const input of this.inputs) {
      const rows = this.byInput.get(input.name)!;
      const last = rows[rows.length - 1];
      if (last) quiet = Math.max(quiet, input.ttlMs === undefined ? Infinity : last.ts + input.ttlMs);
    }
    return quiet;
  }
}

// ---------------------------------------------------------------------------------------------

/** Apply one row-level expression; a throw or a wrong type gives null and a problem. */
export function runExpression(f: ExprFeature, record: unknown, problems?: ProblemSink): FeatureValue {
  let raw: unknown;
  try {
    raw = f.compute(record);
  } catch (e) {
    problems?.(f.name, `expression threw: ${(e as Error)?.message ?? String(e)}`);
    return null;
  }
  const checked = checkValue(f.type, raw);
  if (checked.problem !== undefined) problems?.(f.name, `expression returned a wrong value: ${checked.problem}`);
  return checked.value;
}

/** Which of two versions of one input wins: the later-created; on a tie, a fixed order of content. */
function compareVersions(a: Item & { tie?: string }, b: Item & { tie?: string }): number {
  if (a.createdTs !== b.createdTs) return a.createdTs - b.createdTs;
  const ta = tieOf(a);
  const tb = tieOf(b);
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

/** Event order: event time, then arrival, then content (so any batching gives one order). */
function compareEvents(a: SourceItem, b: SourceItem): number {
  return (
    a.ts - b.ts ||
    a.createdTs - b.createdTs ||
    (a.key !== undefined && b.key !== undefined ? cmp(a.key, b.key) : 0) ||
    cmp(tieOf(a), tieOf(b))
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function tieOf(i: Item & { tie?: string }): string {
  return (i.tie ??= canonicalJson(i.data));
}

/** True when createdTs never decreases along `items`, starting from `after`. */
function arrivalOrdered(items: ReadonlyArray<Item>, after: number): boolean {
  let prev = after;
  for (const it of items) {
    if (it.createdTs < prev) return false;
    prev = it.createdTs;
  }
  return true;
}

/** First index whose ts satisfies a predicate that is false, then true, along the items. */
function firstWhere(items: ReadonlyArray<{ ts: number }>, pred: (ts: number) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(items[mid]!.ts)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function sortedUnique(list: number[]): number[] {
  list.sort((a, b) => a - b);
  let n = 0;
  for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[i - 1]) list[n++] = list[i]!;
  list.length = n;
  return list;
}

/** First index whose ts >= t (items sorted by ts). */
export function firstAtOrAfter(items: ReadonlyArray<{ ts: number }>, t: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.ts < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose ts > t. */
export function firstAfter(items: ReadonlyArray<{ ts: number }>, t: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.ts <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
