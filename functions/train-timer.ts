/**
 * One timer per model whose training config has a schedule (NCRONTAB, UTC): it calls
 * startTraining with reason `schedule`, which plans before it runs (cooldown; nothing changed
 * since the last completed run: nothing starts) and joins a job already running.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { trainingConfigs, trainingConfigSpecs } from '../shared/definitions/training';
import { loadConfiguredTrainers } from '../shared/training/deps';
import { startTraining } from '../shared/training/start';
import { trainingStarter } from './jobs-train';

// Check every declared config when the app loads: a bad one fails the start, naming the field.
loadConfiguredTrainers();
trainingConfigs();

for (const spec of trainingConfigSpecs) {
  if (spec.schedule === undefined) continue;
  app.timer(`train-timer-${spec.model}`, {
    schedule: spec.schedule,
    extraInputs: [df.input.durableClient()],
    handler: async (_timer: Timer, ctx: InvocationContext) => {
      const s = await startTraining(await trainingStarter(df.getClient(ctx)), {
        model: spec.model,
        reason: 'schedule',
      });
      ctx.log(`train ${spec.model}: ${s.status} ${s.instanceId}${s.skipped ? ` (${s.skipped})` : ''}`);
    },
  });
}
