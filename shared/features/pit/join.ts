/**
 * The point-in-time join. For each spine row (entity, ts) and each view, the feature row to
 * use is the one with the greatest (event_ts, created_ts) such that
 *   event_ts <= ts                       (no future events)
 *   event_ts >  ts - ttl                 (not expired; no ttl = never expires)
 *   created_ts <= cutoff                 (it had arrived)
 * where cutoff is ts ('row': what was known at that moment; the default), a fixed asOf
 * ('asOf': the store as it was at asOf) or min(ts, asOf) ('both': a 'row' training set
 * exactly as it would have been built at asOf). No qualifying row: nulls.
 *
 * DuckDB's ASOF JOIN takes one inequality, so the join runs in two steps:
 *  1. Filter feature rows on what is fixed (created_ts <= asOf, the spine's time span), then
 *     ASOF JOIN on the key (event_ts, created_ts) <= (ts, +inf): the latest row at or before
 *     ts, ties on event_ts going to the later created_ts (see asofKey). All views are joined
 *     in one statement.
 *  2. Where the cutoff is per row and the row found in step 1 arrived after ts (late data:
 *     created_ts > ts), the answer is an older row; only those spine rows are recomputed
 *     with a hash join + range filter + arg_max(struct, key).
 * The row from step 1 is the maximum over a superset of the qualifying rows, so when it
 * qualifies itself it is the answer; step 2 covers exactly the rows where it does not. Cost:
 * one ASOF JOIN plus, when any spine row needs step 2, one scan of the view joined with
 * those rows only (the range join for every spine row costs ~2x the ASOF JOIN).
 *
 * Not split into on-time rows (arrival within a lag bound L) and late ones: an on-time row
 * can still be in flight at ts (event ts - 30 s, arrival ts + 10 s), so an ASOF over the
 * on-time rows needs step 2 too, and probing it at ts - L instead misses on-time rows that
 * happened in (ts - L, ts] and had arrived. With 60 s arrival lags ~0.1% of spine rows land
 * in such a gap, i.e. some at any real spine size, and a scan is the only lookup DuckDB has
 * into unsorted Parquet, so the split would add the late rows' range join to the same scan.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { fileList, ident, literal, num } from '../offline/duckdb';

export type KnownAt = 'row' | 'asOf' | 'both';

export interface PitFeature {
  /** Column in the view's segments. */
  name: string;
  /** Its DuckDB type (for an all-null column when the view has no data). */
  type: string;
  /** Column name in the training set. */
  as: string;
}

export interface PitView {
  view: string;
  /** Local Parquet segment files of the view (its chosen version). */
  files: readonly string[];
  features: readonly PitFeature[];
  ttlMs?: number;
  /**
   * Bounds over all rows in `files` (from the manifest). When the spans are small enough,
   * (event_ts, created_ts) is packed into one BIGINT for the ASOF JOIN, which sorts ~10%
   * faster than the struct key used otherwise.
   */
  keyBounds?: { minEventTs: number; maxEventTs: number; minLagMs: number; maxLagMs: number };
}

export interface PitSpine {
  table: string;
  hasLabel: boolean;
  minTs: number;
  maxTs: number;
}

export interface PitJoinOptions {
  knownAt: KnownAt;
  asOf?: number;
}

export interface PitOutput {
  rowCount: number;
  columns: Array<{ name: string; type: string }>;
}

const MAX_BIGINT = '9223372036854775807::BIGINT';

/** The ASOF ordering key of a view, and how to read event_ts and created_ts back from it. */
export interface AsofKey {
  /** The key of a feature row, from its event_ts and created_ts columns. */
  feature: string;
  /** The spine row's probe, from s.ts. */
  probe: string;
  packed: boolean;
  /** event_ts and created_ts of the row whose key is `k`. */
  eventOf(k: string): string;
  createdOf(k: string): string;
}

/**
 * The ASOF ordering key: feature rows ordered by (event_ts, created_ts), and the spine's
 * probe (ts, +inf), so `probe >= key` means event_ts <= ts with ties going to the later
 * created_ts. Packed: key = (event_ts - minE) * L + (lag - minLag) with L = lag span + 1,
 * which orders exactly like the pair because 0 <= lag - minLag < L; the probe clamps ts
 * into [minE - 1, maxE] so it cannot overflow. Exact while (event span + 2) * L < 2^62.
 * The key is the only time column the join carries: both times decode from it, so the ASOF
 * sort moves one BIGINT per row instead of three (~20% of the join).
 */
