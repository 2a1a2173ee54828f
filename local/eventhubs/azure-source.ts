/**
 * Feeds an Event Hubs-triggered function from a real Event Hub, the way the Functions host
 * does: one consumer per function, a Blob checkpoint store, a checkpoint after each
 * invocation, batches up to maxEventBatchSize. Used when the binding's `connection` setting
 * names a real namespace: a connection string (Endpoint=sb://...) or
 * `<connection>__fullyQualifiedNamespace` with a credential (the consumer comes from
 * shared/azure/client-factory.ts).
 */
import type { EventHubConsumerClient, ReceivedEventData, PartitionContext } from '@azure/event-hubs';
import type { EventHubConnection } from '../../shared/azure/connections';
import { eventHubConsumer } from '../../shared/azure/client-factory';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import type { ContainerClient } from '@azure/storage-blob';
import type { DeliveredEvent } from './metadata';
import { HostStoppingError } from '../retry';

import { asEventHubConnection } from '../../shared/azure/event-hub-sink';
export { isRealEventHubConnection } from '../../shared/azure/event-hub-sink';

/** An SDK event as the trigger presents it (same shape as the local bus). */
export function toDeliveredEvent(e: ReceivedEventData): DeliveredEvent {
  return {
    sequenceNumber: e.sequenceNumber,
    offset: String(e.offset),
    enqueuedTimeUtc: e.enqueuedTimeUtc.toISOString(),
    partitionKey: e.partitionKey ?? null,
    properties: (e.properties ?? {}) as Record<string, unknown>,
    body: Buffer.isBuffer(e.body) ? decodeBody(e.body) : e.body,
  };
}

/** Bodies sent as bytes by other producers: JSON when they parse, else text, as the host does. */
function decodeBody(b: Buffer): unknown {
  const text = b.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface AzureEventHubSourceOptions {
  /** A connection string or a namespace with a credential (shared/azure/connections.ts). */
  connection: EventHubConnection | string;
  eventHubName: string;
  consumerGroup: string;
  checkpointContainer: ContainerClient;
  maxBatchSize: number;
  handler(
    ctx: { partitionId: string; eventHubName: string; consumerGroup: string; fullyQualifiedNamespace: string },
    events: DeliveredEvent[],
  ): Promise<void>;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

export class AzureEventHubSource {
  private client: EventHubConsumerClient | undefined;
  private subscription: { close(): Promise<void> } | undefined;

  constructor(private readonly opts: AzureEventHubSourceOptions) {}

  start(): void {
    const o = this.opts;
    const store = new BlobCheckpointStore(o.checkpointContainer);
    const connection = asEventHubConnection(o.connection);
    if (!connection) throw new Error(`event hub "${o.eventHubName}": not an Event Hubs connection`);
    this.client = eventHubConsumer(connection, o.consumerGroup, o.eventHubName, store);
    this.subscription = this.client.subscribe(
      {
        processEvents: async (events: ReceivedEventData[], ctx: PartitionContext) => {
          if (events.length === 0) return;
          try {
            await o.handler(
              {
                partitionId: ctx.partitionId,
                eventHubName: ctx.eventHubName,
                consumerGroup: ctx.consumerGroup,
                fullyQualifiedNamespace: ctx.fullyQualifiedNamespace,
              },
              events.map(toDeliveredEvent),
            );
          } catch (err) {
            o.log('error', `event hub "${o.eventHubName}" partition ${ctx.partitionId}: ${(err as Error).message}`);
            if (err instanceof HostStoppingError) return; // not done: delivered again after the restart
          }
          // Checkpoint whether or not the invocation succeeded, as the Functions trigger does.
          await ctx.updateCheckpoint(events[events.length - 1]!);
        },
        processError: async (err: Error, ctx: PartitionContext) => {
          o.log('error', `event hub "${o.eventHubName}" (partition ${ctx.partitionId || 'n/a'}): ${err.message}`);
        },
      },
      { maxBatchSize: o.maxBatchSize, maxWaitTimeInSeconds: 1 },
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    await this.client?.close();
  }
}
