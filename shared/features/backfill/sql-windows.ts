/**
 * A source view's rows for one backfill interval computed set-at-a-time in DuckDB, for the
 * views whose features all map exactly onto SQL: count, sum, mean, min and max over sliding
 * (with or without a hop) and tumbling windows of a source without an id field.
 *
 *   sqlWindowPlan(repo, view) -> SqlWindowPlan | undefined   undefined: the JS pipeline computes it
 *   checkInterval(c, plan, range) -> IntervalCheck   why this interval's data needs JS, if it does
 *   windowSelect(plan, range, check) -> SQL          entity_id, event_ts, created_ts, <features>
 *
 * The query gives the rows transform.ts gives (its header defines them): one row per entity at
 * every candidate time in [from, to) (each event time when a sliding window is present, each
 * exit time ts + size (rounded up to the hop), each tumbling window's end and the end of the
 * window after it), the windows evaluated over the records read as of the inputs' created_ts;
 * created_ts is the newest arrival among the latest record at or before t and each window's
 * records. Float sums add in event order like aggregate.ts (list_sum, a left fold, over the
 * frame's slice of the entity's values in event order; an ordered aggregate for tumbling
 * windows), so values are equal bit for bit, not merely close; a window's segment-tree sum
 * only where every order gives the same (whole numbers). The slice, not a window list: a
 * `list() OVER` frame builds a list per row through the segment tree, most of the query's time.
 * What SQL cannot order the same way falls back to JS per interval (checkInterval): records
 * of one entity sharing event and arrival time with different summed values (JS orders those
 * by their content's JSON), records without an entity id (JS reports each as a problem), and
 * non-finite, -0 or overflowing numbers (JS reports the feature as a problem, or keeps the
 * first of 0 and -0).
 */
import { windowReach, type FeatureRepo, type ResolvedView, type ResolvedWindow } from '../definitions/repo';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, num } from '../offline/duckdb';

type AggFeature = Extract<ResolvedView['features'][number], { kind: 'aggregate' }>;

export interface SqlWindowPlan {
  view: ResolvedView;
  /** The record field holding the entity id. */
  joinKey: string;
  /** Numeric fields read, each as `v<i>` in the query. */
  fields: string[];
  groups: Array<{ window: ResolvedWindow; features: AggFeature[] }>;
  /** Rows at each event time (some window is sliding). */
  perEvent: boolean;
}

const SQL_AGGS = new Set(['count', 'sum', 'mean', 'min', 'max']);

/**
 * Timeline order key k = (t - base) * ORDER_M + rank: by event time, then arrival (the rank of
 * an event among the entity's events at t), candidate points (rank ORDER_M - 1) after the
 * events at their time. One key, so RANGE frames can follow it.
 */
const ORDER_M = 2 ** 24;
/** k stays below 2^62 while the read span is below this. */
const MAX_SPAN_MS = 2 ** 37;

/** The SQL plan of a view, or undefined when some feature needs the JS pipeline. */
export function sqlWindowPlan(repo: FeatureRepo, view: ResolvedView): SqlWindowPlan | undefined {
  if (view.input.kind !== 'source') return undefined;
  const source = repo.source(view.input.source);
  if (source.idField !== undefined) return undefined; // corrections replace records: JS
  const key = source.fields[view.joinKey];
  if (!key || (key.type !== 'string' && key.type !== 'int') || key.numberMap) return undefined;
  const groups = new Map<string, { window: ResolvedWindow; features: AggFeature[] }>();
  const fields: string[] = [];
  for (const f of view.features) {
    if (f.kind !== 'aggregate' || !SQL_AGGS.has(f.agg)) return undefined;
    if (f.agg !== 'count') {
      const field = source.fields[f.field!];
      if (!field || (field.type !== 'float' && field.type !== 'int') || field.numberMap) return undefined;
      if (!fields.includes(f.field!)) fields.push(f.field!);
    }
    const k = `${f.window.kind}/${f.window.sizeMs}/${f.window.hopMs ?? 0}`;
    const g = groups.get(k) ?? { window: f.window, features: [] };
    g.features.push(f);
    groups.set(k, g);
  }
  if (!groups.size) return undefined;
  const list = [...groups.values()];
  return { view, joinKey: view.joinKey, fields, groups: list, perEvent: list.some((g) => g.window.kind === 'sliding') };
}

/** An interval: rows at [start, to), from the records arrived by asOf. */
export interface SqlRange {
  /** read_parquet(...) of the source's segments (from at least start - the view's warm-up). */
  from: string;
  start: number;
  to: number;
  asOf: number;
}

