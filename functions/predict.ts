/**
 * POST /api/predict/{model} (function key): `{entityId}` or `{entityIds: [...]}`, optional
 * `overrides` ({"view:feature": value}) and `includeFeatures`; header x-strata-model-version
 * pins a version (`3`, `v3`) or alias (`canary`). Features come from the online store in one
 * round trip; the answer carries the prediction, the version that made it and the timing.
 * 422 names missing required features; 404 an unknown model or one without production.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { PIN_HEADER, PredictBodySchema, predictResponseBody } from '../shared/serving';
import { handled, readJson } from './http';
import { modelParam } from './models-http';

export const predictHandler = handled(async function predictHandler(req) {
  const model = modelParam(req);
  const body = await readJson(req, PredictBodySchema);
  const pin = req.headers.get(PIN_HEADER) ?? undefined;
  const single = body.entityId !== undefined;
  const result = await platform()
    .serving()
    .predict(model, single ? { entityId: body.entityId! } : { entityIds: body.entityIds! }, {
      ...(body.overrides ? { overrides: body.overrides } : {}),
      ...(body.includeFeatures ? { includeFeatures: true } : {}),
      ...(pin ? { pin } : {}),
    });
  return { jsonBody: predictResponseBody(result, single) };
});

app.http('predict', {
  methods: ['POST'],
  route: 'predict/{model}',
  authLevel: 'function',
  handler: predictHandler,
});

// Shadows still running and prediction records not yet sent: finish them before the process goes.
app.hook.appTerminate(() => platform().closeServing());
