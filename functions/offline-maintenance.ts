/** Hourly: compact the offline store's finished days and collect orphaned segment blobs. */
import { app, InvocationContext, Timer } from '@azure/functions';
import { platform } from '../shared/platform';
import { maintainOfflineStore } from '../shared/features/offline/maintenance';

export async function offlineMaintenance(_timer: Timer, ctx: InvocationContext) {
  const p = platform();
  const report = await maintainOfflineStore(await p.offline(), p.repo, { jobId: ctx.invocationId });
  ctx.log(
    `offline maintenance: ${report.compacted.length} day(s) compacted, ${report.gc.orphansDeleted.length + report.gc.supersededDeleted.length} blob(s) deleted`,
  );
}

app.timer('offline-maintenance', {
  schedule: '0 17 * * * *',
  handler: offlineMaintenance,
});
