/**
 * A backfill request as it arrives over HTTP (or from the plan timer), validated once here:
 *
 *   { views: ['user_clicks'], from: '2024-03-01', to: '2024-03-31', interval?: '1d', maxParallel?: 4 }
 *
 * `from`/`to` are ISO-8601 times or epoch ms; the range is half-open [from, to) and widened to
 * whole UTC days (the interval ledger keeps days). `interval` (default 1d) must divide a day
 * (1h, 2h, 3h, 4h, 6h, 8h, 12h) or be whole days. The instance id is a hash of what the request
 * means — the views, the range, the interval and the definition versions it would write — so
 * the same request joins (or resumes) the same backfill, and the same request after a
 * definition change is a new backfill.
 */
import { z } from 'zod';
import { createHash } from 'node:crypto';
import { ValidationError, detailsFromZod, type ErrorDetail } from '../../errors';
import type { FeatureRepo } from '../repo';
import { downstream } from '../dag';
import { parseDuration, formatDuration } from '../duration';
import { canonicalJson } from '../offline/segment-id';
import { didYouMean } from '../suggest';

export const DAY_MS = 86_400_000;
/** More intervals than this in one request is a mistake (or a job for several requests). */
export const MAX_INTERVALS = 5_000;
export const DEFAULT_MAX_PARALLEL = 4;
export const MAX_PARALLEL = 32;

export interface BackfillRequest {
  /** The views asked for (everything downstream of them is recomputed too). */
  views: string[];
  /** Whole UTC days, [from, to), epoch ms. */
  from: number;
  to: number;
  intervalMs: number;
  /** How many intervals run at once. */
  maxParallel: number;
}

const time = z.unknown().transform((v, ctx) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Date.parse(v.trim()))) return Date.parse(v.trim());
  ctx.addIssue({
    code: 'custom',
    message: v === undefined ? 'required: an ISO-8601 time (e.g. 2024-03-01) or epoch milliseconds' : `must be an ISO-8601 time (e.g. 2024-03-01 or 2024-03-01T00:00:00Z) or whole epoch milliseconds, got ${JSON.stringify(v)}`,
  });
  return z.NEVER;
});

export const backfillRequestSchema = z.object({
  views: z.array(z.string().min(1)).min(1, 'name at least one feature view'),
  from: time,
  to: time,
  interval: z.union([z.string().min(1), z.number()]).optional(),
  maxParallel: z.number().int().min(1).max(MAX_PARALLEL, `at most ${MAX_PARALLEL} intervals run at once`).optional(),
});

/** Parse an untrusted body; every problem at once, each with where it is and how to fix it. */
export function parseBackfillRequest(repo: FeatureRepo, body: unknown): BackfillRequest {
  const r = backfillRequestSchema.safeParse(body);
  if (!r.success) throw new ValidationError('invalid backfill request', detailsFromZod(r.error.issues));
  const b = r.data;
  const problems: ErrorDetail[] = [];
  b.views.forEach((v, i) => {
    if (!repo.views.has(v)) problems.push({ where: `views[${i}]`, problem: `no feature view named "${v}"${didYouMean(v, repo.views.keys())}; views: ${[...repo.views.keys()].join(', ')}` });
  });
  let intervalMs = DAY_MS;
  if (b.interval !== undefined) {
    try {
      intervalMs = parseDuration(b.interval);
      if (intervalMs < DAY_MS ? DAY_MS % intervalMs !== 0 || intervalMs % 3_600_000 !== 0 : intervalMs % DAY_MS !== 0) {
        problems.push({ where: 'interval', problem: `${formatDuration(intervalMs)} does not tile UTC days; use whole hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or whole days (1d, 7d)` });
      }
    } catch (e) {
      problems.push({ where: 'interval', problem: (e as Error).message });
    }
  }
  const from = Math.floor(b.from / DAY_MS) * DAY_MS;
  const to = Math.ceil(b.to / DAY_MS) * DAY_MS;
  if (!(b.to > b.from)) problems.push({ where: 'to', problem: `must be after from (${new Date(b.from).toISOString()}); the range is [from, to)` });
  else if ((to - from) / intervalMs > MAX_INTERVALS) {
    problems.push({ where: 'to', problem: `${Math.ceil((to - from) / intervalMs)} intervals is more than ${MAX_INTERVALS}; use a longer interval or split the range` });
  }
  if (problems.length) throw new ValidationError(`invalid backfill request: ${problems.map((p) => `${p.where}: ${p.problem}`).join('; ')}`, problems);
  return { views: [...new Set(b.views)].sort(), from, to, intervalMs, maxParallel: b.maxParallel ?? DEFAULT_MAX_PARALLEL };
}

/** The deterministic instance id of a request: same meaning, same id (see the header). */
export function backfillInstanceId(repo: FeatureRepo, req: BackfillRequest): string {
  const versions = Object.fromEntries(downstream(repo, req.views, { includeSelf: true }).map((v) => [v, repo.view(v).version]));
  const identity = canonicalJson({ views: [...req.views].sort(), from: req.from, to: req.to, intervalMs: req.intervalMs, versions });
  return `backfill-${createHash('sha256').update(identity).digest('hex').slice(0, 24)}`;
}
