/**
 * Sources the platform itself produces, ingested like any other so monitoring reads them
 * from the offline store:
 *
 *   predictions   every prediction served (live and shadow), from the prediction log on the
 *                 predictions hub (STRATA_PREDICTIONS_HUB, default "predictions"); one record
 *                 per PredictionRecordSchema, event time `ts`, id `predictionId`.
 *
 * `features` and `viewAgeMs` (and `featureAgeMs` of older records) are records of numbers:
 * ingest stores each key as its own DOUBLE column (`features.<view:feature>`,
 * ingest/number-maps.ts), so monitoring scans typed columns, as it does `predictionNumber`.
 * Other nested fields (`outputs`, `defaulted`, `overridden`, and `prediction` when a
 * model answers a vector) have no single column type; ingest stores them as JSON text.
 */
import { source } from '../features/definitions/language';
import { PredictionRecordSchema } from '../serving/prediction-log';
import { config } from '../config';

export const predictions = source({
  name: 'predictions',
  description: 'Every prediction served, live and shadow (the prediction log).',
  schema: PredictionRecordSchema,
  eventTime: 'ts',
  id: 'predictionId',
  stream: { hub: config().predictionsHub },
});

export const platformSources = [predictions];
