/**
 * Training runs (function key): GET /api/runs[?model=&status=&limit=] newest first;
 * GET /api/runs/{id} one run (params, metrics final and per iteration, window, training set,
 * definition versions, artifacts, duration, CPU seconds, the gate's decision and why, each
 * step's executions); GET /api/runs/compare?ids=a,b params and metrics side by side, with
 * what differs and which run is best per metric.
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { runStore } from '../shared/training/deps';
import { compareRuns, JOB_STATUSES } from '../shared/training/runs';
import { nameSchema } from '../shared/names';
import { errorResponse, readQuery, routeName } from './http';

const ListQuery = z
  .object({
    model: nameSchema('model').optional(),
    status: z.enum(JOB_STATUSES, { message: `must be one of ${JOB_STATUSES.join(', ')}` }).optional(),
    limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(1000).optional(),
  })
  .strict();

const CompareQuery = z
  .object({
    ids: z
      .string({ message: 'required: two or more run ids, comma-separated' })
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .refine((ids) => ids.length >= 2 && ids.length <= 10, 'give 2 to 10 run ids, comma-separated'),
  })
  .strict();

app.http('runs', {
  route: 'runs/{id?}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (req: HttpRequest, ctx: InvocationContext) => {
    try {
      const store = runStore();
      if (req.params.id === undefined || req.params.id === '') {
        const q = readQuery(req, ListQuery);
        return { jsonBody: { runs: await store.list({ ...q, limit: q.limit ?? 100 }) } };
      }
      if (req.params.id === 'compare') {
        const { ids } = readQuery(req, CompareQuery);
        const runs = await Promise.all(ids.map((id) => store.get(id)));
        const missing = ids.filter((_, i) => !runs[i]);
        if (missing.length)
          return {
            status: 404,
            jsonBody: {
              error: `no run ${missing.join(', ')}`,
              details: [{ where: 'ids', problem: `unknown: ${missing.join(', ')}` }],
            },
          };
        return { jsonBody: compareRuns(runs.map((r) => r!)) };
      }
      const id = routeName(req, 'id', 'instanceId');
      const run = await store.get(id);
      if (!run) return { status: 404, jsonBody: { error: `no run "${id}"; GET /api/runs lists them` } };
      return { jsonBody: run };
    } catch (e) {
      return errorResponse(e, ctx);
    }
  },
});
