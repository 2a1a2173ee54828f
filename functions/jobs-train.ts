/**
 * POST /api/jobs/train (admin key): start (or join) a train job. Body: `model` and any fields of
 * its training config to override for this job (trainer, params, labels, window, gate, ...; see
 * shared/training/config.ts), plus an optional `reason`. 202 with the Durable status links,
 * `status: 'started' | 'joined'`, the job id, the exact window and links to the job and its run.
 * The same job (model, trainer config, window, definitions) joins it while it runs, and answers
 * the finished job once it completed (`joined`; a failed one runs again); a bad body
 * is a 400 naming the field; a model without a config a 404.
 *
 * `trainingStarter(client)` is startTraining's deps on a Durable client: what the timers here and
 * monitoring's `retrain` alert action call (`startTraining(await trainingStarter(client), {...})`).
 */
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { triggerDeps } from '../shared/training/deps';
import { HTTP_REASON, startTraining, type TrainingTriggerDeps } from '../shared/training/start';
import { TRAIN_ORCHESTRATION } from '../orchestrations/train';
import { errorResponse, readJson } from './http';
import { accepted, startOrJoin } from './durable-jobs';

export function trainingStarter(client: DurableClient): Promise<TrainingTriggerDeps> {
  // The same job finished: answer it (joined) instead of training the same model twice. A failed one runs again.
  return triggerDeps((instanceId, input) =>
    startOrJoin(client, TRAIN_ORCHESTRATION, instanceId, input, { joinCompleted: true }),
  );
}

df.app.client.http('jobs-train', {
  route: 'jobs/train',
  methods: ['POST'],
  authLevel: 'admin',
  handler: async (req: HttpRequest, client: DurableClient, ctx: InvocationContext) => {
    try {
      const body = await readJson(
        req,
        z.record(z.string(), z.unknown(), { message: 'must be a JSON object with at least `model`' }),
      );
      const { model, reason, window, ...overrides } = body;
      if (typeof model !== 'string')
        return {
          status: 400,
          jsonBody: {
            error: 'invalid train request',
            details: [
              {
                where: 'model',
                problem:
                  'required: the model to train (a name from shared/definitions/training.ts, or with featureService, labels, window and trainer given here)',
              },
            ],
          },
        };
      const start = await startTraining(await trainingStarter(client), {
        model,
        reason: typeof reason === 'string' ? reason : HTTP_REASON,
        ...(window !== undefined ? { window: window as never } : {}),
        overrides,
      });
      if (start.status === 'skipped') return { status: 200, jsonBody: start };
      return accepted(client, start.instanceId, start.status, {
        jobId: start.instanceId,
        window: { from: new Date(start.window.from).toISOString(), to: new Date(start.window.to).toISOString() },
        links: { job: `/api/jobs/${start.instanceId}`, run: `/api/runs/${start.instanceId}` },
      });
    } catch (e) {
      return errorResponse(e, ctx);
    }
  },
});
