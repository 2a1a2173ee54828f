/**
 * The online store rebuilt from the offline store: for each view, the newest row per entity
 * (by event_ts, then created_ts: the order both stores agree on) whose value is still served
 * (event time within the view's TTL), written through OnlineStore.write.
 *
 *   materialize({ repo, offline, online }, { views?, since? }) -> MaterializeReport
 *   latestRowsOnline(deps, { view, version, ttlMs, from?, to?, arrivedSince? }) -> OnlineRefresh
 *
 * Why the offline store is the source of truth: every row that reaches the online store is
 * committed to the offline store by the same batch (ingest, window flush, backfill), so the
 * online store is a cache of "newest row per view and entity" that can always be recomputed.
 * This one step serves four callers: the embedded online store on start (it lives in process
 * memory: the host rebuilds it instead of persisting a second copy), `POST /api/materialize`
 * for a Redis that was emptied or replaced, catching Redis up after an outage (`since`), and a
 * backfill's online refresh (a bounded event range).
 *
 * Safe at any moment: OnlineStore.write applies a row only when it is newer than the stored
 * one, so materialize never overwrites what the stream wrote since, and running it twice, or
 * alongside ingest, changes nothing more. Only each view's current definition version is
 * online (the app serves that version). Rows are streamed from DuckDB in chunks, so a large
 * view does not sit in memory at once (the embedded store itself of course holds them all).
 */
import type { FeatureRepo } from '../definitions/repo';
import type { FeatureRow, FeatureValue } from '../definitions/values';
import type { OfflineStore } from '../offline/store';
import type { OnlineStore } from './types';
import { fileList, num, withConnection } from '../offline/duckdb';
import { jsValue } from '../offline/store';

export interface MaterializeDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  online: OnlineStore;
  /** Wall clock for TTLs; default Date.now. */
  now?: () => number;
}

export interface MaterializeRequest {
  /** Views to materialize (default: every view of the repo). */
  views?: string[];
  /** Only rows that arrived (created_ts) at or after this time, epoch ms: catching up after an outage. */
  since?: number;
}

/** What one view's refresh did. */
export interface OnlineRefresh {
  view: string;
  /** Entities whose newest row was found. */
  entities: number;
  applied: number;
  /** Kept a newer (streamed) value. */
  skipped: number;
  /** Newest rows found already past the view's TTL: not written (rows older than now - TTL are not even read). */
  expired: number;
}

export interface MaterializeReport {
  views: Array<OnlineRefresh & { version: string }>;
  rows: { applied: number; skipped: number };
  durationMs: number;
}

const WRITE_CHUNK = 5_000;

export async function materialize(deps: MaterializeDeps, req: MaterializeRequest = {}): Promise<MaterializeReport> {
  const started = Date.now();
  const names = req.views ?? [...deps.repo.views.keys()];
  const views = names.map((n) => deps.repo.view(n)); // unknown names: NotFoundError with "did you mean"
  const out: MaterializeReport['views'] = [];
  for (const view of views) {
    const r = await latestRowsOnline(deps, {
      view: view.name,
      version: view.version,
      ttlMs: view.ttlMs,
      ...(req.since !== undefined ? { arrivedSince: req.since } : {}),
    });
    out.push({ ...r, version: view.version });
  }
  return {
    views: out,
    rows: { applied: out.reduce((n, v) => n + v.applied, 0), skipped: out.reduce((n, v) => n + v.skipped, 0) },
    durationMs: Date.now() - started,
  };
}

/**
 * The newest row per entity of one view version, among rows with event time in [from, to) and
 * arrived at or after arrivedSince, to the online store (rows past the TTL are counted, not written).
 */
export async function latestRowsOnline(
  deps: Omit<MaterializeDeps, 'repo'>,
  job: { view: string; version: string; ttlMs: number | undefined; from?: number; to?: number; arrivedSince?: number },
): Promise<OnlineRefresh> {
  const out: OnlineRefresh = { view: job.view, entities: 0, applied: 0, skipped: 0, expired: 0 };
  const now = (deps.now ?? Date.now)();
  // Rows older than the TTL are never served: skip their segments (a long history stays unread).
  const from = job.ttlMs === undefined ? job.from : Math.max(job.from ?? -Infinity, now - job.ttlMs);
  const range = {
    ...(from !== undefined && Number.isFinite(from) ? { from } : {}),
    ...(job.to !== undefined ? { to: job.to } : {}),
  };
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) return out;
  const { files } = await deps.offline.localFiles(job.view, {
    version: job.version,
    ...range,
    ...(job.arrivedSince !== undefined ? { arrivedSince: job.arrivedSince } : {}),
  });
  if (!files.length) return out;
  const where = [
    range.from !== undefined ? `event_ts >= ${Math.floor(range.from)}` : undefined,
    range.to !== undefined ? `event_ts < ${Math.ceil(range.to)}` : undefined,
    job.arrivedSince !== undefined ? `created_ts >= ${Math.floor(job.arrivedSince)}` : undefined,
  ].filter(Boolean);
  await withConnection(async (c) => {
    const result = await c.stream(
      `SELECT * FROM read_parquet(${fileList(files)}, union_by_name = true)
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY event_ts DESC, created_ts DESC) = 1`,
    );
    const names = result.columnNames();
    let pending: FeatureRow[] = [];
    const flush = async () => {
      const w = await deps.online.write(job.view, pending, job.ttlMs);
      out.applied += w.applied;
      out.skipped += w.skipped;
      pending = [];
    };
    for await (const rows of result.yieldRows()) {
      for (const row of rows) {
        out.entities++;
        const eventTs = num(row[1]);
        if (job.ttlMs !== undefined && eventTs + job.ttlMs <= now) {
          out.expired++;
          continue;
        }
        const values: Record<string, FeatureValue> = {};
        for (let k = 3; k < names.length; k++) values[names[k]!] = jsValue(row[k]);
        pending.push({ entityId: String(row[0]), eventTs, createdTs: num(row[2]), values });
      }
      if (pending.length >= WRITE_CHUNK) await flush();
    }
    if (pending.length) await flush();
  });
  return out;
}
