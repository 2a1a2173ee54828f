/**
 * The training-set job's activity, a thin wrapper over shared/features/pit on the app's offline
 * and training-set stores (name and types declared beside the orchestrator, training-set.ts):
 *   training-set-build   runTrainingSetJob: createTrainingSet with the job as its jobId -> TrainingSetJobResult
 */
import { platform } from '../shared/platform';
import { runTrainingSetJob } from '../shared/features/pit/training-set-job';
import { registerActivity, type InputOf, type OutputOf } from './activity';
import { TRAINING_SET_BUILD } from './training-set';

export async function trainingSetBuild(
  input: InputOf<typeof TRAINING_SET_BUILD>,
): Promise<OutputOf<typeof TRAINING_SET_BUILD>> {
  return runTrainingSetJob(await platform().trainingSetDeps(), input.request, input.jobId);
}

registerActivity(TRAINING_SET_BUILD, trainingSetBuild);
