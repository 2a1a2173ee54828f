/**
 * Training sets off the HTTP path. Azure ends an HTTP request after 230 s, and a large spine
 * joined against months of features can take longer, so POST /api/training-sets builds a set
 * above a size (STRATA_TRAINING_SET_ASYNC_ROWS spine rows), or whenever the client asks, in a
 * Durable job and answers 202 with its status links. This module is what the route and the job
 * share:
 *
 *   parseTrainingSetJob(repo, in)  the job's input (the route's body) by the route's own rules; the
 *                                  error message carries every field's problem (a job's status has no details)
 *   spineRows(store, spine)        the size the decision is about (a blob spine counted from its file)
 *   runsAsync(rows, limit, asked)  the decision
 *   trainingSetJobId(request)      the job's instance id: a hash of the parsed request, so the same
 *                                  request while its job runs joins it
 *   runTrainingSetJob(deps, ...)  the activity's work: createTrainingSet, with the request's own
 *                                  refusals (a taken id: 409, bad input: 400, no data: 404) as a
 *                                  result rather than a failure, so they are not retried
 *
 * The job keeps the immutability rules of the synchronous route because it is the same call
 * (createTrainingSet): the same request again answers the stored set, a different request under
 * a taken id is refused, however the two builds are interleaved.
 */
import { createHash } from 'node:crypto';
import { StrataError, ValidationError, publicText, type ErrorDetail } from '../../errors';
import type { FeatureRepo } from '../definitions/repo';
import { trainingSetRequestFromApi } from './api';
import { withConnection } from '../offline/duckdb';
import { canonicalJson } from '../../canonical-json';
import type { OfflineStore } from '../offline/store';
import { spineRowCount, type SpineSource } from './spine';
import {
  createTrainingSet,
  type TrainingSetDeps,
  type TrainingSetRequest,
  type TrainingSetResult,
} from './training-set';

/** A spine blob larger than this is not fetched on the request path to be counted: it goes to a job. */
export const COUNT_BLOB_MAX_BYTES = 64 * 1024 * 1024;

export const TRAINING_SET_JOB_PREFIX = 'training-set-';

/** The job's input, the POST /api/training-sets body, checked as the route checks it. */
export function parseTrainingSetJob(repo: FeatureRepo, input: unknown): TrainingSetRequest {
  try {
    return trainingSetRequestFromApi(repo, input);
  } catch (e) {
    if (!(e instanceof ValidationError) || !e.details.length) throw e;
    throw new ValidationError(
      `${e.message}: ${e.details.map((d) => `${d.where}: ${d.problem}`).join('; ')}`,
      e.details,
    );
  }
}

/** Spine rows, Infinity for a blob too large to count on a request path, undefined for an unreadable blob. */
export async function spineRows(store: OfflineStore, spine: SpineSource): Promise<number | undefined> {
  if ('rows' in spine) return spine.rows.length;
  return withConnection((c) => spineRowCount(c, spine, store.cache, COUNT_BLOB_MAX_BYTES));
}

/**
 * Whether a request runs as a job: when the client asks (`asked` true) or refuses (false), as
 * it says; else when its spine has more than `limit` rows. An unreadable blob builds at once,
 * which reports why.
 */
export function runsAsync(rows: number | undefined, limit: number, asked: boolean | undefined): boolean {
  if (asked !== undefined) return asked;
  return rows !== undefined && rows > limit;
}

/** The job's instance id: the same parsed request, the same id (hashed row by row, not as one string). */
export function trainingSetJobId(request: TrainingSetRequest): string {
  const h = createHash('sha256');
  const { spine, jobId: _jobId, ...rest } = request;
  h.update(canonicalJson(rest));
  if ('rows' in spine) for (const r of spine.rows) h.update(canonicalJson([r.entityId, r.ts, r.label ?? null]));
  else h.update(canonicalJson({ blobPath: spine.blobPath }));
  return `${TRAINING_SET_JOB_PREFIX}${h.digest('hex').slice(0, 32)}`;
}

export type TrainingSetJobResult =
  | { ok: true; set: TrainingSetResult; created: boolean }
  | { ok: false; status: number; error: string; details: ErrorDetail[] };

/**
 * Build (or find) the set as POST /api/training-sets does, recording `jobId` in its record.
 * The client's mistakes come back as `{ok: false}` (no retry helps them); anything else throws
 * and the job retries it.
 */
export async function runTrainingSetJob(
  deps: TrainingSetDeps,
  request: TrainingSetRequest,
  jobId: string,
): Promise<TrainingSetJobResult> {
  try {
    const { set, created } = await createTrainingSet(deps, { ...request, jobId });
    return { ok: true, set, created };
  } catch (e) {
    // The job's status is read by clients: the messages without internals, as HTTP answers them.
    if (e instanceof StrataError && e.status < 500) {
      return {
        ok: false,
        status: e.status,
        error: publicText(e.message),
        details: e.details.map((d) => ({ where: d.where, problem: publicText(d.problem) })),
      };
    }
    throw e;
  }
}
