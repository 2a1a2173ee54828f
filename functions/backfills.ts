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
import { parseBackfillRequest, backfillInstanceId } from '../shared/features/backfill';
import { BACKFILL_ORCHESTRATION } from '../orchestrations/backfill';
import { errorResponse, readJson } from './http';

const RUNNING = new Set(['Running', 'Pending', 'ContinuedAsNew', 'Suspended']);

/** Start a backfill unless the same one is running; the check-status payload either way. */
export async function startOrJoinBackfill(client: DurableClient, req: HttpRequest, body: unknown): Promise<HttpResponseInit> {
  const { repo } = platform();
  const request = parseBackfillRequest(repo, body);
  const id = backfillInstanceId(repo, request);
  const existing = await client.getStatus(id).catch(() => undefined);
  let status: 'started' | 'joined' = 'joined';
  if (!existing || !RUNNING.has(String(existing.runtimeStatus))) {
    try {
      await client.startNew(BACKFILL_ORCHESTRATION, { instanceId: id, input: request });
      status = 'started';
    } catch (e) {
      // Two identical requests at once: the other one started it.
      if (!/already exists/i.test((e as Error).message)) throw e;
    }
  }
  const links = client.createHttpManagementPayload(id);
  void req;
  return {
    status: 202,
    headers: { Location: links.statusQueryGetUri, 'Retry-After': '10' },
    jsonBody: { ...links, status, request: { ...request, from: new Date(request.from).toISOString(), to: new Date(request.to).toISOString() } },
  };
}

df.app.client.http('backfills-start', {
  route: 'backfills',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (req: HttpRequest, client: DurableClient, ctx: InvocationContext) => {
    try {
      return await startOrJoinBackfill(client, req, await readJson(req, z.unknown()));
    } catch (e) {
      return errorResponse(e, ctx);
    }
  },
});

df.app.client.http('backfills-status', {
  route: 'backfills/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (req: HttpRequest, client: DurableClient, ctx: InvocationContext) => {
    try {
      const id = req.params.id!;
      const s = await client.getStatus(id).catch(() => undefined);
      if (!s || s.name !== BACKFILL_ORCHESTRATION) return { status: 404, jsonBody: { error: `no backfill with id "${id}"; POST /api/backfills starts one and answers with its id` } };
      return {
        jsonBody: {
          ...client.createHttpManagementPayload(id),
          runtimeStatus: s.runtimeStatus, createdTime: s.createdTime, lastUpdatedTime: s.lastUpdatedTime,
          progress: s.customStatus ?? null, output: s.output ?? null,
        },
      };
    } catch (e) {
      return errorResponse(e, ctx);
    }
  },
});
