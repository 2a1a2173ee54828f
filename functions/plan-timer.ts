/**
 * Hourly: compute the freshness plan and start the backfills it proposes — only when there is
 * work, and never a second time while the same backfill runs (its instance id comes from the
 * request). Does nothing when every view is fresh.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { platform } from '../shared/platform';
import { computePlan } from '../shared/features/ledger/plan';
import { parseBackfillRequest } from '../shared/features/backfill';
import { startOrJoinBackfill } from './backfills';

/** At most this many backfills started per run; the rest wait for the next hour. */
const MAX_STARTS = 10;

export async function planTimer(_timer: Timer, ctx: InvocationContext) {
  const p = platform();
  const plan = await computePlan({ repo: p.repo, ledger: await p.ledger() });
  if (!plan.backfills.length) {
    ctx.log(`plan: nothing to do (${plan.views.length} views fresh)`);
    return;
  }
  const client = df.getClient(ctx);
  for (const b of plan.backfills.slice(0, MAX_STARTS)) {
    const { id, status } = await startOrJoinBackfill(
      client,
      parseBackfillRequest(p.repo, { views: b.views, from: b.from, to: b.to }),
    );
    ctx.log(`plan: backfill ${id} ${status} for ${b.views.join(', ')} ${b.from}..${b.to} (${b.days} day(s) with work)`);
  }
}

app.timer('plan-timer', {
  schedule: '0 23 * * * *',
  extraInputs: [df.input.durableClient()],
  handler: planTimer,
});
