/**
 * A model's monitoring definition: where its labels come from (the label source, which field
 * holds the entity and which the label, and how long after a prediction its label may
 * arrive), its drift policy, and its alert rules. Definitions live beside the feature repo
 * (shared/definitions/monitoring.ts) and are checked when the app loads, with this schema.
 * A model without one is still monitored (drift, quality, contracts, estimated performance,
 * the default rules): only realized performance needs labels.
 */
import { z } from 'zod';
import { durationSchema } from './duration-schema';
import { DriftPolicySchema } from './drift';
import { AlertRuleSchema } from './alerts/rules';
import type { FeatureRepo } from '../features/definitions/repo';

const duration = durationSchema();

export const ModelMonitoringSchema = z
  .object({
    model: z.string().min(1),
    labels: z
      .object({
        /** A source of the feature repo whose records are labels (e.g. `churn_labels`); its event time is the label's time. */
        source: z.string().min(1),
        /** The field holding the entity id predictions were made for. */
        entityField: z.string().min(1),
        /** The field holding the label (0/1 for a binary classifier, a number for regression). */
        labelField: z.string().min(1),
        /** A label counts for a prediction when it arrives within this long after it ("7d"). */
        horizon: duration,
      })
      .strict()
      .optional(),
    task: z.enum(['binary', 'regression']).optional(),
    drift: DriftPolicySchema.optional(),
    rules: z.array(AlertRuleSchema).default([]),
  })
  .strict();
export type ModelMonitoring = z.output<typeof ModelMonitoringSchema>;
export type ModelMonitoringInput = z.input<typeof ModelMonitoringSchema>;

/**
 * Check definitions once (throws a ZodError naming the model and the field). With the feature
 * repo, the labels' source and fields are checked against it too: a misspelt one would leave
 * realized performance and label drift silently empty.
 */
export function defineMonitoring(
  defs: readonly ModelMonitoringInput[],
  repo?: Pick<FeatureRepo, 'sources'>,
): Map<string, ModelMonitoring> {
  const out = new Map<string, ModelMonitoring>();
  for (const d of defs) {
    const m = ModelMonitoringSchema.parse(d);
    if (out.has(m.model)) throw new RangeError(`model ${m.model} has two monitoring definitions`);
    for (const r of m.rules)
      if (r.model !== undefined && r.model !== m.model)
        throw new RangeError(`model ${m.model}: rule ${r.id} names model ${r.model}`);
    if (m.labels && repo) checkLabels(m.model, m.labels, repo);
    out.set(m.model, { ...m, rules: m.rules.map((r) => ({ ...r, model: m.model })) });
  }
  return out;
}

function checkLabels(
  model: string,
  labels: NonNullable<ModelMonitoring['labels']>,
  repo: Pick<FeatureRepo, 'sources'>,
) {
  const src = repo.sources.get(labels.source);
  if (!src)
    throw new RangeError(
      `model ${model}: labels.source: no source "${labels.source}"; known: ${[...repo.sources.keys()].join(', ')}`,
    );
  const fields = Object.keys(src.fields).join(', ');
  if (!(labels.entityField in src.fields))
    throw new RangeError(
      `model ${model}: labels.entityField: source ${src.name} has no field "${labels.entityField}"; it has ${fields}`,
    );
  const label = src.fields[labels.labelField];
  if (!label)
    throw new RangeError(
      `model ${model}: labels.labelField: source ${src.name} has no field "${labels.labelField}"; it has ${fields}`,
    );
  if (label.type !== 'bool' && label.type !== 'int' && label.type !== 'float')
    throw new RangeError(
      `model ${model}: labels.labelField: ${src.name}.${labels.labelField} is ${label.type}; a label is a boolean or a number`,
    );
}
