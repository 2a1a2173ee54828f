/**
 * Monitoring the store itself: one summary per view and completed day partition (rows, and
 * per feature the null rate, mean and the 5/50/95% quantiles), computed by DuckDB over that
 * day's live segments, and scored against the view's previous summaries (summary-anomaly.ts).
 * A day is complete when it ended more than the view's lateness ago; a day whose segments
 * change afterwards (a late batch, a backfill, a compaction gives new segment ids) has a new
 * fingerprint and is summarised again. Stored per (view, day) behind a small contract
 * (SummaryStore: shared/azure/summary-table.ts, Table `storesummaries`; shared/memory/summaries.ts).
 */
import { createHash } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident } from '../features/offline/duckdb';
import type { FeatureColumn } from '../features/definitions/values';
import type { SegmentRecord } from '../features/offline/types';
import { parquetRelation } from './window-query';
import type { PartitionSummary, SummaryScore } from './summary-anomaly';

export interface StoredSummary {
  view: string;
  version: string;
  /** yyyy-mm-dd (UTC). */
  day: string;
  inputs: string;
  computedAt: number;
  summary: PartitionSummary;
  score: SummaryScore;
}

export interface SummaryStore {
  get(view: string, day: string): Promise<StoredSummary | undefined>;
  put(s: StoredSummary): Promise<void>;
  /** A view's summaries with day in [fromDay, toDay), oldest first. */
  list(view: string, range?: { fromDay?: string; toDay?: string }): Promise<StoredSummary[]>;
}

/** The fingerprint of a set of immutable segments: their ids. */
export function segmentsFingerprint(segments: readonly Pick<SegmentRecord, 'segmentId'>[]): string {
  return createHash('sha256')
    .update(
      segments
        .map((s) => s.segmentId)
        .sort()
        .join('\n'),
    )
    .digest('hex')
    .slice(0, 32);
}

const QUANTILES = [
  ['p05', 0.05],
  ['p50', 0.5],
  ['p95', 0.95],
] as const;

/** One day's summary from its Parquet files: numeric features get mean and quantiles, every feature its null rate. */
export async function summarizePartition(
  conn: DuckDBConnection,
  files: readonly string[],
  columns: readonly FeatureColumn[],
): Promise<PartitionSummary> {
  if (!files.length) return { rows: 0, features: {} };
  const numeric = (c: FeatureColumn) => c.type === 'float' || c.type === 'int';
  const parts = ['count(*) AS rows'];
  columns.forEach((c, i) => {
    const x = ident(c.name);
    parts.push(`count(${x}) AS n${i}`);
    if (numeric(c))
      parts.push(`avg(${x}) AS m${i}`, `quantile_cont(${x}, [${QUANTILES.map((q) => q[1]).join(', ')}]) AS q${i}`);
  });
  const row = (
    await conn.runAndReadAll(`SELECT ${parts.join(', ')} FROM ${parquetRelation(files)}`)
  ).getRowObjectsJson()[0] as Record<string, unknown>;
  const rows = Number(row.rows);
  const features: PartitionSummary['features'] = {};
  columns.forEach((c, i) => {
    const present = Number(row[`n${i}`]);
    const f: PartitionSummary['features'][string] = { nullRate: rows ? 1 - present / rows : 0 };
    if (numeric(c)) {
      f.mean = row[`m${i}`] === null ? null : Number(row[`m${i}`]);
      const q = row[`q${i}`] as number[] | null;
      if (q) f.quantiles = Object.fromEntries(QUANTILES.map(([name], k) => [name, Number(q[k])]));
    }
    features[c.name] = f;
  });
  return { rows, features };
}
