/**
 * Where monitoring finds a version's training baseline (shared/training/baseline.ts): a
 * two-method contract, so the training job that writes it and the monitor that reads it
 * agree on nothing but this. A version's baseline is written once and never changes: the same
 * one again is a no-op, a different one a 409 (baselineConflict). Kept by
 * shared/azure/baseline-blobs.ts (`baselines/<model>/<version>.json`) and shared/memory/baselines.ts.
 */
import { z } from 'zod';
import { ConflictError } from '../../errors';
import { BASELINE_SCHEMA, type Baseline } from '../../training/baseline';

export interface BaselineStore {
  get(model: string, version: number): Promise<Baseline | undefined>;
  /** Store a version's baseline; the same one again is a no-op, a different one a ConflictError. */
  put(model: string, version: number, baseline: Baseline): Promise<void>;
}

const finite = z.number().finite();
const ColumnSchema = z
  .object({
    name: z.string().min(1),
    count: z.number().int().nonnegative(),
    nullCount: z.number().int().nonnegative(),
    nullRate: z.number().min(0).max(1),
    min: finite.nullable(),
    max: finite.nullable(),
    mean: finite.nullable(),
    std: finite.nonnegative().nullable(),
    edges: z.array(finite),
    counts: z.array(z.number().int().nonnegative()),
    categories: z
      .array(z.object({ value: z.union([finite, z.string()]), count: z.number().int().nonnegative() }).strict())
      .nullable(),
    categorical: z.boolean(),
    sample: z.array(finite),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.counts.length !== c.edges.length + 1)
      ctx.addIssue({
        code: 'custom',
        path: ['counts'],
        message: `has ${c.counts.length} counts for ${c.edges.length} edges; there must be edges.length + 1`,
      });
    for (let i = 1; i < c.edges.length; i++)
      if (!(c.edges[i]! > c.edges[i - 1]!))
        ctx.addIssue({ code: 'custom', path: ['edges', i], message: 'edges must be strictly increasing' });
    if (c.categorical && !c.categories)
      ctx.addIssue({ code: 'custom', path: ['categories'], message: 'a categorical column lists its categories' });
  });

/** A baseline as it arrives from outside (an upload): checked field by field (400 names the field). */
export const BaselineSchema = z
  .object({
    schema: z.literal(BASELINE_SCHEMA),
    rows: z.number().int().nonnegative(),
    binRule: z.string(),
    features: z.array(ColumnSchema).min(1, 'must describe at least one feature'),
    prediction: ColumnSchema,
    label: ColumnSchema,
    sample: z
      .object({ seed: z.number().int(), columns: z.array(z.string()), rows: z.array(z.array(finite.nullable())) })
      .strict(),
    calibration: z
      .object({ scores: z.array(finite).min(2), probabilities: z.array(z.number().min(0).max(1)).min(2) })
      .strict()
      .superRefine((m, ctx) => {
        if (m.scores.length !== m.probabilities.length)
          ctx.addIssue({
            code: 'custom',
            path: ['probabilities'],
            message: `has ${m.probabilities.length} values for ${m.scores.length} scores`,
          });
        for (let i = 1; i < m.scores.length; i++) {
          if (!(m.scores[i]! > m.scores[i - 1]!))
            ctx.addIssue({ code: 'custom', path: ['scores', i], message: 'scores must be strictly increasing' });
          if (m.probabilities[i]! < m.probabilities[i - 1]!)
            ctx.addIssue({
              code: 'custom',
              path: ['probabilities', i],
              message: 'probabilities must not decrease (the map is monotone)',
            });
        }
      })
      .optional(),
  })
  .strict();

/** Storing a different baseline for a version that has one: what every BaselineStore throws. */
export function baselineConflict(model: string, version: number): ConflictError {
  return new ConflictError(
    `model ${model} version ${version} already has a different baseline; a version's baseline never changes (register a new version)`,
  );
}
