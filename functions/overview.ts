/**
 * GET /api/overview (function key): dependency health, per source the ingest rate (last
 * hour, per minute), dead-lettered and late records (last 7 days), and per view its
 * freshness. Computed from shared storage, so every instance gives the same answer; see
 * shared/dashboard/overview.ts.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { dashboardOverview } from '../shared/dashboard/overview';
import { handled } from './http';

export const overviewHandler = handled(async function overviewHandler() {
  const p = platform();
  const overview = await dashboardOverview({
    repo: p.repo,
    manifest: await p.manifest(),
    ledger: await p.ledger(),
    deadLetters: p.deadLetters,
    health: () => p.health(),
  });
  return { jsonBody: overview };
});

app.http('overview', {
  methods: ['GET'],
  route: 'overview',
  authLevel: 'function',
  handler: overviewHandler,
});
