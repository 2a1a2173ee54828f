/**
 * One Event Hubs-triggered function per stream source of the feature repo: each batch goes
 * through validation, dead-letter, the DAG and both stores (shared/features/ingest/service.ts).
 * The retry policy retries a failed batch until it succeeds (maxRetryCount -1, backoff up to
 * 30 s): the trigger would otherwise checkpoint past it, as Azure's does, and its records would
 * never reach the offline store. While storage or the online store is down the partition
 * waits; a record that is itself invalid never fails a batch (it goes to the dead letters).
 */
import { app, InvocationContext } from '@azure/functions';
import { platform } from '../shared/platform';
import { config } from '../shared/config';
import { featureRepo } from '../shared/definitions';
import { ingestEventBatch } from './ingest-batch';

/** The Event Hubs handler of one source: its batch through ingest, counted for /api/metrics. */
export function ingestEventsOf(source: string): (events: unknown, ctx: InvocationContext) => Promise<void> {
  return async function ingestEvents(events: unknown, ctx: InvocationContext): Promise<void> {
    const p = platform();
    const report = await ingestEventBatch(await p.ingest(), source, events as unknown[], ctx);
    p.ingestMetrics.observe(report);
    ctx.log(`ingest ${source}: ${report.accepted} accepted, ${report.rejected} rejected (${report.status})`);
  };
}

for (const source of featureRepo.sources.values()) {
  if (!source.stream) continue;
  app.eventHub(`ingest-${source.name}`, {
    eventHubName: source.stream.hub,
    connection: 'EVENTHUB_CONNECTION',
    consumerGroup: config().eventHubConsumerGroup,
    cardinality: 'many',
    retry: {
      strategy: 'exponentialBackoff',
      maxRetryCount: -1,
      minimumInterval: { seconds: 1 },
      maximumInterval: { seconds: 30 },
    },
    handler: ingestEventsOf(source.name),
  });
}