export function asofKey(v: Pick<PitView, 'keyBounds'>): AsofKey {
  const b = v.keyBounds;
  if (b) {
    const L = BigInt(b.maxLagMs) - BigInt(b.minLagMs) + 1n;
    if ((BigInt(b.maxEventTs) - BigInt(b.minEventTs) + 2n) * L < 2n ** 62n) {
      const eventOf = (k: string) => `(${b.minEventTs} + ${k} // ${L})`;
      return {
        feature: `(event_ts - ${b.minEventTs}) * ${L} + (created_ts - event_ts - ${b.minLagMs})`,
        probe: `(LEAST(GREATEST(s.ts, ${b.minEventTs - 1}), ${b.maxEventTs}) - ${b.minEventTs}) * ${L} + ${L - 1n}`,
        packed: true,
        eventOf,
        createdOf: (k) => `(${eventOf(k)} + ${b.minLagMs} + ${k} % ${L})`,
      };
    }
  }
  return {
    feature: `{'e': event_ts, 'c': created_ts}`,
    probe: `{'e': s.ts, 'c': ${MAX_BIGINT}}`,
    packed: false,
    eventOf: (k) => `struct_extract(${k}, 'e')`,
    createdOf: (k) => `struct_extract(${k}, 'c')`,
  };
}

/**
 * The join as statements. All views are ASOF-joined in one statement, so the spine is read
 * once and no 1M x 1M re-join by row_id is needed. With a fixed cutoff the final select is
 * the whole plan; with a per-row cutoff the ASOF matches are kept in temp table pit_a, and
 * each view's fallback (pit_b<i>) runs only when some spine row needs it.
 */
export interface PitPlan {
  /** Creates pit_a; undefined when no view has a per-row cutoff. */
  asof: string | undefined;
  /** Per view with a per-row cutoff: counts the spine rows needing the fallback, and computes it. */
  fallbacks: Array<{ view: number; count: string; create: string }>;
  /** The final select, given the views whose fallback table was created. */
  select(created: ReadonlySet<number>): string;
}

