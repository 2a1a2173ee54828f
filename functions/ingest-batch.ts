import type { InvocationContext } from '@azure/functions';
import type { IngestReport, IngestService } from '../shared/features/ingest';

interface EventHubBatchMetadata {
  sequenceNumberArray?: number[];
  partitionContext?: { partitionId?: string };
}

/** An Event Hubs batch as an ingest request: its identity is (source, partition, first..last sequence number). */
export function ingestEventBatch(ingest: IngestService, source: string, events: unknown[], ctx: InvocationContext): Promise<IngestReport> {
  const m = ctx.triggerMetadata as EventHubBatchMetadata;
  const seq = m.sequenceNumberArray ?? [];
  const partition = m.partitionContext?.partitionId ?? '0';
  if (seq.length !== events.length) throw new Error(`event hub metadata has ${seq.length} sequence numbers for ${events.length} events`);
  return ingest.ingest({
    source,
    records: events.map((record, i) => ({ record, position: `partition ${partition}, sequence ${seq[i]}` })),
    batch: { kind: 'eventhub', source, partition, firstSeq: seq[0] ?? 0, lastSeq: seq[seq.length - 1] ?? 0 },
    jobId: ctx.invocationId,
  });
}
