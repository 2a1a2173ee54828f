/**
 * The monitoring timer (STRATA_MONITOR_SCHEDULE, default every 15 minutes): close every
 * finished window of the versions production or canary serve, summarise completed day
 * partitions, alert. Monitoring runs only here (and in the admin route below, for operators
 * and tests: POST /api/monitoring/run { at?, settle?, ignoreLoad? }); predict never waits for
 * it. A busy host defers the run (see shared/monitoring/load-guard.ts).
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { config } from '../shared/config';
import { platform } from '../shared/platform';
import { durationSchema } from '../shared/monitoring/duration-schema';
import { queryTime } from '../shared/serving/timeseries';
import { handled, readJson } from './http';
import { durableRetrainTrigger } from './retrain-trigger';

app.timer('monitor-timer', {
  schedule: config().monitorSchedule,
  extraInputs: [df.input.durableClient()],
  handler: async (_timer: Timer, ctx: InvocationContext) => {
    const { monitor } = await platform().monitoring();
    const r = await monitor.run({ retrain: durableRetrainTrigger(df.getClient(ctx)) });
    const counts = r.windows.reduce<Record<string, number>>(
      (a, w) => ({ ...a, [w.outcome]: (a[w.outcome] ?? 0) + 1 }),
      {},
    );
    ctx.log(
      `monitoring: ${JSON.stringify(counts)} windows, ${r.summaries.length} day summaries, ${r.alerts} alert transitions${r.deferred ? `; deferred: ${r.deferred}` : ''}`,
    );
  },
});

const RunBodySchema = z
  .object({
    /** The run's clock: windows that ended by then (minus settle) close. Default now. */
    at: queryTime('at').optional(),
    /** How long after its end a window closes ("2m"; "0s" or 0: at once). */
    settle: durationSchema({ allowZero: true }).optional(),
    ignoreLoad: z.boolean().default(true),
  })
  .strict()
  .default({ ignoreLoad: true });

app.http('monitor-run', {
  methods: ['POST'],
  route: 'monitoring/run',
  authLevel: 'admin',
  extraInputs: [df.input.durableClient()],
  handler: handled(async (req, ctx) => {
    const body = await readJson(req, RunBodySchema);
    const { monitor } = await platform().monitoring();
    const report = await monitor.run({
      ...(body.at !== undefined ? { now: body.at } : {}),
      ...(body.settle !== undefined ? { settleMs: body.settle } : {}),
      ignoreLoad: body.ignoreLoad,
      retrain: durableRetrainTrigger(df.getClient(ctx)),
    });
    return { jsonBody: report };
  }),
});
