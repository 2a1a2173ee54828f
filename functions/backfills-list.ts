/**
 * GET /api/backfills[?days=7] (function key): the backfill jobs created in the last days,
 * newest first, each with its status and progress (the orchestration's custom status) and
 * its request: what the dashboard's Jobs page polls. One job: GET /api/backfills/{id}.
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { z } from 'zod';
import { BACKFILL_ORCHESTRATION } from '../orchestrations/backfill';
import { errorResponse, readQuery } from './http';

const Query = z.object({
  days: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(1).max(90).optional(),
});

export async function backfillsList(req: HttpRequest, client: DurableClient, ctx: InvocationContext) {
  try {
    const { days = 7 } = readQuery(req, Query);
    const all = await client.getStatusBy({ createdTimeFrom: new Date(Date.now() - days * 86_400_000) });
    const jobs = all
      .filter((s) => s.name === BACKFILL_ORCHESTRATION)
      .map((s) => ({
        id: s.instanceId,
        runtimeStatus: s.runtimeStatus,
        createdTime: s.createdTime,
        lastUpdatedTime: s.lastUpdatedTime,
        request: s.input ?? null,
        progress: s.customStatus ?? null,
        output: s.output ?? null,
      }))
      .sort((a, b) => new Date(b.createdTime).getTime() - new Date(a.createdTime).getTime());
    return { jsonBody: { days, jobs } };
  } catch (e) {
    return errorResponse(e, ctx);
  }
}

df.app.client.http('backfills-list', {
  route: 'backfills',
  methods: ['GET'],
  authLevel: 'function',
  handler: backfillsList,
});
