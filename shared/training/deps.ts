/**
 * The training services of this process, built once on the app's platform: the run store, the
 * model registry, the fit runner (STRATA_TRAINING_MAX_CONCURRENT fits at once; heavy-tagged:
 * one), and users' trainer modules (STRATA_TRAINER_MODULES) registered in this thread too, so a
 * request naming one is checked at the edge like a built-in; the training-job metrics over that
 * run store. What train activities, the jobs, runs and metrics routes, the timers and
 * startTraining's callers ask for.
 */
import { platform, once } from '../platform';
import { trainingConfigSpec } from '../definitions/training';
import { TrainingRunner } from './runner';
import { TrainingJobMetrics } from './job-metrics';
import { loadTrainerModule } from './trainers';
import type { RunStore } from './runs';
import type { TrainDeps } from './train-steps';
import type { TrainingTriggerDeps } from './start';
import type { TrainJobInput } from './train-job';

let modulesLoaded = false;
/** Register the configured trainer modules in this thread (once; a module that fails to load fails every call, naming it). */
export function loadConfiguredTrainers(): void {
  if (modulesLoaded) return;
  for (const m of platform().config.trainerModules) loadTrainerModule(m);
  modulesLoaded = true;
}

export function runStore(): RunStore {
  return platform().runs;
}

let jobMetrics: TrainingJobMetrics | undefined;
/** Training-job metrics for /api/metrics, read from this process's run store. */
export function trainingJobMetrics(): TrainingJobMetrics {
  return (jobMetrics ??= new TrainingJobMetrics({ runs: runStore() }));
}

let runner: TrainingRunner | undefined;
export function trainingRunner(): TrainingRunner {
  return (runner ??= new TrainingRunner({ maxConcurrent: platform().config.trainingMaxConcurrent }));
}

export const trainDeps = once(async (): Promise<TrainDeps> => {
  loadConfiguredTrainers();
  const p = platform();
  return {
    repo: p.repo,
    offline: await p.offline(),
    trainingSets: p.trainingSets,
    artifacts: p.runArtifacts,
    spines: p.spines,
    registry: p.serving().registry,
    deployer: p.serving(),
    runs: runStore(),
    runner: trainingRunner(),
    trainerModules: p.config.trainerModules,
    baselines: await p.baselines(),
  };
});

/** startTraining's deps with the caller's way to start the orchestration (functions/ wrap their Durable client). */
export async function triggerDeps(
  start: (instanceId: string, input: TrainJobInput) => Promise<'started' | 'joined'>,
): Promise<TrainingTriggerDeps> {
  loadConfiguredTrainers();
  const p = platform();
  return { repo: p.repo, configs: trainingConfigSpec, runs: runStore(), offline: await p.offline(), start };
}
