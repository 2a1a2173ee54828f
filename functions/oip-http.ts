/**
 * The HTTP edge of the Open Inference Protocol routes (not a function itself): errors in the
 * protocol's shape, `{"error": "..."}` with the status the core's error carries (mapped in
 * functions/http.ts, one place for every route), the `{version}` route parameter, and the
 * protocol service bound to this process's serving.
 */
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { platform } from '../shared/platform';
import { OpenInference } from '../shared/serving/oip';
import { ValidationError } from '../shared/errors';
import { checkName } from '../shared/names';
import { APP_VERSION } from '../shared/version';
import { errorResponse } from './http';

export function openInference(): OpenInference {
  return new OpenInference(platform().serving(), { name: 'strata', version: APP_VERSION });
}

/** The protocol's error object: one message, the details folded into it. */
function protocolError(res: HttpResponseInit): HttpResponseInit {
  const body = (res.jsonBody ?? {}) as {
    error?: string;
    details?: Array<{ where: string; problem: string }>;
    invocationId?: string;
  };
  const message = body.error ?? 'error';
  // Most messages already name their details; the rest are appended.
  const details = (body.details ?? [])
    .map((d) => `${d.where}: ${d.problem}`)
    .filter((d) => !message.includes(d) && !message.includes(d.slice(d.indexOf(': ') + 2)));
  const error = [message, details.join('; ')].filter(Boolean).join(': ');
  return {
    status: res.status,
    jsonBody: { error: body.invocationId ? `${error} (invocation ${body.invocationId})` : error },
  };
}

/** Like handled() in http.ts, with the protocol's error body. */
export function oipHandled(fn: (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>): HttpHandler {
  return async (req, ctx) => {
    // Triton's binary tensor extension sends a JSON header followed by raw bytes.
    if (req.headers.has('inference-header-content-length')) {
      return protocolError(
        errorResponse(
          new ValidationError('binary tensor data is not supported', [
            {
              where: 'Inference-Header-Content-Length',
              problem: 'send tensors as JSON data (tritonclient: binary_data=False)',
            },
          ]),
          ctx,
        ),
      );
    }
    try {
      return await fn(req, ctx);
    } catch (err) {
      return protocolError(errorResponse(err, ctx));
    }
  };
}

/** `{version}`: a version number (`3`, `v3`) or an alias (`canary`). */
export function versionParam(req: HttpRequest): string | undefined {
  const v = req.params.version;
  if (v === undefined) return undefined;
  if (/^v?\d{1,9}$/i.test(v)) return v;
  return checkName('alias', v, 'version');
}
