/** `strata plan [--views a,b] [--freshness 6h]`: what each view is missing and the backfills that fix it (GET /api/plan). */
import type { CommandSpec } from '../core/command';
import { table } from '../core/output';

export interface PlanView {
  view: string;
  watermark: string | null;
  newestSourceEvent: string | null;
  lagMs: number | null;
  caughtUp: boolean;
  days: Record<string, number>;
}

export interface Plan {
  views: PlanView[];
  work: Array<{ view: string; day: string; kind: string; reason?: string }>;
  backfills: Array<{ views: string[]; from: string; to: string; days: number }>;
}

export const planCommand: CommandSpec = {
  name: 'plan',
  summary: 'which days of which views are missing, incomplete or stale, and the backfills that fix them',
  options: {
    views: { type: 'string', value: '<a,b>', description: 'only these views (comma-separated)' },
    freshness: {
      type: 'string',
      value: '<duration>',
      description: 'how far a view may lag its sources before it counts as stale (default 1d)',
    },
  },
  examples: ['npx strata plan', 'npx strata plan --views user_clicks --freshness 6h --json'],
  async run(ctx) {
    const plan = await ctx.api.json<Plan>('GET', '/api/plan', {
      query: { views: ctx.string('views'), freshness: ctx.string('freshness') },
    });
    ctx.out.result(plan, () => [
      ...table(plan.views, [
        { title: 'view', value: (v) => v.view },
        { title: 'caught up', value: (v) => (v.caughtUp ? 'yes' : 'no') },
        { title: 'watermark', value: (v) => v.watermark },
        { title: 'newest source event', value: (v) => v.newestSourceEvent },
        ...['complete', 'incomplete', 'pending', 'missing', 'stale'].map((k) => ({
          title: k,
          value: (v: PlanView) => v.days[k] ?? 0,
          align: 'right' as const,
        })),
      ]),
      '',
      plan.backfills.length
        ? `backfills that would fix it:\n${plan.backfills.map((b) => `  npx strata backfill ${b.views.join(',')} --from ${b.from} --to ${b.to}   (${b.days} day${b.days === 1 ? '' : 's'})`).join('\n')}`
        : 'nothing to backfill',
    ]);
  },
};
