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
 *     ts, ties on event_ts going to the later created_ts.
 *  2. Where the cutoff is per row and the row found in step 1 arrived after ts (late data:
 *     created_ts > ts), the answer is an older row; only those spine rows are recomputed
 *     with a hash join + range filter + arg_max(struct, (event_ts, created_ts)).
 * The row from step 1 is the maximum over a superset of the qualifying rows, so when it
 * qualifies itself it is the answer; step 2 covers exactly the rows where it does not. Late
 * data is usually a small share, so this costs about one ASOF JOIN, where the range join
 * alone costs ~1.5x that for 1M x 10M rows.
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

/** The statements that compute temp tables pit_a<i> (and pit_b<i>) and the final select. */
export function planPointInTimeJoin(spine: PitSpine, views: readonly PitView[], opts: PitJoinOptions): { steps: string[]; select: string } {
  const perRow = opts.knownAt === 'row' || opts.knownAt === 'both';
  const fixed = opts.knownAt === 'asOf' || opts.knownAt === 'both';
  if (fixed && opts.asOf === undefined) throw new RangeError(`knownAt '${opts.knownAt}' needs asOf`);
  const s = ident(spine.table);
  const steps: string[] = [];
  const columns = ['s.row_id', 's.entity_id', 's.ts', ...(spine.hasLabel ? ['s.label'] : [])];
  const joins: string[] = [];

  views.forEach((v, i) => {
    const a = `pit_a${i}`;
    const b = `pit_b${i}`;
    if (v.files.length === 0) {
      for (const f of v.features) columns.push(`CAST(NULL AS ${f.type}) AS ${ident(f.as)}`);
      return;
    }
    const ttl = v.ttlMs;
    const where = [
      `event_ts <= ${spine.maxTs}`,
      ttl !== undefined ? `event_ts > ${spine.minTs - ttl}` : undefined,
      fixed ? `created_ts <= ${Math.floor(opts.asOf!)}` : undefined,
      perRow ? `created_ts <= ${spine.maxTs}` : undefined,
    ].filter(Boolean);
    const vals = v.features.map((f, k) => `${ident(f.name)} AS v${k}`);
    const feat = `(SELECT entity_id, event_ts, created_ts, ${vals.join(', ')} FROM read_parquet(${fileList(v.files)}, union_by_name = true) WHERE ${where.join(' AND ')})`;

    steps.push(
      `CREATE TEMP TABLE ${a} AS SELECT s.row_id, s.entity_id, s.ts, f.event_ts AS e, f.created_ts AS c, ${v.features.map((_, k) => `f.v${k}`).join(', ')}
       FROM ${s} s ASOF LEFT JOIN ${feat} f
       ON s.entity_id = f.entity_id AND {'e': s.ts, 'c': ${MAX_BIGINT}} >= {'e': f.event_ts, 'c': f.created_ts}`,
    );
    const inTtl = (e: string, t: string) => (ttl !== undefined ? `${e} > ${t} - ${ttl}` : 'TRUE');
    if (perRow) {
      steps.push(
        `CREATE TEMP TABLE ${b} AS SELECT l.row_id, arg_max({${v.features.map((_, k) => `'v${k}': f.v${k}`).join(', ')}}, (f.event_ts, f.created_ts)) AS m
         FROM (SELECT row_id, entity_id, ts FROM ${a} WHERE c > ts AND ${inTtl('e', 'ts')}) l
         JOIN ${feat} f ON l.entity_id = f.entity_id AND f.event_ts <= l.ts AND f.created_ts <= l.ts AND ${inTtl('f.event_ts', 'l.ts')}
         GROUP BY l.row_id`,
      );
      joins.push(`JOIN ${a} ON ${a}.row_id = s.row_id LEFT JOIN ${b} ON ${b}.row_id = s.row_id`);
      v.features.forEach((f, k) =>
        columns.push(`CASE WHEN ${a}.c > s.ts THEN ${b}.m.v${k} WHEN ${inTtl(`${a}.e`, 's.ts')} THEN ${a}.v${k} END AS ${ident(f.as)}`),
      );
    } else {
      joins.push(`JOIN ${a} ON ${a}.row_id = s.row_id`);
      v.features.forEach((f, k) => columns.push(`CASE WHEN ${inTtl(`${a}.e`, 's.ts')} THEN ${a}.v${k} END AS ${ident(f.as)}`));
    }
  });

  return { steps, select: `SELECT ${columns.join(', ')} FROM ${s} s ${joins.join(' ')} ORDER BY s.row_id` };
}

/** Run the join and write the training set to `outFile` (Parquet). */
export async function pointInTimeJoin(
  c: DuckDBConnection, spine: PitSpine, views: readonly PitView[], opts: PitJoinOptions, outFile: string,
): Promise<PitOutput> {
  const { steps, select } = planPointInTimeJoin(spine, views, opts);
  for (const sql of steps) await c.run(sql);
  await c.run(`COPY (${select}) TO ${literal(outFile)} (FORMAT parquet, COMPRESSION zstd)`);
  const described = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(outFile)})`);
  const count = await c.runAndReadAll(`SELECT count(*) FROM read_parquet(${literal(outFile)})`);
  return {
    rowCount: num(count.getRows()[0]![0]),
    columns: described.getRows().map(([name, type]) => ({ name: String(name), type: String(type) })),
  };
}
