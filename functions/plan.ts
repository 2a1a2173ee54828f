/**
 * GET /api/plan[?views=a,b][&freshness=6h]: which days of which views are missing, incomplete
 * or stale against their freshness target, whether each view has caught up with its sources,
 * and the backfill requests (POST /api/backfills bodies) that would fix it.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { computePlan } from '../shared/features/ledger/plan';
import { parseDuration } from '../shared/features/definitions/duration';
import { handled, readQuery } from './http';
import { nameSchema } from '../shared/names';

export const duration = z.string().transform((s, ctx) => {
  try {
    return parseDuration(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const Query = z.object({
  views: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean),
    )
    .pipe(z.array(nameSchema('definition')).min(1, 'name at least one view'))
    .optional(),
  freshness: duration.optional(),
});

export const planHandler = handled(async function planHandler(req) {
  const p = platform();
  const q = readQuery(req, Query);
  const views = q.views;
  for (const v of views ?? []) p.repo.view(v); // 404 naming an unknown view
  const plan = await computePlan(
    { repo: p.repo, ledger: await p.ledger() },
    { ...(views ? { views } : {}), ...(q.freshness !== undefined ? { freshness: q.freshness } : {}) },
  );
  return { jsonBody: plan };
});

app.http('plan', {
  methods: ['GET'],
  route: 'plan',
  authLevel: 'function',
  handler: planHandler,
});
