/** `strata features <entity...> [--service s | --view a,b]`: online feature values (POST /api/features/lookup: one round trip). */
import type { CommandSpec } from '../core/command';
import { UsageError } from '../core/errors';
import { table } from '../core/output';

interface EntityFeatures {
  entityId: string;
  features: Record<string, unknown>;
  views: Record<string, { eventTime: string | null; fresh: boolean; ageMs?: number | null }>;
}

export const featuresCommand: CommandSpec = {
  name: 'features',
  summary: "online feature values of entities, with each view's event time and freshness",
  positionals: [{ name: 'entity', required: true, variadic: true }],
  options: {
    service: { type: 'string', value: '<service>', description: 'the features of a feature service' },
    view: { type: 'string', value: '<a,b>', description: 'the features of these views' },
  },
  examples: [
    'npx strata features u000001 --service churn_v1',
    'npx strata features u000001 u000002 --view user_clicks --json',
  ],
  async run(ctx) {
    const service = ctx.string('service');
    const view = ctx.string('view');
    if ((service === undefined) === (view === undefined)) throw new UsageError('give either --service or --view');
    const entities = ctx.positionals;
    const raw = await ctx.api.json<{ entities: EntityFeatures[] }>('POST', '/api/features/lookup', {
      json: { entityIds: entities, ...(service ? { service } : { views: ctx.list('view')! }) },
    });
    const answers = raw.entities;
    ctx.out.result(raw, () =>
      answers.flatMap((a, i) => [
        ...(i ? [''] : []),
        `${a.entityId}:`,
        ...table(Object.entries(a.features), [
          { title: 'feature', value: ([k]) => k },
          { title: 'value', value: ([, v]) => v },
          { title: 'event time', value: ([k]) => a.views[k.split(':')[0]!]?.eventTime },
          { title: 'fresh', value: ([k]) => (a.views[k.split(':')[0]!]?.fresh ? 'yes' : 'no') },
        ]).map((l) => `  ${l}`),
      ]),
    );
  },
};
