/**
 * The training-set request as it arrives over HTTP (or from an orchestration's input),
 * validated once here. Times may be epoch ms or ISO-8601 strings; they leave as epoch ms.
 * Feature services are resolved to views by the caller (definitions), before this.
 */
import { z } from 'zod';
import { ValidationError, detailsFromZod } from '../../errors';
import type { TrainingSetRequest } from './training-set';

const time = z.union([
  z.number().int('must be whole epoch milliseconds').nonnegative('must not be negative'),
  z.string().trim().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 time (e.g. 2024-03-01T12:00:00Z) or epoch milliseconds').transform((s) => Date.parse(s)),
]);

const name = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'use 1-128 characters from A-Z a-z 0-9 _ . -');

export const spineRowSchema = z.object({
  entity_id: z.union([z.string().min(1, 'must not be empty'), z.number().transform(String)]),
  ts: time,
  label: z.union([z.number(), z.string(), z.boolean(), z.null()]).optional(),
});

export const trainingSetRequestSchema = z
  .object({
    spine: z
      .object({
        rows: z.array(spineRowSchema).max(1_000_000, 'inline spines take at most 1,000,000 rows; upload larger ones and pass blobPath').optional(),
        blobPath: z.string().regex(/^[a-z0-9][a-z0-9-]{2,62}\/.+\.(parquet|csv|csv\.gz)$/i, 'must be <container>/<path> of a .parquet, .csv or .csv.gz blob').optional(),
      })
      .refine((s) => (s.rows === undefined) !== (s.blobPath === undefined), 'give either rows (inline) or blobPath, not both'),
    views: z
      .array(
        z.object({
          view: name,
          version: name.optional(),
          features: z.array(z.string().min(1)).min(1, 'name at least one feature'),
          ttlMs: z.number().positive('must be a positive number of milliseconds').optional(),
        }),
      )
      .min(1, 'name at least one feature view'),
    asOf: time.optional(),
    knownAt: z.enum(['row', 'asOf', 'both']).optional(),
    fullFeatureNames: z.boolean().optional(),
    id: name.optional(),
  });

/** Parse an untrusted request body into a TrainingSetRequest, or throw a ValidationError naming each problem. */
export function parseTrainingSetRequest(body: unknown): TrainingSetRequest {
  const r = trainingSetRequestSchema.safeParse(body);
  // Checked beside the schema so every problem is reported at once.
  const raw = (body ?? {}) as { knownAt?: unknown; asOf?: unknown };
  const details = [
    ...(r.success ? [] : detailsFromZod(r.error.issues)),
    ...((raw.knownAt === 'asOf' || raw.knownAt === 'both') && raw.asOf === undefined ? [{ where: 'asOf', problem: `knownAt '${raw.knownAt}' needs asOf` }] : []),
  ];
  if (!r.success || details.length) throw new ValidationError('invalid training set request', details);
  const d = r.data;
  return {
    spine: d.spine.rows
      ? { rows: d.spine.rows.map((x) => ({ entityId: x.entity_id, ts: x.ts, ...(x.label !== undefined ? { label: x.label } : {}) })) }
      : { blobPath: d.spine.blobPath! },
    views: d.views.map((v) => ({ view: v.view, features: v.features, ...(v.version !== undefined ? { version: v.version } : {}), ...(v.ttlMs !== undefined ? { ttlMs: v.ttlMs } : {}) })),
    ...(d.asOf !== undefined ? { asOf: d.asOf } : {}),
    ...(d.knownAt !== undefined ? { knownAt: d.knownAt } : {}),
    ...(d.fullFeatureNames !== undefined ? { fullFeatureNames: d.fullFeatureNames } : {}),
    ...(d.id !== undefined ? { id: d.id } : {}),
  };
}
