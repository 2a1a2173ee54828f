/**
 * POST /api/models/{model}/versions (admin): register a model version, JSON
 * `{onnxBase64, signature, description?, tags?, alias?}` or multipart (file in field
 * `model`). The file is loaded in onnxruntime and run once against its signature before it
 * is stored; a refusal (400) says why. 201 with the new version, 200 when the same file and
 * signature were registered before (a retried publish creates nothing).
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { handled } from './http';
import { modelParam, readRegistration } from './models-http';

export const modelsRegister = handled(async function modelsRegister(req) {
  const p = platform();
  const model = modelParam(req);
  const input = await readRegistration(req, p.config.uploadMaxBytes, p.repo);
  const r = await p.serving().register(model, input);
  return { status: r.created ? 201 : 200, jsonBody: r };
});

app.http('models-register', {
  methods: ['POST'],
  route: 'models/{model}/versions',
  authLevel: 'admin',
  handler: modelsRegister,
});
