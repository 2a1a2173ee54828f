/**
 * Serving over time from the prediction log in the offline store (the `predictions` source's
 * own segments, `src.predictions`): per model version and time bucket, requests, predictions,
 * requests/s and request latency p50/p95/p99. Read from storage rather than from process
 * memory, so the history survives restarts and covers every instance; DuckDB does the
 * grouping over the Parquet segments.
 *
 * A request is counted once per version (its records share requestId and latency: a batch
 * request logs one record per entity); a record delivered twice (a resent log batch) is
 * counted once by predictionId. Quantiles are exact (quantile_cont over the requests of the
 * bucket), unlike the fixed-bucket estimates of /api/models/{m}/stats and /api/metrics.
 * Errors are not here: the prediction log records served predictions only (failed requests
 * are counted in strata_predict_errors_total and in /stats).
 */
import { z } from 'zod';
import type { OfflineStore } from '../features/offline/store';
import { fileList, literal, num, withConnection } from '../features/offline/duckdb';
import { parseDuration } from '../features/definitions/duration';

export const PREDICTIONS_VIEW = 'src.predictions';
/** Buckets per answer at most (a day at one-minute steps). */
export const MAX_BUCKETS = 1440;
const DEFAULT_RANGE_MS = 3_600_000;
const DEFAULT_BUCKETS = 60;

