/**
 * The model registry, read (admin):
 *   GET /api/models                     every model's state (aliases, traffic)
 *   GET /api/models/{model}             its state, versions and change history
 *   GET /api/models/{model}/versions    its versions (artifact, signature, load check)
 *   GET /api/models/{model}/history     every alias and traffic change, oldest first
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { handled, readQuery } from './http';
import { modelParam } from './models-http';

const HistoryQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict();

export const modelsList = handled(async function modelsList() {
  return { jsonBody: { models: await platform().serving().listModels() } };
});

app.http('models-list', {
  methods: ['GET'],
  route: 'models',
  authLevel: 'admin',
  handler: modelsList,
});

export const modelsGet = handled(async function modelsGet(req) {
  return { jsonBody: await platform().serving().getModel(modelParam(req)) };
});

app.http('models-get', {
  methods: ['GET'],
  route: 'models/{model}',
  authLevel: 'admin',
  handler: modelsGet,
});

export const modelsVersions = handled(async function modelsVersions(req) {
  const registry = platform().serving().registry;
  const model = modelParam(req);
  await registry.getModel(model); // 404 for an unknown model, not an empty list
  return { jsonBody: { model, versions: await registry.listVersions(model) } };
});

app.http('models-versions', {
  methods: ['GET'],
  route: 'models/{model}/versions',
  authLevel: 'admin',
  handler: modelsVersions,
});

export const modelsHistory = handled(async function modelsHistory(req) {
  const registry = platform().serving().registry;
  const model = modelParam(req);
  const { limit } = readQuery(req, HistoryQuery);
  await registry.getModel(model);
  return { jsonBody: { model, history: await registry.history(model, limit) } };
});

app.http('models-history', {
  methods: ['GET'],
  route: 'models/{model}/history',
  authLevel: 'admin',
  handler: modelsHistory,
});