/**
 * Records from here on can change a row in [start, to): a window's reach (its size, plus the hop
 * or the window after it). The warm-up's lateness part serves replaced records, which a
 * source without ids has none of.
 */
function readFrom(plan: SqlWindowPlan, r: SqlRange): number {
  return r.start - Math.max(...plan.groups.map((g) => windowReach(g.window)));
}

/** The interval's records as (e, ts, c, v0, v1, ...). */
function records(plan: SqlWindowPlan, r: SqlRange): string {
  const vs = plan.fields.map((f, i) => `CAST(${ident(f)} AS DOUBLE) AS v${i}`);
  return `SELECT CAST(${ident(plan.joinKey)} AS VARCHAR) AS e, CAST(event_ts AS BIGINT) AS ts, CAST(created_ts AS BIGINT) AS c${vs.map((v) => `, ${v}`).join('')}
    FROM ${r.from}
    WHERE event_ts >= ${int(readFrom(plan, r))} AND event_ts < ${int(r.to)} AND created_ts <= ${int(r.asOf)}`;
}

export interface IntervalCheck {
  /** Why this interval's data needs the JS pipeline; null: SQL gives its values. */
  fallback: string | null;
  /**
   * Summed fields whose values are all whole numbers with |sum| < 2^53: every partial sum is
   * exact, so any order of adding (a window's segment tree) gives JS's sequential result.
   */
  orderFree: string[];
  /** Some entity has several records at one event time: they are ranked by arrival. */
  sharedTimes: boolean;
}

/** Look over the interval's records for what SQL would compute otherwise than JS (one scan). */
export async function checkInterval(c: DuckDBConnection, plan: SqlWindowPlan, r: SqlRange): Promise<IntervalCheck> {
  const summed = plan.fields.filter((f) =>
    plan.groups.some((g) => g.features.some((x) => x.field === f && (x.agg === 'sum' || x.agg === 'mean'))),
  );
  if (r.to - readFrom(plan, r) >= MAX_SPAN_MS)
    return { fallback: 'an interval too long to key', orderFree: [], sharedTimes: true };
  const v = (f: string) => `v${plan.fields.indexOf(f)}`;
  // NaN and infinities JS reports as problems; a -0 min or max JS keeps or not by position.
  const bad = plan.fields.map(
    (f) => `count(*) FILTER (WHERE NOT isfinite(${v(f)}) OR (${v(f)} = 0 AND signbit(${v(f)})))`,
  );
  const stats = [
    'count(*) FILTER (WHERE e IS NULL) AS no_key',
    `${[...bad, '0'].join(' + ')} AS bad`,
    ...summed.flatMap((f) => [
      `coalesce(sum(abs(${v(f)})), 0) >= 1e300 AS big_${v(f)}`,
      `coalesce(bool_and(${v(f)} = round(${v(f)})), true) AND coalesce(sum(abs(${v(f)})), 0) < ${2 ** 53} AS whole_${v(f)}`,
    ]),
  ];
  // Records of one entity at the same (event, arrival) time: JS adds them in their content's JSON order.
  const tied = summed.length
    ? `, same AS (SELECT ${summed.map((f) => `count(DISTINCT ${v(f)}) AS d_${v(f)}`).join(', ')} FROM src GROUP BY e, ts, c),
       tied AS (SELECT ${summed.map((f) => `count(*) FILTER (WHERE d_${v(f)} > 1) AS tied_${v(f)}`).join(', ')} FROM same)`
    : '';
  const result = await c.runAndReadAll(`WITH src AS (${records(plan, r)}),
      stats AS (SELECT ${stats.join(', ')} FROM src),
      keyed AS (SELECT coalesce(max(n), 0) AS most FROM (SELECT count(*) AS n FROM src GROUP BY e, ts))
      ${tied}
    SELECT * FROM stats, keyed${summed.length ? ', tied' : ''}`);
  const row = result.getRows()[0]!;
  const col = (name: string) => row[result.columnNames().indexOf(name)];
  const orderFree = summed.filter((f) => col(`whole_${v(f)}`) === true);
  const fallback =
    num(col('no_key')) > 0
      ? 'records without an entity id'
      : num(col('most')) >= ORDER_M - 1
        ? 'too many records of one entity at one time'
        : num(col('bad')) > 0
          ? 'non-finite numbers or negative zeros'
          : summed.some((f) => col(`big_${v(f)}`) === true)
            ? 'sums that may overflow'
            : summed.some((f) => !orderFree.includes(f) && num(col(`tied_${v(f)}`)) > 0)
              ? 'records of one entity at the same event and arrival time with different values'
              : null;
  return { fallback, orderFree, sharedTimes: num(col('most')) > 1 };
}

