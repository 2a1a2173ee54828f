/**
 * POST /api/training-sets: a point-in-time-correct training set (Parquet in Blob) from a spine
 * and a feature service or feature list. Sets are immutable: 201 when built, 200 with the stored
 * set when the same request built it before (same id), 409 for a different request under a taken id.
 *
 * Long builds run off the HTTP path (Azure ends requests after 230 s): a spine of more than
 * STRATA_TRAINING_SET_ASYNC_ROWS rows, or `?async=true`, or `Prefer: respond-async`, starts the
 * `training-set` Durable job and answers 202 with its status links (Location; they carry the
 * system key as code=); the status's output is the set's record once built. The same request
 * while its job runs joins it. `?async=false` builds at once whatever the size.
 */
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { createTrainingSet } from '../shared/features/pit';
import { runsAsync, spineRows, trainingSetJobId } from '../shared/features/pit/training-set-job';
import { trainingSetRequestFromApi } from '../shared/features/pit/api';
import { TRAINING_SET_ORCHESTRATION } from '../orchestrations/training-set';
import { errorResponse, readJson, readQuery } from './http';
import { accepted, startOrJoin } from './durable-jobs';

const QuerySchema = z
  .object({ async: z.enum(['true', 'false'], { message: 'must be true or false' }).optional() })
  .strict();

/** RFC 7240: `Prefer: respond-async` (possibly among other preferences, `respond-async, wait=10`). */
function prefersAsync(header: string | null): boolean {
  return (header ?? '').split(',').some((p) => p.split(/[;=]/)[0]!.trim().toLowerCase() === 'respond-async');
}

export async function trainingSets(req: HttpRequest, client: DurableClient, ctx: InvocationContext) {
  try {
    const p = platform();
    const query = readQuery(req, QuerySchema);
    const body = await readJson(req, z.unknown());
    const request = trainingSetRequestFromApi(p.repo, body);
    const prefer = prefersAsync(req.headers.get('prefer'));
    const asked = query.async !== undefined ? query.async === 'true' : prefer ? true : undefined;
    const offline = await p.offline();
    const rows = asked === undefined ? await spineRows(offline, request.spine) : undefined;
    if (!runsAsync(rows, p.config.trainingSetAsyncRows, asked)) {
      const { set, created } = await createTrainingSet(await p.trainingSetDeps(), {
        ...request,
        jobId: ctx.invocationId,
      });
      return { status: created ? 201 : 200, jsonBody: set };
    }
    const id = trainingSetJobId(request);
    const status = await startOrJoin(client, TRAINING_SET_ORCHESTRATION, id, body);
    return accepted(
      client,
      id,
      status,
      { jobId: id, ...(rows !== undefined && Number.isFinite(rows) ? { spineRows: rows } : {}) },
      prefer && asked ? { 'Preference-Applied': 'respond-async' } : {},
    );
  } catch (e) {
    return errorResponse(e, ctx);
  }
}

df.app.client.http('training-sets', {
  route: 'training-sets',
  methods: ['POST'],
  authLevel: 'function',
  handler: trainingSets,
});
