/**
 * The one place where the core's errors become HTTP responses, and where request input is
 * parsed and validated (zod, and the name rules of shared/names.ts) before the core sees it.
 * Every HTTP function goes through here. Response bodies carry what the client can act on;
 * internals (temp paths, SQL, service addresses) go to the function log only.
 */
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { StrataError, ValidationError, detailsFromZod, publicText } from '../shared/errors';
import { storageUnavailable } from '../shared/azure/status';
import { checkName, type NameKind } from '../shared/names';

export function errorResponse(thrown: unknown, ctx: InvocationContext): HttpResponseInit {
  // A storage outage is a 503 naming the service, whatever call hit it.
  const err = storageUnavailable(thrown) ?? thrown;
  if (err instanceof StrataError) {
    if (err.status >= 500) ctx.error(err);
    const details = err.details.map((d) => ({ where: d.where, problem: publicText(d.problem) }));
    return {
      status: err.status,
      jsonBody: {
        error: publicText(err.message),
        ...(details.length ? { details } : {}),
        ...(err.status >= 500 ? { invocationId: ctx.invocationId } : {}),
      },
    };
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
    throw new ValidationError(`request body is not valid JSON: ${(e as Error).message}`, [
      { where: 'body', problem: (e as Error).message },
    ]);
  }
  return validate(schema, value, 'body');
}

/**
 * Validate query parameters (as a plain object of strings). `code` is the host's key parameter
 * (`?code=<key>`, as on Azure), never a function's: it is left out, so strict schemas accept it.
 */
export function readQuery<S extends z.ZodType>(req: HttpRequest, schema: S): z.infer<S> {
  return validate(schema, Object.fromEntries([...req.query.entries()].filter(([k]) => k !== 'code')), 'query');
}

/** A route parameter that is a name of `kind` (shared/names.ts): 400 naming the parameter when it breaks the rule. */
export function routeName(req: HttpRequest, param: string, kind: NameKind): string {
  return checkName(kind, req.params[param], param);
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const details = detailsFromZod(r.error.issues, where);
    throw new ValidationError(
      `invalid ${where}: ${details.map((d) => `${d.where}: ${d.problem}`).join('; ')}`,
      details,
    );
  }
  return r.data;
}
