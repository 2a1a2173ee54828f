/** A model's monitoring definition checked against the feature repo: a misspelt labels source or field fails at load, naming it. */
import { describe, expect, it } from 'vitest';
import { defineMonitoring, type ModelMonitoringInput } from '../../shared/monitoring/model-config';
import { featureRepo } from '../../shared/definitions';

const churn = (labels: Partial<NonNullable<ModelMonitoringInput['labels']>>): ModelMonitoringInput => ({
  model: 'churn',
  labels: { source: 'churn_labels', entityField: 'user_id', labelField: 'churned', horizon: '30d', ...labels },
});

describe('defineMonitoring with the repo', () => {
  it("accepts labels from a source's fields, and refuses an unknown source or field, naming it", () => {
    expect(defineMonitoring([churn({})], featureRepo).get('churn')!.labels).toMatchObject({ source: 'churn_labels' });
    expect(() => defineMonitoring([churn({ source: 'churn_lables' })], featureRepo)).toThrow(
      /^model churn: labels\.source: no source "churn_lables"; known: .*churn_labels/,
    );
    expect(() => defineMonitoring([churn({ entityField: 'user' })], featureRepo)).toThrow(
      /^model churn: labels\.entityField: source churn_labels has no field "user"; it has .*user_id/,
    );
    expect(() => defineMonitoring([churn({ labelField: 'churn' })], featureRepo)).toThrow(
      /^model churn: labels\.labelField: source churn_labels has no field "churn"/,
    );
    expect(() => defineMonitoring([churn({ labelField: 'user_id' })], featureRepo)).toThrow(
      /labels\.labelField: churn_labels\.user_id is string; a label is a boolean or a number/,
    );
    // Without the repo (a definition checked on its own), only its shape is checked.
    expect(defineMonitoring([churn({ source: 'elsewhere' })]).get('churn')!.labels!.source).toBe('elsewhere');
  });
});
