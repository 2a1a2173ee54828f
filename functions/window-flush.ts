/**
 * Every five minutes: advance the feature pipeline's clock to now minus the largest lateness,
 * so windowed features of entities with no new events still expire on time online and offline.
 */
import { app, InvocationContext, Timer } from '@azure/functions';
import { platform } from '../shared/platform';

export async function windowFlush(_timer: Timer, ctx: InvocationContext) {
  const ingest = await platform().ingest();
  const views = await ingest.flush(Date.now() - ingest.maxLatenessMs, ctx.invocationId);
  const rows = Object.values(views).reduce((n, v) => n + v.rows, 0);
  if (rows) ctx.log(`window flush: ${rows} rows (${Object.keys(views).join(', ')})`);
}

app.timer('window-flush', {
  schedule: '0 */5 * * * *',
  handler: windowFlush,
});
