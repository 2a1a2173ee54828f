/**
 * The training-set request as it arrives over HTTP (or from an orchestration's input),
 * validated once here. Times may be epoch ms or ISO-8601 strings; they leave as epoch ms.
 * Feature services are resolved to views by the caller (definitions), before this.
 */
import { z } from 'zod';
import { ValidationError, detailsFromZod } from '../../errors';
import type { TrainingSetRequest } from './training-set';
import { nameSchema } from '../../names';
import { clientTimeSchema } from '../../times';
import { spineBlobProblem } from './spine';

const time = clientTimeSchema;

export const spineRowSchema = z.object({
  entity_id: z.union([nameSchema('entityId'), z.number().finite().transform(String)]),
  ts: time,
  label: z.union([z.number(), z.string(), z.boolean(), z.null()]).optional(),
});

export const trainingSetRequestSchema = z.object({
  spine: z
    .object({
      rows: z
        .array(spineRowSchema)
        .max(1_000_000, 'inline spines take at most 1,000,000 rows; upload larger ones and pass blobPath')
        .optional(),
      blobPath: z
        .string()
        .superRefine((p, ctx) => {
          const problem = spineBlobProblem(p);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
    })
    .refine(
      (s) => (s.rows === undefined) !== (s.blobPath === undefined),
      'give either rows (inline) or blobPath, not both',
    ),
  views: z
    .array(
      z.object({
        view: nameSchema('storedView'),
        version: nameSchema('version').optional(),
        features: z.array(z.string().min(1)).min(1, 'name at least one feature'),
        ttlMs: z.number().positive('must be a positive number of milliseconds').optional(),
      }),
    )
    .min(1, 'name at least one feature view'),
  asOf: time.optional(),
  knownAt: z.enum(['row', 'asOf', 'both']).optional(),
  fullFeatureNames: z.boolean().optional(),
  id: nameSchema('trainingSet').optional(),
});

/** Parse an untrusted request body into a TrainingSetRequest, or throw a ValidationError naming each problem. */
export function parseTrainingSetRequest(body: unknown): TrainingSetRequest {
  const r = trainingSetRequestSchema.safeParse(body);
  // Checked beside the schema so every problem is reported at once.
  const raw = (body ?? {}) as { knownAt?: unknown; asOf?: unknown };
  const details = [
    ...(r.success ? [] : detailsFromZod(r.error.issues)),
    ...((raw.knownAt === 'asOf' || raw.knownAt === 'both') && raw.asOf === undefined
      ? [{ where: 'asOf', problem: `knownAt '${raw.knownAt}' needs asOf` }]
      : []),
  ];
  if (!r.success || details.length) throw new ValidationError('invalid training set request', details);
  const d = r.data;
  return {
    spine: d.spine.rows
      ? {
          rows: d.spine.rows.map((x) => ({
            entityId: x.entity_id,
            ts: x.ts,
            ...(x.label !== undefined ? { label: x.label } : {}),
          })),
        }
      : { blobPath: d.spine.blobPath! },
    views: d.views.map((v) => ({
      view: v.view,
      features: v.features,
      ...(v.version !== undefined ? { version: v.version } : {}),
      ...(v.ttlMs !== undefined ? { ttlMs: v.ttlMs } : {}),
    })),
    ...(d.asOf !== undefined ? { asOf: d.asOf } : {}),
    ...(d.knownAt !== undefined ? { knownAt: d.knownAt } : {}),
    ...(d.fullFeatureNames !== undefined ? { fullFeatureNames: d.fullFeatureNames } : {}),
    ...(d.id !== undefined ? { id: d.id } : {}),
  };
}
