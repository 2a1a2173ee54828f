/**
 * The models this app trains, declared beside the features they read: one training config per
 * model (shared/training/config.ts says what each field means). Checked against the feature repo
 * and the trainers when the app loads, so a config naming a missing source, field, service or
 * param fails at start, naming it, instead of at the first Sunday 02:00.
 *
 *   churn   logistic regression on churn_v1, labels from churn_labels.churned over the last
 *           30 days (features as known at the window's end: the sample's history is replayed); weekly (Sundays 02:00 UTC); a better version (AUC +0.005) goes to a 10% canary
 */
import { ValidationError } from '../errors';
import { resolveTrainingConfig, type TrainingConfig, type TrainingConfigInput } from '../training/config';
import { featureRepo } from './index';

export const churnTraining: TrainingConfigInput = {
  model: 'churn',
  description: 'Will the user churn? Trained on churn_v1 at each churn label, as the features were known then.',
  featureService: 'churn_v1',
  labels: { source: 'churn_labels', field: 'churned' },
  window: { last: '30d' },
  // The sample's data is history sent after the fact (`strata produce` replays days in minutes),
  // so each label's features are read as known at the window's end: as known at the label's own
  // time nothing had arrived yet. An app whose features stream in live keeps the default 'row'.
  knownAt: 'asOf',
  trainer: 'logistic',
  params: { l2: 1 },
  gate: { policy: 'canary', metric: 'auc', margin: 0.005, canaryShare: 10 },
  schedule: '0 0 2 * * 0',
  cooldown: '1h',
};

export const trainingConfigSpecs: readonly TrainingConfigInput[] = [churnTraining];

/** Every declared config, resolved; throws at load naming each bad field (`training[i].<field>`). */
function resolveAll(specs: readonly TrainingConfigInput[]): Map<string, TrainingConfig> {
  const out = new Map<string, TrainingConfig>();
  const problems = [];
  for (const [i, spec] of specs.entries()) {
    try {
      const c = resolveTrainingConfig(featureRepo, spec, `training[${i}]`);
      if (out.has(c.model))
        problems.push({ where: `training[${i}].model`, problem: `model ${c.model} is declared twice` });
      out.set(c.model, c);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.details);
    }
  }
  if (problems.length)
    throw new ValidationError(
      `invalid training configs: ${problems.map((d) => `${d.where}: ${d.problem}`).join('; ')}`,
      problems,
    );
  return out;
}

let resolved: Map<string, TrainingConfig> | undefined;
/** The declared configs by model (resolved on first use: trainers from STRATA_TRAINER_MODULES are registered by then). */
export function trainingConfigs(): Map<string, TrainingConfig> {
  return (resolved ??= resolveAll(trainingConfigSpecs));
}

export function trainingConfigSpec(model: string): TrainingConfigInput | undefined {
  return trainingConfigSpecs.find((s) => s.model === model);
}
