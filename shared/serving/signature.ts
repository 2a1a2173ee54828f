/**
 * A model version's signature: which features it reads (a resolved feature service),
 * the tensor it takes and the tensors it gives, and what to do when a feature is
 * missing or stale. Validated once when a version is registered; compiled into a
 * `ServingPlan` (flat arrays) for the predict hot path.
 */
import { z } from 'zod';
import { OutputContractSchema } from '../monitoring/output-contract';

const name = (what: string) =>
  z.string().trim().min(1, `${what} must not be empty`).max(200, `${what} must be at most 200 characters`);

export const FeatureRefSchema = z.object({ view: name('view'), feature: name('feature') }).strict();
export type FeatureRef = z.infer<typeof FeatureRefSchema>;

/** `view:feature`, the way features are named in policies, overrides, errors and logs. */
export const refKey = (r: FeatureRef): string => `${r.view}:${r.feature}`;

/** A feature service resolved to its ordered features: column i of the input tensor is features[i]. */
export const FeatureServiceSchema = z
  .object({
    name: name('feature service name'),
    features: z.array(FeatureRefSchema).min(1, 'must list at least one feature'),
  })
  .strict()
  .superRefine((fs, ctx) => {
    const seen = new Map<string, number>();
    fs.features.forEach((f, i) => {
      const k = refKey(f);
      const first = seen.get(k);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['features', i],
          message: `${k} is listed twice (also at features[${first}]); each input column must be a different feature`,
        });
      else seen.set(k, i);
    });
  });
export type FeatureService = z.infer<typeof FeatureServiceSchema>;

export const OnMissingSchema = z.union(
  [
    z.literal('required'),
    /** Pass the value as missing (NaN) to the model, which handles missing values itself:
     * Strata's trainers learn how (a default direction per tree split, the mean for logistic
     * regression) and export it in the graph. Registration checks the model answers on NaN. */
    z.literal('model'),
    z
      .object({ default: z.number({ message: 'default must be a number' }).finite('default must be a finite number') })
      .strict(),
  ],
  { message: 'must be "required", "model" or { "default": <number> }' },
);
export type OnMissing = z.infer<typeof OnMissingSchema>;

export const FeaturePolicySchema = z
  .object({
    /** What to do when the online store has no value: fill a default, or refuse the request (422). */
    onMissing: OnMissingSchema,
    /** A value whose event time is older than this is treated as missing. Absent = never stale. */
    maxStalenessMs: z
      .number()
      .int('maxStalenessMs must be a whole number of milliseconds')
      .positive('maxStalenessMs must be positive')
      .optional(),
  })
  .strict();
export type FeaturePolicy = z.infer<typeof FeaturePolicySchema>;

export const OutputSpecSchema = z
  .object({
    /** The model's output tensor name. */
    name: name('output name'),
    /** What the number means, for people and monitoring: "probability of class 1", "expected spend in EUR". */
    meaning: name('meaning'),
    /** Take one column of a [N, k] output (e.g. column 1 of [p0, p1]); absent = the whole row. */
    column: z.number().int().min(0).optional(),
    /** What the output promises (shape, range, classes, sum): monitoring counts predictions that break it. */
    contract: OutputContractSchema.optional(),
  })
  .strict();
export type OutputSpec = z.infer<typeof OutputSpecSchema>;

/** How an output is named in responses and logs: `name`, or `name[column]` for one column. */
export const outputKey = (o: OutputSpec): string => (o.column === undefined ? o.name : `${o.name}[${o.column}]`);

export const SignatureSchema = z
  .object({
    featureService: FeatureServiceSchema,
    input: z
      .object({
        name: name('input name'),
        /** [batch, features]; batch is -1 (any). Defaults to [-1, number of features]. */
        shape: z
          .tuple([z.literal(-1, { message: 'the batch dimension must be -1 (any size)' }), z.number().int().positive()])
          .optional(),
      })
      .strict(),
    /** The first output is the prediction; the others are returned beside it. */
    outputs: z.array(OutputSpecSchema).min(1, 'must name at least one output'),
    policy: z
      .object({
        default: FeaturePolicySchema.default({ onMissing: 'required' }),
        /** Per-feature policies, keyed `view:feature`; override `default`. */
        features: z.record(z.string(), FeaturePolicySchema).default({}),
      })
      .strict()
      .default({ default: { onMissing: 'required' }, features: {} }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const width = s.featureService.features.length;
    if (s.input.shape && s.input.shape[1] !== width) {
      ctx.addIssue({
        code: 'custom',
        path: ['input', 'shape', 1],
        message: `says ${s.input.shape[1]} columns but feature service ${s.featureService.name} lists ${width} features`,
      });
    }
    const known = new Set(s.featureService.features.map(refKey));
    for (const k of Object.keys(s.policy.features)) {
      if (!known.has(k))
        ctx.addIssue({
          code: 'custom',
          path: ['policy', 'features', k],
          message: `${k} is not a feature of ${s.featureService.name} (its features: ${[...known].join(', ')})`,
        });
    }
    const outs = new Set<string>();
    s.outputs.forEach((o, i) => {
      const k = `${o.name}#${o.column ?? ''}`;
      if (outs.has(k)) ctx.addIssue({ code: 'custom', path: ['outputs', i], message: `${o.name} is listed twice` });
      outs.add(k);
    });
  });
export type ModelSignature = z.output<typeof SignatureSchema>;
export type ModelSignatureInput = z.input<typeof SignatureSchema>;

/** The policy that applies to one feature. */
export function policyFor(sig: ModelSignature, ref: FeatureRef): FeaturePolicy {
  return sig.policy.features[refKey(ref)] ?? sig.policy.default;
}

/** A signature flattened for the hot path: column i reads views[viewOf[i]].feature[i]. */
export interface ServingPlan {
  inputName: string;
  width: number;
  /** Distinct views, in first-use order: one online-store key per (entity, view). */
  views: string[];
  columns: Array<{
    ref: string;
    view: number;
    feature: string;
    /** Default value (NaN: the model takes it as missing), or undefined when the feature is required. */
    fill: number | undefined;
    maxStalenessMs: number | undefined;
  }>;
  outputs: OutputSpec[];
  /** Distinct output tensor names to fetch. */
  fetches: string[];
}

/** The value a missing feature is served as: none (refuse), NaN (the model's own handling) or the default. */
export function fillFor(onMissing: OnMissing): number | undefined {
  if (onMissing === 'required') return undefined;
  return onMissing === 'model' ? NaN : onMissing.default;
}

export function compilePlan(sig: ModelSignature): ServingPlan {
  const views: string[] = [];
  const columns = sig.featureService.features.map((f) => {
    let v = views.indexOf(f.view);
    if (v < 0) v = views.push(f.view) - 1;
    const p = policyFor(sig, f);
    return {
      ref: refKey(f),
      view: v,
      feature: f.feature,
      fill: fillFor(p.onMissing),
      maxStalenessMs: p.maxStalenessMs,
    };
  });
  const fetches = [...new Set(sig.outputs.map((o) => o.name))];
  return { inputName: sig.input.name, width: columns.length, views, columns, outputs: sig.outputs, fetches };
}
