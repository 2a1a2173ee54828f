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
 *
 * What the request becomes (BackfillRequest: whole days, intervalMs, maxParallel) has its own
 * schema, backfillJobSchema: the HTTP parse ends with it, and the orchestration checks its input
 * with it (parseBackfillJob), so both edges apply one set of rules.
 */
import { z } from 'zod';
import { ValidationError, detailsFromZod, type ErrorDetail } from '../../errors';
import type { FeatureRepo } from '../definitions/repo';
import { downstream } from '../compute/dag';
import { parseDuration, formatDuration } from '../definitions/duration';
import { canonicalJson, sha256Hex } from '../../canonical-json';
import { didYouMean } from '../../suggest';
import { nameSchema } from '../../names';
import { MAX_TIME_MS, clientTimeSchema } from '../../times';

export const DAY_MS = 86_400_000;
/** More intervals than this in one request is a mistake (or a job for several requests). */
export const MAX_INTERVALS = 5_000;
export const DEFAULT_MAX_PARALLEL = 4;
export const MAX_PARALLEL = 32;
const MAX_VIEWS = 100;

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

export const backfillRequestSchema = z.object({
  views: z
    .array(nameSchema('definition'))
    .min(1, 'name at least one feature view')
    .max(MAX_VIEWS, `at most ${MAX_VIEWS} views per backfill`),
  from: clientTimeSchema,
  to: clientTimeSchema,
  interval: z.union([z.string().min(1), z.number()]).optional(),
  maxParallel: z.number().int().min(1).max(MAX_PARALLEL, `at most ${MAX_PARALLEL} intervals run at once`).optional(),
});

/** How intervalMs must tile UTC days; undefined when it does. */
function tilingProblem(intervalMs: number): string | undefined {
  const tiles =
    intervalMs > 0 &&
    (intervalMs < DAY_MS ? DAY_MS % intervalMs === 0 && intervalMs % 3_600_000 === 0 : intervalMs % DAY_MS === 0);
  return tiles
    ? undefined
    : `${intervalMs > 0 ? formatDuration(intervalMs) : String(intervalMs)} does not tile UTC days; use whole hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or whole days (1d, 7d)`;
}

const wholeDay = (what: string) =>
  z
    .number({ message: `must be epoch milliseconds at the start of a UTC day (${what})` })
    .int('must be whole epoch milliseconds')
    .min(0)
    .max(MAX_TIME_MS + 1)
    .refine((v) => v % DAY_MS === 0, 'must be the start of a UTC day (a multiple of 86400000)');

/**
 * A backfill as the orchestration takes it (what parseBackfillRequest gives): checked again by
 * the orchestration itself, so an instance started on the Durable API with bad input fails
 * with a message naming the field instead of planning forever.
 */
export const backfillJobSchema = z
  .object({
    views: z
      .array(nameSchema('definition'))
      .min(1, 'name at least one feature view')
      .max(MAX_VIEWS, `at most ${MAX_VIEWS} views per backfill`),
    from: wholeDay('from'),
    to: wholeDay('to'),
    intervalMs: z.number({ message: 'must be a number of milliseconds' }).int('must be whole milliseconds'),
    maxParallel: z
      .number({ message: 'must be a number' })
      .int()
      .min(1)
      .max(MAX_PARALLEL, `at most ${MAX_PARALLEL} intervals run at once`),
  })
  .strict()
  .superRefine((j, ctx) => {
    const tiling = tilingProblem(j.intervalMs);
    if (tiling) ctx.addIssue({ code: 'custom', path: ['intervalMs'], message: tiling });
    if (!(j.to > j.from))
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `must be after from (${new Date(j.from).toISOString()}); the range is [from, to)`,
      });
    else if (!tiling && (j.to - j.from) / j.intervalMs > MAX_INTERVALS) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `${Math.ceil((j.to - j.from) / j.intervalMs)} intervals is more than ${MAX_INTERVALS}; use a longer interval or split the range`,
      });
    }
  });

/** An orchestration's input as a BackfillRequest, or a ValidationError naming each field. */
export function parseBackfillJob(input: unknown): BackfillRequest {
  const r = backfillJobSchema.safeParse(input);
  if (!r.success) {
    const details = detailsFromZod(r.error.issues);
    throw new ValidationError(
      `invalid backfill input: ${details.map((d) => `${d.where}: ${d.problem}`).join('; ')}`,
      details,
    );
  }
  return r.data;
}

/** Parse an untrusted body; every problem at once, each with where it is and how to fix it. */
export function parseBackfillRequest(repo: FeatureRepo, body: unknown): BackfillRequest {
  const r = backfillRequestSchema.safeParse(body);
  if (!r.success) throw new ValidationError('invalid backfill request', detailsFromZod(r.error.issues));
  const b = r.data;
  const problems: ErrorDetail[] = [];
  b.views.forEach((v, i) => {
    if (!repo.views.has(v))
      problems.push({
        where: `views[${i}]`,
        problem: `no feature view named "${v}"${didYouMean(v, repo.views.keys())}; views: ${[...repo.views.keys()].join(', ')}`,
      });
  });
  let intervalMs = DAY_MS;
  if (b.interval !== undefined) {
    try {
      intervalMs = parseDuration(b.interval);
      const tiling = tilingProblem(intervalMs);
      if (tiling) problems.push({ where: 'interval', problem: tiling });
    } catch (e) {
      problems.push({ where: 'interval', problem: (e as Error).message });
    }
  }
  const job = {
    views: [...new Set(b.views)].sort(),
    from: Math.floor(b.from / DAY_MS) * DAY_MS,
    to: Math.min(Math.ceil(b.to / DAY_MS) * DAY_MS, MAX_TIME_MS + 1),
    intervalMs,
    maxParallel: b.maxParallel ?? DEFAULT_MAX_PARALLEL,
  };
  // The rest are the orchestration's own rules on the normalised request (reported under the body's names).
  if (!(b.to > b.from))
    problems.push({
      where: 'to',
      problem: `must be after from (${new Date(b.from).toISOString()}); the range is [from, to)`,
    });
  else if (!problems.some((p) => p.where === 'interval')) {
    const checked = backfillJobSchema.safeParse(job);
    if (!checked.success) {
      for (const d of detailsFromZod(checked.error.issues))
        problems.push({ where: d.where === 'intervalMs' ? 'interval' : d.where, problem: d.problem });
    }
  }
  if (problems.length)
    throw new ValidationError(
      `invalid backfill request: ${problems.map((p) => `${p.where}: ${p.problem}`).join('; ')}`,
      problems,
    );
  return job;
}

/** The deterministic instance id of a request: same meaning, same id (see the header). */
export function backfillInstanceId(repo: FeatureRepo, req: BackfillRequest): string {
  const versions = Object.fromEntries(
    downstream(repo, req.views, { includeSelf: true }).map((v) => [v, repo.view(v).version]),
  );
  const identity = canonicalJson({
    views: [...req.views].sort(),
    from: req.from,
    to: req.to,
    intervalMs: req.intervalMs,
    versions,
  });
  return `backfill-${sha256Hex(identity).slice(0, 24)}`;
}
