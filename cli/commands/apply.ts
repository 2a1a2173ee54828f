/** `strata apply [--dry-run]`: record the app's definitions (POST /api/definitions/apply, admin key). */
import type { CommandSpec } from '../core/command';
import { table } from '../core/output';

interface ApplyResult {
  created: number;
  updated: number;
  unchanged: number;
  dryRun: boolean;
  changes: Array<{
    kind: string;
    name: string;
    version: string;
    change: string;
    previousVersion?: string;
    breaking?: boolean;
    notes?: string[];
  }>;
  notInRepo: Array<{ kind: string; name: string }>;
}

export const applyCommand: CommandSpec = {
  name: 'apply',
  summary: "record the app's feature definitions (what changed; 409 names incompatible changes)",
  description:
    'Records the entities, sources, views and services the app serves as their current versions.\n' +
    "An incompatible change (e.g. a view's type) is refused with the fix; --dry-run shows what would change.",
  options: { 'dry-run': { type: 'boolean', description: 'show the changes without recording them' } },
  examples: ['npx strata apply --dry-run', 'npx strata apply'],
  async run(ctx) {
    const dryRun = ctx.flag('dry-run');
    const r = await ctx.api.json<ApplyResult>('POST', '/api/definitions/apply', {
      key: 'admin',
      query: { dryRun: dryRun ? 'true' : undefined },
    });
    ctx.out.result(r, () => {
      const changed = r.changes.filter((c) => c.change !== 'unchanged');
      return [
        `${r.dryRun ? 'would apply' : 'applied'}: ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged`,
        ...(changed.length
          ? table(changed, [
              { title: 'change', value: (c) => c.change + (c.breaking ? ' (breaking)' : '') },
              { title: 'kind', value: (c) => c.kind },
              { title: 'name', value: (c) => c.name },
              { title: 'version', value: (c) => c.version.slice(0, 12) },
              { title: 'notes', value: (c) => (c.notes ?? []).join('; ') || '' },
            ])
          : []),
        ...(r.notInRepo.length
          ? [`kept (applied earlier, not in the app): ${r.notInRepo.map((d) => `${d.kind} ${d.name}`).join(', ')}`]
          : []),
      ];
    });
  },
};
