/**
 * The RetrainTrigger monitoring's `retrain` alerts call, wired to the Durable client (not a
 * function itself): training's startTraining through the same deps POST /api/jobs/train uses,
 * so an alert starts the real train job, once per (model, window) (shared/training/retrain-trigger.ts).
 */
import type { DurableClient } from 'durable-functions';
import type { RetrainTrigger } from '../shared/monitoring/alerts/retrain';
import { trainingRetrainTrigger } from '../shared/training/retrain-trigger';
import { trainingStarter } from './jobs-train';

export function durableRetrainTrigger(client: DurableClient): RetrainTrigger {
  return trainingRetrainTrigger(() => trainingStarter(client));
}
