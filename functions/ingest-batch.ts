import type { InvocationContext } from '@azure/functions';
import type { IngestReport, IngestService } from '../shared/features/ingest/service';

interface EventHubBatchMetadata {
  sequenceNumberArray?: number[];
  enqueuedTimeUtcArray?: string[];
  partitionContext?: { partitionId?: string };
}

/**
 * An Event Hubs batch as an ingest request: its identity is (source, partition, first..last
 * sequence number), and its arrival time (created_ts) is when the hub accepted its last event,
 * so a redelivered batch yields exactly the same rows.
 */
export function ingestEventBatch(
  ingest: IngestService,
  source: string,
  events: unknown[],
  ctx: InvocationContext,
): Promise<IngestReport> {
  const m = ctx.triggerMetadata as EventHubBatchMetadata;
  const seq = m.sequenceNumberArray ?? [];
  const partition = m.partitionContext?.partitionId ?? '0';
  if (seq.length !== events.length)
    throw new Error(`event hub metadata has ${seq.length} sequence numbers for ${events.length} events`);
  const enqueued = (m.enqueuedTimeUtcArray ?? []).map((t) => Date.parse(t)).filter((t) => Number.isFinite(t));
  return ingest.ingest({
    ...(enqueued.length ? { receivedAt: Math.max(...enqueued) } : {}),
    source,
    records: events.map((record, i) => ({ record, position: `partition ${partition}, sequence ${seq[i]}` })),
    sequenceNumbers: seq,
    batch: { kind: 'eventhub', source, partition, firstSeq: seq[0] ?? 0, lastSeq: seq[seq.length - 1] ?? 0 },
    jobId: ctx.invocationId,
  });
}
