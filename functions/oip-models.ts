/**
 * Open Inference Protocol, per model (function key):
 *   GET /api/v2/models/{model}[/versions/{version}]         metadata: versions, platform, the input
 *                                                            tensor and outputs from the signature
 *   GET /api/v2/models/{model}[/versions/{version}]/ready   200 {"name", "ready": true} once its session loads
 * Without a version: the one unpinned traffic goes to (production). {version} is a number
 * (`3`, `v3`) or an alias (`canary`). 404 unknown model or version, errors as {"error"}.
 */
import { app } from '@azure/functions';
import { modelParam } from './models-http';
import { oipHandled, openInference, versionParam } from './oip-http';

export const oipModelMetadata = oipHandled(async function oipModelMetadata(req) {
  return { jsonBody: await openInference().modelMetadata(modelParam(req), versionParam(req)) };
});

export const oipModelReady = oipHandled(async function oipModelReady(req) {
  return { jsonBody: await openInference().modelReady(modelParam(req), versionParam(req)) };
});

for (const [suffix, route] of [
  ['', 'v2/models/{model}'],
  ['-version', 'v2/models/{model}/versions/{version}'],
] as const) {
  app.http(`oip-model-metadata${suffix}`, {
    methods: ['GET'],
    route,
    authLevel: 'function',
    handler: oipModelMetadata,
  });

  app.http(`oip-model-ready${suffix}`, {
    methods: ['GET'],
    route: `${route}/ready`,
    authLevel: 'function',
    handler: oipModelReady,
  });
}
