/**
 * POST /api/backfills {views, from, to, interval?, maxParallel?}: start (or join) a backfill.
 * 202 with the Durable check-status links (createCheckStatusResponse's payload and Location)
 * plus `status: 'started' | 'joined'`. The instance id comes from the request, so the same
 * request while it runs joins it; after it finished or failed, it runs again and skips every
 * interval already committed. GET /api/backfills/{id}: its status and progress.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { parseBackfillRequest, backfillInstanceId, type BackfillRequest } from '../shared/features/backfill';
import { BACKFILL_ORCHESTRATION } from '../orchestrations/backfill';
import { errorResponse, readJson, routeName } from './http';
import { accepted, startOrJoin } from './durable-jobs';

/** Start a backfill unless the same one is running. */
export async function startOrJoinBackfill(
  client: DurableClient,
  request: BackfillRequest,
): Promise<{ id: string; status: 'started' | 'joined' }> {
  const id = backfillInstanceId(platform().repo, request);
  return { id, status: await startOrJoin(client, BACKFILL_ORCHESTRATION, id, request) };
}

export async function backfillsStart(req: HttpRequest, client: DurableClient, ctx: InvocationContext) {
  try {
    const request = parseBackfillRequest(platform().repo, await readJson(req, z.unknown()));
    const { id, status } = await startOrJoinBackfill(client, request);
    return accepted(client, id, status, {
      request: { ...request, from: new Date(request.from).toISOString(), to: new Date(request.to).toISOString() },
    });
  } catch (e) {
    return errorResponse(e, ctx);
  }
}

df.app.client.http('backfills-start', {
  route: 'backfills',
  methods: ['POST'],
  authLevel: 'function',
  handler: backfillsStart,
});

export async function backfillsStatus(req: HttpRequest, client: DurableClient, ctx: InvocationContext) {
  try {
    const id = routeName(req, 'id', 'instanceId');
    const s = await client.getStatus(id).catch(() => undefined);
    if (!s || s.name !== BACKFILL_ORCHESTRATION)
      return {
        status: 404,
        jsonBody: { error: `no backfill with id "${id}"; POST /api/backfills starts one and answers with its id` },
      };
    return {
      jsonBody: {
        ...client.createHttpManagementPayload(id),
        runtimeStatus: s.runtimeStatus,
        createdTime: s.createdTime,
        lastUpdatedTime: s.lastUpdatedTime,
        progress: s.customStatus ?? null,
        output: s.output ?? null,
      },
    };
  } catch (e) {
    return errorResponse(e, ctx);
  }
}

df.app.client.http('backfills-status', {
  route: 'backfills/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: backfillsStatus,
});
