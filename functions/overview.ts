/**
 * GET /api/overview (function key): dependency health, per source the ingest rate (last
 * hour, per minute), dead-lettered and late records (last 7 days), and per view its
 * freshness. Computed from shared storage, so every instance gives the same answer; see
 * shared/dashboard/overview.ts.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { checkHealth } from '../shared/health';
import { IntervalLedger } from '../shared/features/ledger';
import { dashboardOverview } from '../shared/dashboard/overview';
import { APP_VERSION } from '../shared/version';
import { handled } from './http';

app.http('overview', {
  methods: ['GET'],
  route: 'overview',
  authLevel: 'function',
  handler: handled(async () => {
    const p = platform();
    const overview = await dashboardOverview({
      repo: p.repo,
      manifest: await p.manifest(),
      ledger: await IntervalLedger.open(p.storage),
      deadLetters: p.deadLetters,
      health: () => checkHealth({ storage: p.storage, online: p.online, appVersion: APP_VERSION }),
    });
    return { jsonBody: overview };
  }),
});
