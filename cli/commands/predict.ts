/** `strata predict <model> <entity...>`: predictions by entity id (POST /api/predict/{model}). */
import type { CommandSpec } from '../core/command';
import { table } from '../core/output';

interface Prediction {
  entityId: string;
  prediction: unknown;
  modelVersion: number;
  routedBy?: string;
  defaulted?: string[];
  timing?: { totalMs?: number };
}

export const predictCommand: CommandSpec = {
  name: 'predict',
  summary: 'predict for one or more entities: features from the online store, the model routed to',
  positionals: [
    { name: 'model', required: true },
    { name: 'entity', required: true, variadic: true },
  ],
  options: {
    version: { type: 'string', value: '<version|alias>', description: 'pin a version (4, v4) or an alias (canary)' },
    features: { type: 'boolean', description: 'include the feature values each prediction used' },
  },
  examples: ['npx strata predict churn u000001', 'npx strata predict churn u000001 u000002 --version canary --json'],
  async run(ctx) {
    const [model, ...entities] = ctx.positionals as [string, ...string[]];
    const version = ctx.string('version');
    const body = {
      ...(entities.length === 1 ? { entityId: entities[0] } : { entityIds: entities }),
      ...(ctx.flag('features') ? { includeFeatures: true } : {}),
    };
    const r = await ctx.api.json<Prediction & { predictions?: Prediction[] }>(
      'POST',
      `/api/predict/${encodeURIComponent(model)}`,
      {
        json: body,
        ...(version ? { headers: { 'x-strata-model-version': version } } : {}),
      },
    );
    const rows = r.predictions ?? [r];
    ctx.out.result(r, () =>
      table(rows, [
        { title: 'entity', value: (p) => p.entityId },
        { title: 'prediction', value: (p) => p.prediction },
        { title: 'version', value: (p) => p.modelVersion },
        { title: 'routed by', value: (p) => p.routedBy },
        { title: 'defaulted', value: (p) => (p.defaulted?.length ? p.defaulted.join(', ') : '') },
      ]),
    );
  },
};
