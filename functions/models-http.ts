/**
 * Request parsing shared by the model routes (not a function itself): the model name from
 * the route, and a version registration from JSON (ONNX base64) or multipart (the file).
 */
import type { HttpRequest } from '@azure/functions';
import { PayloadTooLargeError, ValidationError } from '../shared/errors';
import type { FeatureRepo } from '../shared/features/definitions/repo';
import {
  RegisterVersionBodySchema,
  RegisterVersionFieldsSchema,
  checkRepoFeatures,
  withFeatureService,
  type ModelSignature,
} from '../shared/serving';
import { routeName, validate } from './http';

export function modelParam(req: HttpRequest): string {
  return routeName(req, 'model', 'model');
}

export interface Registration {
  artifact: Uint8Array;
  signature: ModelSignature;
  description?: string;
  tags?: Record<string, string>;
  alias?: string;
}

/**
 * The ONNX file may be at most `maxBytes` (STRATA_UPLOAD_MAX_BYTES). A body that cannot
 * hold a file within the limit (base64 grows it by 4/3, plus the signature) is refused
 * before it is read.
 */
export async function readRegistration(req: HttpRequest, maxBytes: number, repo: FeatureRepo): Promise<Registration> {
  const declared = Number(req.headers.get('content-length') ?? 0);
  if (declared > Math.ceil((maxBytes * 4) / 3) + 1024 * 1024)
    throw tooLarge(`the request body (${declared} bytes)`, maxBytes);
  const multipart = /^multipart\/form-data/i.test(req.headers.get('content-type') ?? '');
  const r = multipart ? await fromMultipart(req, repo) : await fromJson(req, repo);
  if (r.artifact.byteLength === 0)
    throw new ValidationError('the ONNX file is empty', [
      { where: multipart ? 'model' : 'body.onnxBase64', problem: 'must hold the .onnx file' },
    ]);
  if (r.artifact.byteLength > maxBytes) throw tooLarge(`the ONNX file (${r.artifact.byteLength} bytes)`, maxBytes);
  checkRepoFeatures(repo, r.signature);
  return r;
}

async function fromJson(req: HttpRequest, repo: FeatureRepo): Promise<Registration> {
  const text = await req.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`request body is not valid JSON: ${(e as Error).message}`, [
      {
        where: 'body',
        problem:
          'send JSON {"onnxBase64": ..., "signature": {...}}, or multipart/form-data with the file in field "model"',
      },
    ]);
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && 'signature' in value) {
    value = { ...value, signature: withFeatureService(repo, (value as { signature: unknown }).signature) };
  }
  return validate(RegisterVersionBodySchema, value, 'body');
}

async function fromMultipart(req: HttpRequest, repo: FeatureRepo): Promise<Registration> {
  let form: FormData;
  try {
    form = await req.formData();
  } catch (e) {
    throw new ValidationError(`the multipart body cannot be read: ${(e as Error).message}`, [
      { where: 'body', problem: 'must be multipart/form-data with the file in field "model"' },
    ]);
  }
  const file = form.get('model') ?? form.get('onnx');
  if (file === null || typeof file === 'string') {
    throw new ValidationError('no ONNX file in the form', [
      { where: 'model', problem: 'attach the file as field "model" (curl -F model=@churn.onnx)' },
    ]);
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of form.entries()) if (k !== 'model' && k !== 'onnx') fields[k] = v;
  if (typeof fields.signature === 'string') fields.signature = signatureText(fields.signature, repo);
  const parsed = validate(RegisterVersionFieldsSchema, fields, 'form');
  return { ...parsed, artifact: new Uint8Array(await file.arrayBuffer()) };
}

/** A signature given by feature service name, as JSON text again (the schema parses the text). */
function signatureText(text: string, repo: FeatureRepo): string {
  let sig: unknown;
  try {
    sig = JSON.parse(text);
  } catch {
    return text; // the schema reports it
  }
  return JSON.stringify(withFeatureService(repo, sig));
}

function tooLarge(what: string, maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `${what} is larger than the limit of ${maxBytes} bytes for a model file (setting STRATA_UPLOAD_MAX_BYTES)`,
  );
}
