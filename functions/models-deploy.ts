/**
 * Moving traffic between versions (admin). Each answers the model's new state; the
 * version traffic moves to is loaded before the change commits.
 *   POST /api/models/{model}/aliases   {alias, version | null}   point (or remove) an alias: production, canary, shadow, any name
 *   POST /api/models/{model}/traffic   {production, canary}      percentages of live traffic (sum 100)
 *   POST /api/models/{model}/promote                             canary -> production, traffic back to 100% production
 *   POST /api/models/{model}/rollback                            production -> the version before it
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { EmptyBodySchema, SetAliasBodySchema, SetTrafficBodySchema } from '../shared/serving';
import { handled, readJson } from './http';
import { modelParam } from './models-http';

export const modelsAlias = handled(async function modelsAlias(req) {
  const model = modelParam(req);
  const body = await readJson(req, SetAliasBodySchema);
  return { jsonBody: { model: await platform().serving().setAlias(model, body.alias, body.version) } };
});

app.http('models-alias', {
  methods: ['POST'],
  route: 'models/{model}/aliases',
  authLevel: 'admin',
  handler: modelsAlias,
});

export const modelsTraffic = handled(async function modelsTraffic(req) {
  const model = modelParam(req);
  const body = await readJson(req, SetTrafficBodySchema);
  return { jsonBody: { model: await platform().serving().setTraffic(model, body) } };
});

app.http('models-traffic', {
  methods: ['POST'],
  route: 'models/{model}/traffic',
  authLevel: 'admin',
  handler: modelsTraffic,
});

export const modelsPromote = handled(async function modelsPromote(req) {
  const model = modelParam(req);
  await readJson(req, EmptyBodySchema);
  return { jsonBody: { model: await platform().serving().promote(model) } };
});

app.http('models-promote', {
  methods: ['POST'],
  route: 'models/{model}/promote',
  authLevel: 'admin',
  handler: modelsPromote,
});

export const modelsRollback = handled(async function modelsRollback(req) {
  const model = modelParam(req);
  await readJson(req, EmptyBodySchema);
  return { jsonBody: { model: await platform().serving().rollback(model) } };
});

app.http('models-rollback', {
  methods: ['POST'],
  route: 'models/{model}/rollback',
  authLevel: 'admin',
  handler: modelsRollback,
});