/** A query time: ISO-8601 or epoch milliseconds (the error names the parameter). */
export const queryTime = (what: string) =>
  z
    .string()
    .trim()
    .min(1)
    .transform((v, ctx) => {
      const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
      if (!Number.isFinite(ms)) {
        ctx.addIssue({
          code: 'custom',
          message: `${what}: must be an ISO-8601 time (2026-11-01T10:00:00Z) or epoch milliseconds, got "${v}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

export const TimeseriesQuerySchema = z.object({
  from: queryTime('from').optional(),
  to: queryTime('to').optional(),
  step: z
    .string()
    .trim()
    .min(1)
    .transform((v, ctx) => {
      try {
        return parseDuration(/^\d+$/.test(v) ? Number(v) : v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `step: ${(e as Error).message} (e.g. 30s, 1m, 1h)` });
        return z.NEVER;
      }
    })
    .optional(),
});
export type TimeseriesQuery = z.infer<typeof TimeseriesQuerySchema>;

export interface TimeseriesRange {
  from: number;
  to: number;
  stepMs: number;
}

/** Defaults (the last hour in 60 buckets) and limits; problems name the parameter. */
export function timeseriesRange(
  q: TimeseriesQuery,
  now = Date.now(),
): TimeseriesRange | { problem: { where: string; problem: string } } {
  const to = q.to ?? now;
  const from = q.from ?? to - DEFAULT_RANGE_MS;
  if (from >= to)
    return { problem: { where: 'query.from', problem: `must be before to (${new Date(to).toISOString()})` } };
  const stepMs = q.step ?? Math.max(1000, Math.ceil((to - from) / DEFAULT_BUCKETS / 1000) * 1000);
  if (Math.ceil((to - from) / stepMs) > MAX_BUCKETS) {
    return {
      problem: {
        where: 'query.step',
        problem: `gives ${Math.ceil((to - from) / stepMs)} buckets; at most ${MAX_BUCKETS}: use a step of at least ${Math.ceil((to - from) / MAX_BUCKETS / 1000)}s or a shorter range`,
      },
    };
  }
  return { from, to, stepMs };
}

export interface LatencyQuantiles<T> {
  p50: T;
  p95: T;
  p99: T;
}

export interface VersionSeries {
  version: number;
  shadow: boolean;
  /** How its requests were routed (production, canary, pinned, shadow), most first. */
  routedBy: string[];
  /** One value per bucket of `buckets`. */
  requests: number[];
  requestsPerSecond: number[];
  predictions: number[];
  latencyMs: LatencyQuantiles<Array<number | null>>;
  totals: { requests: number; predictions: number; latencyMs: LatencyQuantiles<number | null> };
}

export interface ModelTimeseries {
  model: string;
  from: string;
  to: string;
  stepMs: number;
  /** Start of each bucket, epoch ms: [from, from + step, ...]. */
  buckets: number[];
  versions: VersionSeries[];
  /** Prediction-log segments read. */
  segments: number;
}

export async function predictionTimeseries(
  offline: OfflineStore,
  sourceVersion: string,
  model: string,
  range: TimeseriesRange,
): Promise<ModelTimeseries> {
  const { from, to, stepMs } = range;
  const n = Math.ceil((to - from) / stepMs);
  const buckets = Array.from({ length: n }, (_, i) => from + i * stepMs);
  const base = { model, from: new Date(from).toISOString(), to: new Date(to).toISOString(), stepMs, buckets };
  const { files } = await offline.localFiles(PREDICTIONS_VIEW, { version: sourceVersion, from, to });
  if (files.length === 0) return { ...base, versions: [], segments: 0 };

  const requests = `
    WITH p AS (
      SELECT DISTINCT ON ("predictionId") "predictionId" AS pid, "requestId" AS request_id, "version" AS version, "shadow" AS shadow,
             "routedBy" AS routed_by, event_ts, "latencyMs" AS latency
      FROM read_parquet(${fileList(files)}, union_by_name = true)
      WHERE "model" = ${literal(model)} AND event_ts >= ${Math.floor(from)} AND event_ts < ${Math.ceil(to)}
    )
    SELECT version, shadow, request_id, min(event_ts) AS t, max(latency) AS latency, count(*) AS predictions, any_value(routed_by) AS routed_by
    FROM p GROUP BY version, shadow, request_id`;
  const quantiles =
    'quantile_cont(latency, 0.5) AS p50, quantile_cont(latency, 0.95) AS p95, quantile_cont(latency, 0.99) AS p99';
  return withConnection(async (c) => {
    await c.run(`CREATE TEMP TABLE r AS ${requests}`);
    const perBucket = (
      await c.runAndReadAll(`
      SELECT version, shadow, CAST(floor((t - ${Math.floor(from)}) / ${stepMs}) AS BIGINT) AS bucket,
             count(*) AS requests, sum(predictions) AS predictions, ${quantiles}
      FROM r GROUP BY ALL ORDER BY version, shadow, bucket`)
    ).getRows();
    const totals = (
      await c.runAndReadAll(`
      SELECT version, shadow, count(*) AS requests, sum(predictions) AS predictions, ${quantiles},
             list(routed_by ORDER BY routed_by) AS routed
      FROM r GROUP BY ALL ORDER BY shadow, version`)
    ).getRows();

    const versions: VersionSeries[] = totals.map((t) => {
      const routed = new Map<string, number>();
      for (const x of (t[7] as { items: unknown[] }).items) routed.set(String(x), (routed.get(String(x)) ?? 0) + 1);
      return {
        version: num(t[0]),
        shadow: Boolean(t[1]),
        routedBy: [...routed].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k),
        requests: new Array<number>(n).fill(0),
        requestsPerSecond: new Array<number>(n).fill(0),
        predictions: new Array<number>(n).fill(0),
        latencyMs: {
          p50: new Array<number | null>(n).fill(null),
          p95: new Array<number | null>(n).fill(null),
          p99: new Array<number | null>(n).fill(null),
        },
        totals: {
          requests: num(t[2]),
          predictions: num(t[3]),
          latencyMs: { p50: numOrNull(t[4]), p95: numOrNull(t[5]), p99: numOrNull(t[6]) },
        },
      };
    });
    const byKey = new Map(versions.map((v) => [`${v.version}/${v.shadow}`, v]));
    for (const row of perBucket) {
      const v = byKey.get(`${num(row[0])}/${Boolean(row[1])}`)!;
      const b = num(row[2]);
      if (b < 0 || b >= n) continue;
      v.requests[b] = num(row[3]);
      v.requestsPerSecond[b] = num(row[3]) / (stepMs / 1000);
      v.predictions[b] = num(row[4]);
      v.latencyMs.p50[b] = numOrNull(row[5]);
      v.latencyMs.p95[b] = numOrNull(row[6]);
      v.latencyMs.p99[b] = numOrNull(row[7]);
    }
    return { ...base, versions, segments: files.length };
  });
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
