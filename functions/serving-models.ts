/**
 * GET /api/serving/models (function key): every model's aliases, traffic, versions, recent
 * changes and this instance's recent stats: the read-only view of serving the dashboard
 * uses (the registry routes under /api/models need the admin key).
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { servingSummary } from '../shared/serving/summary';
import { handled } from './http';

export const servingModels = handled(async function servingModels() {
  return { jsonBody: { models: await servingSummary(platform().serving()) } };
});

app.http('serving-models', {
  methods: ['GET'],
  route: 'serving/models',
  authLevel: 'function',
  handler: servingModels,
});
