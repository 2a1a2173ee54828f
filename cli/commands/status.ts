/**
 * `strata status`: is the app up, are its dependencies reachable, are the definitions applied,
 * have the views caught up with their sources, and which model versions serve. Exit 1 when
 * the app or a dependency is down, so scripts can wait on it.
 */
import type { CommandSpec } from '../core/command';
import { ApiError } from '../core/errors';
import { table } from '../core/output';
import type { Plan } from './plan';

interface Health {
  status: string;
  version: string;
  dependencies: Record<string, { ok: boolean; detail?: string; error?: string }>;
}

interface ModelSummary {
  model: string;
  latestVersion: number;
  aliases: Record<string, number>;
  traffic: { production: number; canary: number };
}

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'health of the app and its dependencies, pending definitions, views caught up, models serving',
  description: 'Exit code 1 when the app cannot be reached or a dependency is down.',
  examples: ['npx strata status', 'npx strata status --json | jq .health.status'],
  async run(ctx) {
    const health = await ctx.api.json<Health>('GET', '/api/health', { key: 'none', accept: [503] });
    const definitions = await ctx.api.json<{ definitions: unknown[]; pending: Array<{ kind: string; name: string }> }>(
      'GET',
      '/api/definitions',
    );
    const plan = await ctx.api.json<Plan>('GET', '/api/plan');
    let models: ModelSummary[] | null = null;
    try {
      models = (await ctx.api.json<{ models: ModelSummary[] }>('GET', '/api/models', { key: 'admin' })).models;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) throw e;
    }
    const result = {
      health,
      definitions: { applied: definitions.definitions.length, pending: definitions.pending },
      views: plan.views,
      models,
    };
    ctx.out.result(result, () => [
      `app ${health.version}: ${health.status}`,
      ...Object.entries(health.dependencies).map(
        ([k, d]) =>
          `  ${k}: ${d.ok ? 'ok' : 'DOWN'}${d.detail ? ` (${d.detail})` : ''}${d.error ? `: ${d.error}` : ''}`,
      ),
      `definitions: ${definitions.definitions.length} applied, ${definitions.pending.length} pending${definitions.pending.length ? ` (run \`npx strata apply\`: ${definitions.pending.map((d) => `${d.kind} ${d.name}`).join(', ')})` : ''}`,
      'views:',
      ...table(plan.views, [
        { title: 'view', value: (v) => v.view },
        { title: 'caught up', value: (v) => (v.caughtUp ? 'yes' : 'no') },
        { title: 'newest source event', value: (v) => v.newestSourceEvent },
        { title: 'lag', value: (v) => (v.lagMs === null ? null : `${Math.round(v.lagMs / 1000)}s`) },
      ]).map((l) => `  ${l}`),
      models === null
        ? 'models: (the admin key is needed to list them)'
        : `models: ${
            models.length
              ? models
                  .map(
                    (m) =>
                      `${m.model} (${
                        Object.entries(m.aliases)
                          .map(([a, v]) => `${a}=v${v}`)
                          .join(', ') || 'no aliases'
                      }; latest v${m.latestVersion})`,
                  )
                  .join('; ')
              : 'none registered'
          }`,
    ]);
    return health.status === 'ok' ? 0 : 1;
  },
};
