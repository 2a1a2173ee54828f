/**
 * startTraining: the one way a train job starts, whoever asks: HTTP (POST /api/jobs/train),
 * the timer of a model's schedule, a monitoring alert's `retrain` action.
 *
 *   startTraining(deps, { model, reason, window?, overrides? })
 *     -> { instanceId, status: 'started' | 'joined' | 'skipped', started, joined, skipped?, window }
 *
 * The instance id comes from the job (train-job.ts), so a second trigger of the same job joins
 * the first. Automatic triggers (any reason but `http`) also plan before they run:
 *  - cooldown: not within the model's `cooldown` of the last automatic start (another job;
 *    the same job still joins);
 *  - nothing changed: the last completed run had the same trainer config, definitions and
 *    label data (the same label segments, see label-spine.ts) — a weekly schedule over a quiet
 *    week does nothing.
 * The Durable client is the caller's (`start`): shared/ knows no durable-functions.
 */
import type { FeatureRepo } from '../features/definitions/repo';
import type { OfflineStore } from '../features/offline/store';
import type { TrainingConfigInput, WindowSpec } from './config';
import { labelWindow } from './label-spine';
import type { RunStore } from './runs';
import { configFingerprint, parseTrainRequest, trainInstanceId, type TrainJobInput } from './train-job';

export interface TrainingTriggerDeps {
  repo: FeatureRepo;
  configs: (model: string) => TrainingConfigInput | undefined;
  runs: RunStore;
  offline: OfflineStore;
  /** Start the `train` orchestration as `instanceId` with `input`, unless it runs: then join. */
  start(instanceId: string, input: TrainJobInput): Promise<'started' | 'joined'>;
  now?: () => number;
}

export interface TrainingStartRequest {
  model: string;
  /** http, schedule, alert:<rule>, ... Anything but `http` is an automatic trigger (cooldown, plan). */
  reason: string;
  window?: WindowSpec;
  /** Fields of the training config to override for this job (POST /api/jobs/train's body). */
  overrides?: Record<string, unknown>;
}

export interface TrainingStart {
  instanceId: string;
  status: 'started' | 'joined' | 'skipped';
  started: boolean;
  joined: boolean;
  /** Why nothing started (status skipped). */
  skipped?: string;
  window: { from: number; to: number };
}

export const HTTP_REASON = 'http';

export async function startTraining(deps: TrainingTriggerDeps, req: TrainingStartRequest): Promise<TrainingStart> {
  const now = (deps.now ?? Date.now)();
  const body = {
    ...(req.overrides ?? {}),
    model: req.model,
    reason: req.reason,
    ...(req.window !== undefined ? { window: req.window } : {}),
  };
  const job = parseTrainRequest(deps.repo, deps.configs, body, now, req.reason);
  const instanceId = trainInstanceId(job);
  const result = (status: TrainingStart['status'], skipped?: string): TrainingStart => ({
    instanceId,
    status,
    started: status === 'started',
    joined: status === 'joined',
    ...(skipped ? { skipped } : {}),
    window: job.window,
  });

  const automatic = req.reason !== HTTP_REASON;
  if (automatic) {
    const trigger = await deps.runs.getTrigger(job.config.model);
    if (trigger && trigger.lastRunId !== instanceId && now - trigger.lastStartAt < job.config.cooldownMs) {
      return result(
        'skipped',
        `cooldown: the last automatic start of ${job.config.model} (${trigger.lastRunId}, ${trigger.reason}) was ${Math.round((now - trigger.lastStartAt) / 1000)} s ago, under the ${Math.round(job.config.cooldownMs / 1000)} s cooldown`,
      );
    }
    const [last] = await deps.runs.list({ model: job.config.model, status: 'COMPLETED', limit: 1 });
    if (last?.plan && last.id !== instanceId) {
      const data = await labelWindow(deps.offline, deps.repo, job.config.labels, job.window);
      if (last.plan.config === configFingerprint(job) && last.plan.data === data.fingerprint) {
        return result(
          'skipped',
          `nothing changed since run ${last.id}: the same trainer config and definitions, and no label arrived or changed in the window`,
        );
      }
    }
  }
  const status = await deps.start(instanceId, job.input);
  if (automatic && status === 'started')
    await deps.runs.setTrigger({
      model: job.config.model,
      lastStartAt: now,
      lastRunId: instanceId,
      reason: req.reason,
    });
  return result(status);
}
