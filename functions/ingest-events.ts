/**
 * One Event Hubs-triggered function per stream source of the feature repo: each batch goes
 * through validation, dead-letter, the DAG and both stores (shared/features/ingest.ts).
 * A retry policy covers transient storage failures: the trigger would otherwise checkpoint
 * past a failed batch, as Azure's does.
 */
import { app, InvocationContext } from '@azure/functions';
import { platform } from '../shared/platform';
import { config } from '../shared/config';
import { featureRepo } from '../shared/definitions';
import { ingestEventBatch } from './ingest-batch';

for (const source of featureRepo.sources.values()) {
  if (!source.stream) continue;
  app.eventHub(`ingest-${source.name}`, {
    eventHubName: source.stream.hub,
    connection: 'EVENTHUB_CONNECTION',
    consumerGroup: config().eventHubConsumerGroup,
    cardinality: 'many',
    retry: { strategy: 'exponentialBackoff', maxRetryCount: 8, minimumInterval: { seconds: 1 }, maximumInterval: { seconds: 60 } },
    handler: async (events: unknown, ctx: InvocationContext) => {
      const p = platform();
      const report = await ingestEventBatch(await p.ingest(), source.name, events as unknown[], ctx);
      p.ingestMetrics.observe(report);
      ctx.log(`ingest ${source.name}: ${report.accepted} accepted, ${report.rejected} rejected (${report.status})`);
    },
  });
}
