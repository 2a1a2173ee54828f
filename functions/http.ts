/**
 * The one place where the core's errors become HTTP responses, and where request input is
 * parsed and validated (zod) before the core sees it. Every HTTP function goes through here.
 */
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { StrataError, ValidationError, detailsFromZod } from '../shared/errors';
import { storageUnavailable } from '../shared/storage/clients';

export function errorResponse(thrown: unknown, ctx: InvocationContext): HttpResponseInit {
  // A storage outage is a 503 naming the service, whatever call hit it.
  const err = storageUnavailable(thrown) ?? thrown;
  if (err instanceof StrataError) {
    if (err.status >= 500) ctx.error(err);
    return { status: err.status, jsonBody: { error: err.message, ...(err.details.length ? { details: err.details } : {}) } };
  }
  ctx.error(err);
  return { status: 500, jsonBody: { error: 'internal error; see the function log', invocationId: ctx.invocationId } };
}

/** Wrap a handler so thrown StrataErrors map to their status codes with a clear JSON body. */
export function handled(fn: (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>): HttpHandler {
  return async (req, ctx) => {
    try {
      return await fn(req, ctx);
    } catch (err) {
      return errorResponse(err, ctx);
    }
  };
}

/** Parse the JSON body and validate it; 400 names the field and the rule it broke. */
export async function readJson<S extends z.ZodType>(req: HttpRequest, schema: S): Promise<z.infer<S>> {
  const text = await req.text();
  let value: unknown;
  try {
    value = text.trim() === '' ? undefined : JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`request body is not valid JSON: ${(e as Error).message}`, [{ where: 'body', problem: (e as Error).message }]);
  }
  return validate(schema, value, 'body');
}

/** Validate query parameters (as a plain object of strings). */
export function readQuery<S extends z.ZodType>(req: HttpRequest, schema: S): z.infer<S> {
  return validate(schema, Object.fromEntries(req.query.entries()), 'query');
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const details = detailsFromZod(r.error.issues, where);
    throw new ValidationError(`invalid ${where}: ${details.map((d) => `${d.where}: ${d.problem}`).join('; ')}`, details);
  }
  return r.data;
}
