/**
 * POST /api/v2/models/{model}[/versions/{version}]/infer (function key): inference in the Open
 * Inference Protocol's JSON ({id, parameters, inputs: [{name, shape, datatype, data}], outputs}).
 * The input is the model's feature tensor (FP32 [N, features]) or `entity_id` (BYTES [N]: features
 * from the online store, as predict). Routing, canary, shadows, metrics and the prediction log
 * are predict's (shared/serving/oip.ts). 400 bad tensors (naming the field), 404 unknown model or
 * version, 422 missing features, errors as {"error"}.
 */
import { app } from '@azure/functions';
import { InferenceRequestSchema } from '../shared/serving/oip-tensors';
import { readJson } from './http';
import { modelParam } from './models-http';
import { oipHandled, openInference, versionParam } from './oip-http';

export const oipInfer = oipHandled(async function oipInfer(req) {
  const model = modelParam(req);
  const version = versionParam(req);
  const body = await readJson(req, InferenceRequestSchema);
  return { jsonBody: await openInference().infer(model, version, body) };
});

for (const [suffix, route] of [
  ['', 'v2/models/{model}/infer'],
  ['-version', 'v2/models/{model}/versions/{version}/infer'],
] as const) {
  app.http(`oip-infer${suffix}`, {
    methods: ['POST'],
    route,
    authLevel: 'function',
    handler: oipInfer,
  });
}
