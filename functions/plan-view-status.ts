/**
 * GET /api/views/{view}/status[?days=7][&freshness=1d]: one view's watermark against its
 * sources' newest event (caught up or not), its day counts by status, and its recent ledger days.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { viewStatus } from '../shared/features/ledger/plan';
import { handled, readQuery, routeName } from './http';
import { duration } from './plan';

const Query = z.object({ days: z.coerce.number().int().min(1).max(366).optional(), freshness: duration.optional() });

export const planViewStatus = handled(async function planViewStatus(req) {
  const p = platform();
  const q = readQuery(req, Query);
  const status = await viewStatus({ repo: p.repo, ledger: await p.ledger() }, routeName(req, 'view', 'definition'), {
    ...(q.days !== undefined ? { days: q.days } : {}),
    ...(q.freshness !== undefined ? { freshness: q.freshness } : {}),
  });
  return { jsonBody: status };
});

app.http('plan-view-status', {
  methods: ['GET'],
  route: 'views/{view}/status',
  authLevel: 'function',
  handler: planViewStatus,
});