export function planPointInTimeJoin(spine: PitSpine, views: readonly PitView[], opts: PitJoinOptions): PitPlan {
  const perRow = opts.knownAt === 'row' || opts.knownAt === 'both';
  const fixed = opts.knownAt === 'asOf' || opts.knownAt === 'both';
  if (fixed && opts.asOf === undefined) throw new RangeError(`knownAt '${opts.knownAt}' needs asOf`);
  const spineCols = ['row_id', 'entity_id', 'ts', ...(spine.hasLabel ? ['label'] : [])];
  const asofCols = spineCols.map((c) => `s.${c}`);
  const asofJoins: string[] = [];
  const fallbacks: PitPlan['fallbacks'] = [];
  /** Output columns per view: given whether its fallback table exists. */
  const outputs: Array<(withFallback: boolean) => string[]> = [];
  const inTtl = (ttl: number | undefined, e: string, t: string) =>
    ttl !== undefined ? `${e} > ${t} - ${ttl}` : 'TRUE';

  views.forEach((v, i) => {
    if (v.files.length === 0) {
      outputs.push(() => v.features.map((f) => `CAST(NULL AS ${f.type}) AS ${ident(f.as)}`));
      return;
    }
    const ttl = v.ttlMs;
    const where = [
      `event_ts <= ${spine.maxTs}`,
      ttl !== undefined ? `event_ts > ${spine.minTs - ttl}` : undefined,
      fixed ? `created_ts <= ${Math.floor(opts.asOf!)}` : undefined,
      perRow ? `created_ts <= ${spine.maxTs}` : undefined,
    ].filter(Boolean);
    const key = asofKey(v);
    const values = v.features.map((f, k) => `${ident(f.name)} AS v${k}`).join(', ');
    const feat = (times: string) =>
      `(SELECT entity_id, ${times}${key.feature} AS k, ${values} FROM read_parquet(${fileList(v.files)}, union_by_name = true) WHERE ${where.join(' AND ')})`;
    const f = `f${i}`;
    asofJoins.push(`ASOF LEFT JOIN ${feat('')} ${f} ON s.entity_id = ${f}.entity_id AND ${key.probe} >= ${f}.k`);
    asofCols.push(`${f}.k AS k${i}`, ...v.features.map((_, k) => `${f}.v${k} AS v${i}_${k}`));
    // The ASOF match, unless it has expired (an older row would have expired too).
    const asofValue = (k: number) => `CASE WHEN ${inTtl(ttl, key.eventOf(`a.k${i}`), 'a.ts')} THEN a.v${i}_${k} END`;
    if (!perRow) {
      outputs.push(() => v.features.map((feature, k) => `${asofValue(k)} AS ${ident(feature.as)}`));
      return;
    }
    const b = `pit_b${i}`;
    const late = (k: string, ts: string) => `${key.createdOf(k)} > ${ts}`;
    const lateRows = `${late(`k${i}`, 'ts')} AND ${inTtl(ttl, key.eventOf(`k${i}`), 'ts')}`;
    // The newest row that had arrived, by the same key: a BIGINT when packed (cheap to aggregate).
    fallbacks.push({
      view: i,
      count: `SELECT count(*) FROM pit_a WHERE ${lateRows}`,
      create: `CREATE TEMP TABLE ${b} AS SELECT l.row_id, arg_max({${v.features.map((_, k) => `'v${k}': f.v${k}`).join(', ')}}, f.k) AS m
         FROM (SELECT row_id, entity_id, ts FROM pit_a WHERE ${lateRows}) l
         JOIN ${feat('event_ts, created_ts, ')} f ON l.entity_id = f.entity_id AND f.event_ts <= l.ts AND f.created_ts <= l.ts AND ${inTtl(ttl, 'f.event_ts', 'l.ts')}
         GROUP BY l.row_id`,
    });
    // Where the ASOF match arrived after ts, the fallback's answer (null when there is none).
    // Without a fallback table no row needed one: every late match has expired, so asofValue is null there.
    outputs.push((withFallback) =>
      v.features.map((feature, k) =>
        withFallback
          ? `CASE WHEN ${late(`a.k${i}`, 'a.ts')} THEN ${b}.m.v${k} ELSE ${asofValue(k)} END AS ${ident(feature.as)}`
          : `${asofValue(k)} AS ${ident(feature.as)}`,
      ),
    );
  });

  const asof = `SELECT ${asofCols.join(', ')} FROM ${ident(spine.table)} s ${asofJoins.join(' ')}`;
  const columns = (created: ReadonlySet<number>) =>
    [...spineCols.map((c) => `a.${c}`), ...outputs.flatMap((o, i) => o(created.has(i)))].join(', ');
  if (fallbacks.length === 0) {
    return {
      asof: undefined,
      fallbacks,
      select: (created) => `SELECT ${columns(created)} FROM (${asof}) a ORDER BY a.row_id`,
    };
  }
  return {
    asof: `CREATE TEMP TABLE pit_a AS ${asof}`,
    fallbacks,
    select: (created) =>
      `SELECT ${columns(created)} FROM pit_a a ${[...created].map((i) => `LEFT JOIN pit_b${i} ON pit_b${i}.row_id = a.row_id`).join(' ')} ORDER BY a.row_id`,
  };
}

/** Run the join and write the training set to `outFile` (Parquet). */
export async function pointInTimeJoin(
  c: DuckDBConnection,
  spine: PitSpine,
  views: readonly PitView[],
  opts: PitJoinOptions,
  outFile: string,
): Promise<PitOutput> {
  const plan = planPointInTimeJoin(spine, views, opts);
  const created = new Set<number>();
  if (plan.asof) await c.run(plan.asof);
  for (const fb of plan.fallbacks) {
    // Skipping an empty fallback saves a scan of the view's files.
    if (num((await c.runAndReadAll(fb.count)).getRows()[0]![0]) === 0) continue;
    await c.run(fb.create);
    created.add(fb.view);
  }
  await c.run(`COPY (${plan.select(created)}) TO ${literal(outFile)} (FORMAT parquet, COMPRESSION zstd)`);
  const described = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(outFile)})`);
  const count = await c.runAndReadAll(`SELECT count(*) FROM read_parquet(${literal(outFile)})`);
  return {
    rowCount: num(count.getRows()[0]![0]),
    columns: described.getRows().map(([name, type]) => ({ name: String(name), type: String(type) })),
  };
}
