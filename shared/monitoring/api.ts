/**
 * The monitoring APIs' inputs and answers, apart from the functions that serve them: query
 * parameters (zod, errors name the parameter), and the answer shapes built from stored
 * window results (drift, quality, performance per window) and day summaries.
 */
import { z } from 'zod';
import { queryTime } from '../serving/timeseries';
import type { WindowResult } from './window-result';

export const WindowRangeQuerySchema = z
  .object({
    from: queryTime('from').optional(),
    to: queryTime('to').optional(),
    version: z.string().regex(/^\d+$/, 'version: must be a whole number').transform(Number).optional(),
  })
  .strict();
export type WindowRangeQuery = z.output<typeof WindowRangeQuerySchema>;

export const SummaryRangeQuerySchema = z
  .object({
    from: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'from: must be a day, yyyy-mm-dd')
      .optional(),
    to: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'to: must be a day, yyyy-mm-dd')
      .optional(),
  })
  .strict();

/** Default range: the last 24 hours. */
export function windowRange(q: WindowRangeQuery, now = Date.now()): { from: number; to: number; version?: number } {
  const to = q.to ?? now;
  return { from: q.from ?? to - 86_400_000, to, ...(q.version !== undefined ? { version: q.version } : {}) };
}

const head = (w: WindowResult) => ({
  model: w.model,
  version: w.version,
  start: new Date(w.start).toISOString(),
  end: new Date(w.end).toISOString(),
  status: w.status,
  rows: w.rows,
  computedAt: new Date(w.computedAt).toISOString(),
  ...(w.reason ? { reason: w.reason } : {}),
});

export const driftAnswer = (ws: readonly WindowResult[]) => ({
  windows: ws.map((w) => ({
    ...head(w),
    ...(w.drift ? { drift: w.drift } : {}),
    ...(w.histograms ? { histograms: w.histograms } : {}),
  })),
});
export const qualityAnswer = (ws: readonly WindowResult[]) => ({
  windows: ws.map((w) => ({
    ...head(w),
    ...(w.quality ? { quality: w.quality } : {}),
    ...(w.contracts ? { contracts: w.contracts } : {}),
  })),
});
export const performanceAnswer = (ws: readonly WindowResult[]) => ({
  windows: ws.map((w) => ({ ...head(w), performance: w.performance ?? [] })),
});
