/**
 * Request bodies of the serving HTTP routes, for the thin functions to validate at the
 * edge (`schema.safeParse(body)`, then `detailsFromZod` into a ValidationError).
 */
import { z } from 'zod';
import { nameSchema } from '../names';
import { SignatureSchema } from './signature';
import type { PredictResult } from './predictor';

/** Header that pins a request to a version (`3`, `v3`) or an alias (`canary`). */
export const PIN_HEADER = 'x-strata-model-version';
/** The most entities one predict request may name. */
export const MAX_BATCH = 1000;

export const ModelNameSchema = nameSchema('model');

const tags = z.record(z.string().max(100), z.string().max(1000)).optional();
const alias = nameSchema('alias');

/** POST /api/models/{model}/versions with a JSON body: the ONNX file base64-encoded. */
export const RegisterVersionBodySchema = z
  .object({
    onnxBase64: z
      .string()
      .min(1, 'must hold the .onnx file, base64-encoded')
      .regex(/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/, 'must be base64 (e.g. `base64 -w0 model.onnx`)'),
    signature: SignatureSchema,
    description: z.string().max(2000).optional(),
    tags,
    /** Point this alias at the new version once registered (e.g. "canary"). */
    alias: alias.optional(),
  })
  .strict()
  .transform(({ onnxBase64, ...rest }) => ({ ...rest, artifact: new Uint8Array(Buffer.from(onnxBase64, 'base64')) }));
export type RegisterVersionBody = z.output<typeof RegisterVersionBodySchema>;

/**
 * POST /api/models/{model}/versions as multipart/form-data: the file in field `model`
 * (or `onnx`), these text fields beside it. `signature` and `tags` are JSON text.
 */
export const RegisterVersionFieldsSchema = z
  .object({
    signature: z
      .string()
      .transform((s, ctx) => {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be the signature as JSON text' });
          return z.NEVER;
        }
      })
      .pipe(SignatureSchema),
    description: z.string().max(2000).optional(),
    tags: z
      .string()
      .optional()
      .transform((s, ctx) => {
        if (s === undefined || s === '') return undefined;
        try {
          return z.record(z.string(), z.string()).parse(JSON.parse(s));
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object of string values' });
          return z.NEVER;
        }
      }),
    alias: alias.optional(),
  })
  .strict();

/** POST /api/models/{model}/aliases: point an alias at a version, or remove it with null. */
export const SetAliasBodySchema = z
  .object({ alias, version: z.number().int().positive('versions start at 1').nullable() })
  .strict();

const percent = z
  .number({ message: 'must be a percentage' })
  .min(0, 'must be at least 0')
  .max(100, 'must be at most 100');
/** POST /api/models/{model}/traffic: percentages of live traffic (sum 100). */
export const SetTrafficBodySchema = z
  .object({ production: percent, canary: percent })
  .strict()
  .refine((t) => Math.abs(t.production + t.canary - 100) < 1e-6, {
    message: 'production + canary must be 100',
    path: ['canary'],
  });

/** POST /api/models/{model}/promote and /rollback take no options (an empty body or {}). */
export const EmptyBodySchema = z.object({}).strict().optional();

const FEATURE_REF = /^[^:\s]+:[^:\s]+$/;
/** POST /api/predict/{model}: one entity or a batch, optional overrides. */
export const PredictBodySchema = z
  .object({
    entityId: nameSchema('entityId').optional(),
    entityIds: z
      .array(nameSchema('entityId'))
      .min(1, 'must list at least one entity id')
      .max(MAX_BATCH, `at most ${MAX_BATCH} entities per request`)
      .optional(),
    /** Replace online values by `view:feature` for every entity of the request. */
    overrides: z
      .record(
        z.string(),
        z.union([z.number(), z.boolean(), z.null()], { message: 'must be a number, boolean or null' }),
      )
      .superRefine((o, ctx) => {
        for (const k of Object.keys(o)) {
          if (!FEATURE_REF.test(k))
            ctx.addIssue({ code: 'custom', path: [k], message: 'keys are view:feature (e.g. user_profile:age)' });
        }
      })
      .optional(),
    /** Return the input values each prediction used. */
    includeFeatures: z.boolean().optional(),
  })
  .strict()
  .refine((b) => (b.entityId === undefined) !== (b.entityIds === undefined), {
    message: 'give exactly one of entityId or entityIds',
    path: ['entityId'],
  });
export type PredictBody = z.output<typeof PredictBodySchema>;

/** GET /api/models/{model}/stats?windowSeconds=300 */
export const StatsQuerySchema = z
  .object({
    windowSeconds: z.coerce.number().int().min(10, 'at least 10 seconds').max(3600, 'at most 3600 seconds').optional(),
  })
  .strict();

/**
 * The predict response body: a single-entity request gets that entity's prediction at
 * the top level; a batch gets `predictions` in the order asked.
 */
export function predictResponseBody(result: PredictResult, single: boolean): Record<string, unknown> {
  const ms = (v: number) => Math.round(v * 1000) / 1000;
  const timing = {
    hydrateMs: ms(result.timing.hydrateMs),
    inferMs: ms(result.timing.inferMs),
    totalMs: ms(result.timing.totalMs),
  };
  return single
    ? { model: result.model, ...result.predictions[0], timing, requestId: result.requestId }
    : { model: result.model, predictions: result.predictions, timing, requestId: result.requestId };
}