/** The interval's rows: entity_id, event_ts, created_ts, then the view's features in declared order. */
export function windowSelect(
  plan: SqlWindowPlan,
  r: SqlRange,
  { orderFree, sharedTimes }: Omit<IntervalCheck, 'fallback'>,
): string {
  const nv = plan.fields.length;
  const v = (f: AggFeature) => `v${plan.fields.indexOf(f.field!)}`;
  const nulls = Array.from({ length: nv }, (_, i) => `, NULL AS v${i}`).join('');
  const vcols = Array.from({ length: nv }, (_, i) => `, v${i}`).join('');
  const base = int(readFrom(plan, r));

  // Candidate times: where the view's value may change (timeline.ts, laterChangesOf).
  const times: string[] = plan.perEvent ? ['ts'] : [];
  for (const { window: w } of plan.groups) {
    if (w.kind === 'sliding')
      times.push(
        w.hopMs ? `CAST(ceil((ts + ${w.sizeMs}) / ${w.hopMs}::DOUBLE) * ${w.hopMs} AS BIGINT)` : `ts + ${w.sizeMs}`,
      );
    else {
      times.push(`CAST(floor(ts / ${w.sizeMs}::DOUBLE) * ${w.sizeMs} + ${w.sizeMs} AS BIGINT)`);
      times.push(`CAST(floor(ts / ${w.sizeMs}::DOUBLE) * ${w.sizeMs} + ${2 * w.sizeMs} AS BIGINT)`);
    }
  }
  const cand = `SELECT DISTINCT e, t FROM (${times.map((t) => `SELECT e, ${t} AS t FROM src`).join(' UNION ALL ')})
    WHERE t >= ${int(r.start)} AND t < ${int(r.to)}`;

  // Events and candidate points on one timeline per entity; candidate points carry no record.
  const windows: string[] = [];
  const cols: string[] = [];
  const created: string[] = ['p.lc'];
  const joins: string[] = [];
  const out = new Map<string, string>();
  // In-order sums read the frame's values from the entity's list of values in event order.
  const ordered = plan.groups.some(({ window: w, features }) => w.kind === 'sliding' && features.some(inOrder));
  const lists = new Set<string>();
  function inOrder(f: AggFeature): boolean {
    return (f.agg === 'sum' || f.agg === 'mean') && !orderFree.includes(f.field!);
  }
  // Every sliding frame ends at the point, so the largest holds the others' newest arrival.
  const widest = plan.groups.reduce(
    (best, { window: w }, g) =>
      w.kind === 'sliding' && (best < 0 || w.sizeMs > plan.groups[best]!.window.sizeMs) ? g : best,
    -1,
  );
  plan.groups.forEach(({ window: w, features }, g) => {
    if (w.kind === 'sliding') {
      // (t - size, t] for a candidate point k = (t - base) * M + M - 1: k - size * M < key <= k.
      windows.push(
        `w${g} AS (PARTITION BY e ORDER BY k RANGE BETWEEN ${w.sizeMs * ORDER_M - 1} PRECEDING AND CURRENT ROW)`,
      );
      if (g === widest) {
        cols.push(`max(c) OVER w${g} AS c${g}`);
        created.push(`p.c${g}`);
      }
      // Events in the frame: the count feature, and how far back an in-order sum's slice starts.
      if (features.some((f) => f.agg === 'count' || inOrder(f))) cols.push(`count(c) OVER w${g} AS n${g}`);
      for (const f of features) {
        const name = `f_${out.size}`;
        if (inOrder(f)) {
          // The frame is the last n events up to the point: positions hi - n + 1 .. hi of the list.
          lists.add(v(f));
          const sum = `list_sum(list_slice(l.${v(f)}, p.hi - p.n${g} + 1, p.hi))`;
          if (f.agg === 'mean') cols.push(`count(${v(f)}) OVER w${g} AS ${name}`);
          out.set(f.name, f.agg === 'sum' ? `coalesce(${sum}, 0)` : `${sum} / nullif(p.${name}, 0)`);
        } else if (f.agg === 'count') {
          out.set(f.name, `p.n${g}`);
        } else {
          cols.push(`${slidingAgg(f, v, `w${g}`)} AS ${name}`);
          out.set(f.name, `p.${name}`);
        }
      }
    } else {
      // Tumbling: the last complete window [k*size, (k+1)*size) ending at or before t.
      const bucket = (t: string) => `CAST(floor(${t} / ${w.sizeMs}::DOUBLE) AS BIGINT)`;
      const aggs = features.map((f, i) => `${bucketAgg(f, v)} AS a${i}`);
      joins.push(
        `LEFT JOIN (SELECT e, ${bucket('ts')} + 1 AS b, max(c) AS c, ${aggs.join(', ')} FROM src GROUP BY e, b) b${g}
           ON b${g}.e = p.e AND b${g}.b = ${bucket('p.t')}`,
      );
      created.push(`b${g}.c`);
      features.forEach((f, i) => out.set(f.name, tumblingValue(f, `b${g}.a${i}`)));
    }
  });
  if (ordered) {
    // hi: the events up to the point (keys are unique per entity, so ROWS is every key <= k).
    cols.push('count(c) OVER (PARTITION BY e ORDER BY k ROWS UNBOUNDED PRECEDING) AS hi');
    // Every event is in the list (nulls included) so that positions match the counts.
    const ls = [...lists].map((x) => `list(${x} ORDER BY k) AS ${x}`);
    joins.push(`JOIN (SELECT e, ${ls.join(', ')} FROM tl WHERE ev GROUP BY e) l ON l.e = p.e`);
  }
  const selected = plan.view.features.map((f) => `${out.get(f.name)!} AS ${ident(f.name)}`);
  // The rank among an entity's events at one time, by arrival: 0 for all when no two share one.
  const rank = sharedTimes ? ' + row_number() OVER (PARTITION BY e, ts ORDER BY c) - 1' : '';
  return `WITH src AS (${records(plan, r)}),
    cand AS (${cand}),
    tl AS (
      SELECT e, ts AS t, (ts - ${base}) * ${ORDER_M}${rank} AS k,
        c${vcols}, true AS ev FROM src
      UNION ALL SELECT e, t, (t - ${base}) * ${ORDER_M} + ${ORDER_M - 1} AS k, NULL AS c${nulls}, false AS ev FROM cand
    ),
    p AS (
      SELECT e, t, ev,
        last_value(c IGNORE NULLS) OVER (PARTITION BY e ORDER BY k ROWS UNBOUNDED PRECEDING) AS lc
        ${cols.map((c) => `, ${c}`).join('')}
      FROM tl
      ${windows.length ? `WINDOW ${windows.join(', ')}` : ''}
    )
    SELECT p.e AS entity_id, p.t AS event_ts, greatest(${created.join(', ')}) AS created_ts,
      ${selected.join(', ')}
    FROM p ${joins.join(' ')}
    WHERE NOT p.ev`;
}

