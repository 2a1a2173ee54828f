/**
 * GET /api/jobs/{id}: one job (train, backfill or training-set) as a job queue reports it:
 * status PENDING | RUNNING | COMPLETED | FAILED, the current step, progress (a train job's fit:
 * trees built / total, the latest losses), metrics so far, the gate's decision, links.
 * GET /api/jobs[?model=&status=&kind=&days=7]: the jobs created in the last days, newest first
 * (`model` keeps train jobs of that model).
 */
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { runStore } from '../shared/training/deps';
import { JOB_KINDS, jobView, type JobKind } from '../shared/training/jobs-view';
import { JOB_STATUSES } from '../shared/training/runs';
import { nameSchema } from '../shared/names';
import { TRAIN_ORCHESTRATION } from '../orchestrations/train';
import { BACKFILL_ORCHESTRATION } from '../orchestrations/backfill';
import { TRAINING_SET_ORCHESTRATION } from '../orchestrations/training-set';
import { errorResponse, readQuery, routeName } from './http';

const KIND_OF: Record<string, JobKind> = {
  [TRAIN_ORCHESTRATION]: 'train',
  [BACKFILL_ORCHESTRATION]: 'backfill',
  [TRAINING_SET_ORCHESTRATION]: 'training-set',
};

const ListQuery = z
  .object({
    model: nameSchema('model').optional(),
    status: z.enum(JOB_STATUSES, { message: `must be one of ${JOB_STATUSES.join(', ')}` }).optional(),
    kind: z.enum(JOB_KINDS, { message: `must be one of ${JOB_KINDS.join(', ')}` }).optional(),
    days: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(1).max(90).optional(),
  })
  .strict();

df.app.client.http('jobs-status', {
  route: 'jobs/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (req: HttpRequest, client: DurableClient, ctx: InvocationContext) => {
    try {
      const id = routeName(req, 'id', 'instanceId');
      const s = await client.getStatus(id).catch(() => undefined);
      const kind = s?.name !== undefined ? KIND_OF[s.name] : undefined;
      if (!s || !kind) return { status: 404, jsonBody: { error: `no job with id "${id}"; GET /api/jobs lists them` } };
      const run = kind === 'train' ? await runStore().get(id) : undefined;
      return {
        jsonBody: {
          ...jobView(kind, s, run),
          statusQueryGetUri: client.createHttpManagementPayload(id).statusQueryGetUri,
        },
      };
    } catch (e) {
      return errorResponse(e, ctx);
    }
  },
});

df.app.client.http('jobs-list', {
  route: 'jobs',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (req: HttpRequest, client: DurableClient, ctx: InvocationContext) => {
    try {
      const q = readQuery(req, ListQuery);
      const days = q.days ?? 7;
      const all = await client.getStatusBy({ createdTimeFrom: new Date(Date.now() - days * 86_400_000) });
      const runs = new Map((await runStore().list(q.model ? { model: q.model } : {})).map((r) => [r.id, r]));
      const jobs = all
        .filter((s) => KIND_OF[s.name] !== undefined)
        .map((s) => jobView(KIND_OF[s.name]!, s, runs.get(s.instanceId)))
        .filter(
          (j) =>
            (q.kind === undefined || j.kind === q.kind) &&
            (q.status === undefined || j.status === q.status) &&
            (q.model === undefined || j.model === q.model),
        )
        .sort((a, b) => (b.createdTime ?? '').localeCompare(a.createdTime ?? ''));
      return { jsonBody: { days, jobs } };
    } catch (e) {
      return errorResponse(e, ctx);
    }
  },
});
