/**
 * `strata materialize [--views a,b] [--since <time>]`: load the online store from the offline
 * store (the newest row per view and entity within TTL), POST /api/materialize {views?, since?}
 * with the admin key.
 */
import type { CommandSpec } from '../core/command';
import { parseTime } from '../core/values';

export const materializeCommand: CommandSpec = {
  name: 'materialize',
  summary: 'load the online store from the offline store (newest row per view and entity within TTL)',
  description:
    'Use it after a Redis flush or move, or to fill the online store from history loaded by upload or backfill.',
  options: {
    views: { type: 'string', value: '<a,b>', description: 'only these views (default: every view)' },
    since: { type: 'string', value: '<time>', description: 'only rows with event time at or after this time' },
  },
  examples: ['npx strata materialize', 'npx strata materialize --views user_clicks --since now-2d'],
  async run(ctx) {
    const views = ctx.list('views');
    const sinceText = ctx.string('since');
    const body = {
      ...(views?.length ? { views } : {}),
      ...(sinceText !== undefined ? { since: new Date(parseTime(sinceText, 'since')).toISOString() } : {}),
    };
    const r = await ctx.api.json<Record<string, unknown>>('POST', '/api/materialize', {
      key: 'admin',
      json: body,
      timeoutMs: 30 * 60_000,
    });
    ctx.out.result(r, () => `materialized: ${JSON.stringify(r)}`);
  },
};
