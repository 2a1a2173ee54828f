/**
 * Where generated churn labels go: the repo's label source (by default `churn_labels`), if it
 * defines one with a stream hub. The generator's labels are (entity, time, 0/1); the record
 * takes the source's own field names: the entity's join key, its event-time field and its one
 * other required boolean or number field (the label). Checked against the source's schema
 * before anything is sent, so a label source of another shape is refused with the reason.
 */
import type { FeatureRepo } from '../../shared/features/definitions/repo';

export const DEFAULT_LABEL_SOURCE = 'churn_labels';

export interface LabelTarget {
  source: string;
  hub: string;
  entityField: string;
  toRecord(label: { entityId: string; ts: number; label: 0 | 1 }): Record<string, unknown>;
}

/** The label target, undefined when the repo has no such source; throws when it has one that generated labels cannot fill. */
export function labelTarget(repo: FeatureRepo, name: string, entityJoinKey = 'user_id'): LabelTarget | undefined {
  const src = repo.sources.get(name);
  if (!src) return undefined;
  const problem = (p: string) => new Error(`label source ${name}: ${p}`);
  if (!src.stream)
    throw problem(
      'has no stream hub to send labels to (add `stream: { hub }` to its definition, or upload labels as a file)',
    );
  if (!(entityJoinKey in src.fields))
    throw problem(
      `has no field ${entityJoinKey} (the user entity's join key); fields: ${Object.keys(src.fields).join(', ')}`,
    );
  const labelFields = Object.entries(src.fields).filter(
    ([k, f]) => k !== entityJoinKey && k !== src.eventTime && !f.optional && f.type !== 'string',
  );
  if (labelFields.length !== 1)
    throw problem(
      `needs exactly one required boolean or number field besides ${entityJoinKey} and ${src.eventTime} for the label; it has ${labelFields.map(([k]) => k).join(', ') || 'none'}`,
    );
  const [labelField, info] = labelFields[0]!;
  const timeAsText = src.schema.shape[src.eventTime]!.safeParse('2026-01-01T00:00:00.000Z').success;
  const target: LabelTarget = {
    source: name,
    hub: src.stream.hub,
    entityField: entityJoinKey,
    toRecord: (l) => ({
      [entityJoinKey]: l.entityId,
      [src.eventTime]: timeAsText ? new Date(l.ts).toISOString() : l.ts,
      [labelField]: info.type === 'bool' ? l.label === 1 : l.label,
    }),
  };
  const sample = target.toRecord({ entityId: 'u000001', ts: Date.UTC(2026, 0, 1), label: 1 });
  const check = src.schema.safeParse(sample);
  if (!check.success)
    throw problem(
      `refuses a generated label ${JSON.stringify(sample)}: ${check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return target;
}
