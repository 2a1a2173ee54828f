/**
 * After a backfill: the online store gets each affected entity's latest backfilled row.
 *
 *   refreshOnline(deps, { view, version, from, to }) -> OnlineRefresh
 *
 * The latest row per entity with event time in [from, to) (one DuckDB pass over the view's
 * segments) goes through OnlineStore.write, which applies a row only when it is newer by
 * (eventTs, createdTs): a value the stream wrote since stays. Rows already past the view's
 * TTL are not written (they would not be served). Only the app's current version is online.
 */
import type { FeatureRow, FeatureValue } from '../types';
import { fileList, num, withConnection } from '../offline/duckdb';
import type { BackfillDeps, OnlineRefresh } from './types';

const WRITE_CHUNK = 5_000;

export async function refreshOnline(deps: BackfillDeps, job: { view: string; version: string; from: number; to: number }): Promise<OnlineRefresh> {
  const out: OnlineRefresh = { view: job.view, entities: 0, applied: 0, skipped: 0, expired: 0 };
  const view = deps.repo.view(job.view);
  if (view.version !== job.version) return out; // the app serves another version now
  const { files } = await deps.offline.localFiles(job.view, { version: job.version, from: job.from, to: job.to });
  if (!files.length) return out;
  const latest = await withConnection(async (c) => {
    const r = await c.runAndReadAll(
      `SELECT * FROM read_parquet(${fileList(files)}, union_by_name = true)
       WHERE event_ts >= ${Math.floor(job.from)} AND event_ts < ${Math.ceil(job.to)}
       QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY event_ts DESC, created_ts DESC) = 1`,
    );
    const names = r.columnNames();
    return r.getRows().map((row): FeatureRow => {
      const values: Record<string, FeatureValue> = {};
      for (let k = 3; k < names.length; k++) values[names[k]!] = value(row[k]);
      return { entityId: String(row[0]), eventTs: num(row[1]), createdTs: num(row[2]), values };
    });
  });
  out.entities = latest.length;
  const now = (deps.now ?? Date.now)();
  const live = view.ttlMs === undefined ? latest : latest.filter((r) => r.eventTs + view.ttlMs! > now);
  out.expired = latest.length - live.length;
  for (let i = 0; i < live.length; i += WRITE_CHUNK) {
    const w = await deps.online.write(job.view, live.slice(i, i + WRITE_CHUNK), view.ttlMs);
    out.applied += w.applied;
    out.skipped += w.skipped;
  }
  return out;
}

function value(v: unknown): FeatureValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}
