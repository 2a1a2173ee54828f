/**
 * Monitoring definitions of the app's models (shared/monitoring/model-config.ts): the churn
 * model's labels come from the `churn_labels` source (one record per user when the churn
 * outcome is known, within 30 days of a prediction), and a retraining rule fires when its
 * features drift as a whole two windows in a row. Add your models here.
 */
import { defineMonitoring } from '../monitoring/model-config';
import { featureRepo } from './index';

export const modelMonitoring = defineMonitoring(
  [
    {
      model: 'churn',
      task: 'binary',
      labels: { source: 'churn_labels', entityField: 'user_id', labelField: 'churned', horizon: '30d' },
      rules: [
        {
          id: 'churn-drift-retrain',
          metric: 'dataset_drift',
          comparison: '>=',
          threshold: 1,
          for: 2,
          severity: 'critical',
          action: 'retrain',
          description: 'Most churn features drifted two windows in a row: retrain on recent data.',
        },
      ],
    },
  ],
  featureRepo,
);
