/**
 * The trigger payload the Functions host gives an Event Hubs-triggered function, built the
 * same way for events from the local bus and from a real Event Hub (PascalCase RPC names;
 * the library camel-cases them for the handler: `context.triggerMetadata.sequenceNumberArray`).
 */
import type { RpcTypedData } from '../functions-core';

export interface DeliveredEvent {
  sequenceNumber: number;
  offset: string;
  enqueuedTimeUtc: string;
  partitionKey: string | null;
  properties: Record<string, unknown>;
  body: unknown;
}

export interface PartitionContextInfo {
  eventHubName: string;
  consumerGroup: string;
  partitionId: string;
  fullyQualifiedNamespace: string;
}

const j = (v: unknown): RpcTypedData => ({ json: JSON.stringify(v) });

function systemProperties(e: DeliveredEvent): Record<string, unknown> {
  return {
    'x-opt-sequence-number': e.sequenceNumber,
    'x-opt-offset': e.offset,
    'x-opt-enqueued-time': e.enqueuedTimeUtc,
    'x-opt-partition-key': e.partitionKey,
    SequenceNumber: e.sequenceNumber,
    Offset: e.offset,
    EnqueuedTimeUtc: e.enqueuedTimeUtc,
    PartitionKey: e.partitionKey,
  };
}

function partitionContext(pc: PartitionContextInfo): Record<string, unknown> {
  return {
    ConsumerGroup: pc.consumerGroup,
    EventHubName: pc.eventHubName,
    FullyQualifiedNamespace: pc.fullyQualifiedNamespace,
    PartitionId: pc.partitionId,
  };
}

/** Input data + trigger metadata for one invocation (`cardinality: 'many'` takes the batch, 'one' one event). */
export function eventHubInvocation(
  triggerKey: string,
  cardinality: 'one' | 'many',
  events: DeliveredEvent[],
  pc: PartitionContextInfo,
): { inputData: Array<{ name: string; data: RpcTypedData }>; triggerMetadata: Record<string, RpcTypedData> } {
  if (cardinality === 'one') {
    const e = events[0];
    if (!e || events.length !== 1) throw new Error('cardinality "one" takes exactly one event');
    return {
      inputData: [{ name: triggerKey, data: j(e.body) }],
      triggerMetadata: {
        SequenceNumber: j(e.sequenceNumber),
        Offset: { string: e.offset },
        EnqueuedTimeUtc: { string: e.enqueuedTimeUtc },
        PartitionKey: e.partitionKey === null ? j(null) : { string: e.partitionKey },
        Properties: j(e.properties),
        SystemProperties: j(systemProperties(e)),
        PartitionContext: j(partitionContext(pc)),
      },
    };
  }
  return {
    inputData: [{ name: triggerKey, data: j(events.map((e) => e.body)) }],
    triggerMetadata: {
      SequenceNumberArray: j(events.map((e) => e.sequenceNumber)),
      OffsetArray: j(events.map((e) => e.offset)),
      EnqueuedTimeUtcArray: j(events.map((e) => e.enqueuedTimeUtc)),
      PartitionKeyArray: j(events.map((e) => e.partitionKey)),
      PropertiesArray: j(events.map((e) => e.properties)),
      SystemPropertiesArray: j(events.map(systemProperties)),
      PartitionContext: j(partitionContext(pc)),
    },
  };
}

/** Partition for a key: a stable hash, as Event Hubs maps a partition key to one partition. */
export function partitionForKey(key: string, partitionCount: number): number {
  // FNV-1a 32-bit: stable across processes and versions (unlike a random-seeded hash).
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitionCount;
}
