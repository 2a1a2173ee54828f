/**
 * GET /api/models/{model}/stats?windowSeconds=300 (function key): per version, requests,
 * predictions, errors, share of live traffic and p50/p95/p99 latency over the recent window
 * of THIS instance (fixed-bucket histograms; /api/metrics has the mergeable totals).
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { StatsQuerySchema } from '../shared/serving';
import { handled, readQuery } from './http';
import { modelParam } from './models-http';

export const modelsStats = handled(async function modelsStats(req) {
  const serving = platform().serving();
  const model = modelParam(req);
  const { windowSeconds } = readQuery(req, StatsQuerySchema);
  await serving.registry.getModel(model); // 404 for an unknown model rather than empty stats
  return { jsonBody: serving.stats(model, windowSeconds !== undefined ? windowSeconds * 1000 : undefined) };
});

app.http('models-stats', {
  methods: ['GET'],
  route: 'models/{model}/stats',
  authLevel: 'function',
  handler: modelsStats,
});