/**
 * An aggregate over a sliding frame, for all but counts (the frame's n) and in-order sums. A window sum combines
 * segment-tree partial sums, another rounding than JS's, so it serves only fields whose sums
 * are exact in any order (`orderFree`); the others add the frame's slice of the entity's
 * list in order (windowSelect).
 */
function slidingAgg(f: AggFeature, v: (f: AggFeature) => string, w: string): string {
  switch (f.agg) {
    case 'sum':
      return `coalesce(sum(${v(f)}) OVER ${w}, 0)`;
    case 'mean':
      return `sum(${v(f)}) OVER ${w} / nullif(count(${v(f)}) OVER ${w}, 0)`;
    default:
      return `${f.agg}(${v(f)}) OVER ${w}`;
  }
}

/** An aggregate over one tumbling window's records (grouped), completed by tumblingValue. */
function bucketAgg(f: AggFeature, v: (f: AggFeature) => string): string {
  switch (f.agg) {
    case 'count':
      return 'count(*)';
    case 'sum':
      return `coalesce(sum(${v(f)} ORDER BY ts, c), 0)`;
    case 'mean':
      return `sum(${v(f)} ORDER BY ts, c) / nullif(count(${v(f)}), 0)`;
    default:
      return `${f.agg}(${v(f)})`;
  }
}

/** A tumbling window with no records: count and sum 0, the others null. */
function tumblingValue(f: AggFeature, col: string): string {
  return f.agg === 'count' || f.agg === 'sum' ? `coalesce(${col}, 0)` : col;
}

function int(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`expected a finite time, got ${x}`);
  return String(Math.floor(x));
}
