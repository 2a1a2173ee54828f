/**
 * GET /api/models/{model}/timeseries?from=&to=&step= (function key): per version and time
 * bucket, requests, requests/s, predictions and latency p50/p95/p99, from the prediction log
 * in the offline store (so it spans instances and restarts). Defaults: the last hour in 60
 * buckets; at most 1440 buckets.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { ValidationError } from '../shared/errors';
import { TimeseriesQuerySchema, predictionTimeseries, timeseriesRange } from '../shared/serving/timeseries';
import { handled, readQuery } from './http';
import { modelParam } from './models-http';

export const modelsTimeseries = handled(async function modelsTimeseries(req) {
  const p = platform();
  const model = modelParam(req);
  const range = timeseriesRange(readQuery(req, TimeseriesQuerySchema));
  if ('problem' in range)
    throw new ValidationError(`invalid query: ${range.problem.where} ${range.problem.problem}`, [range.problem]);
  await p.serving().registry.getModel(model); // 404 for an unknown model rather than an empty series
  return {
    jsonBody: await predictionTimeseries(await p.offline(), p.repo.source('predictions').version, model, range),
  };
});

app.http('models-timeseries', {
  methods: ['GET'],
  route: 'models/{model}/timeseries',
  authLevel: 'function',
  handler: modelsTimeseries,
});
