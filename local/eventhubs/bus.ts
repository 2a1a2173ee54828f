/**
 * The local stand-in for Event Hubs: named hubs with partitions, a durable log per partition
 * (Azurite), and one cursor per consumer and partition with checkpoints after each
 * invocation. Delivery is at-least-once, exactly like the Azure trigger: a batch that was
 * being handled when the host died is delivered again after a restart.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { CheckpointStore, PartitionLog } from './partition-log';
import { DeliveredEvent, partitionForKey } from './metadata';
import { HostStoppingError } from '../retry';

export interface EventToPublish {
  body: unknown;
  partitionKey?: string | null;
  properties?: Record<string, unknown>;
}

export interface PublishResult {
  /** Per partition id: the sequence numbers assigned. */
  partitions: Record<string, { first: number; last: number; count: number }>;
}

export type BatchHandler = (partitionId: string, events: DeliveredEvent[]) => Promise<void>;

interface Consumer {
  hub: string;
  name: string;
  maxBatchSize: number;
  handler: BatchHandler;
  partitions: Map<string, { queue: DeliveredEvent[]; running: boolean }>;
}

interface Hub {
  name: string;
  logs: PartitionLog[];
  ready: Promise<void>;
  roundRobin: number;
}

export interface LocalEventBusOptions {
  container: ContainerClient;
  partitionCount: number;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

export class LocalEventBus {
  private readonly hubs = new Map<string, Hub>();
  private readonly consumers: Consumer[] = [];
  private readonly checkpoints: CheckpointStore;
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: LocalEventBusOptions) {
    this.checkpoints = new CheckpointStore(opts.container);
  }

  get partitionCount(): number {
    return this.opts.partitionCount;
  }

  private hub(name: string): Hub {
    let h = this.hubs.get(name);
    if (!h) {
      const logs = Array.from({ length: this.opts.partitionCount }, (_, i) => new PartitionLog(this.opts.container, name, String(i)));
      h = { name, logs, ready: Promise.all(logs.map((l) => l.open())).then(() => undefined), roundRobin: 0 };
      this.hubs.set(name, h);
    }
    return h;
  }

  /**
   * Register a consumer of a hub and queue everything after its checkpoints for delivery.
   * Call before publishing starts (the host subscribes every function at start-up).
   */
  async subscribe(hubName: string, consumerName: string, maxBatchSize: number, handler: BatchHandler): Promise<void> {
    const hub = this.hub(hubName);
    await hub.ready;
    const consumer: Consumer = { hub: hubName, name: consumerName, maxBatchSize, handler, partitions: new Map() };
    await Promise.all(
      hub.logs.map(async (log) => {
        const cp = await this.checkpoints.get(hubName, consumerName, log.partitionId);
        const pending = cp < log.lastSequenceNumber ? await log.readAfter(cp) : [];
        consumer.partitions.set(log.partitionId, { queue: pending, running: false });
        if (pending.length) this.opts.log('info', `event hub "${hubName}" partition ${log.partitionId}: redelivering ${pending.length} event(s) after checkpoint ${cp} to ${consumerName}`);
      }),
    );
    this.consumers.push(consumer);
    for (const pid of consumer.partitions.keys()) this.pump(consumer, pid);
  }

  /** Publish events; resolves once they are durable (then they will be delivered, even after a crash). */
  async publish(hubName: string, events: EventToPublish[]): Promise<PublishResult> {
    if (this.stopping) throw new Error('the event bus is stopping');
    const hub = this.hub(hubName);
    await hub.ready;
    const byPartition = new Map<number, Array<{ body: unknown; partitionKey: string | null; properties: Record<string, unknown> }>>();
    for (const e of events) {
      const key = e.partitionKey ?? null;
      // No key: spread round-robin per publish call, as the Event Hubs gateway spreads keyless sends.
      const p = key === null ? hub.roundRobin : partitionForKey(key, this.opts.partitionCount);
      let list = byPartition.get(p);
      if (!list) byPartition.set(p, (list = []));
      list.push({ body: e.body, partitionKey: key, properties: e.properties ?? {} });
    }
    hub.roundRobin = (hub.roundRobin + 1) % this.opts.partitionCount;
    const result: PublishResult = { partitions: {} };
    await Promise.all(
      [...byPartition].map(async ([p, list]) => {
        const log = hub.logs[p]!;
        const stored = await log.append(list);
        result.partitions[log.partitionId] = { first: stored[0]!.sequenceNumber, last: stored[stored.length - 1]!.sequenceNumber, count: stored.length };
        for (const c of this.consumers) {
          if (c.hub !== hubName) continue;
          c.partitions.get(log.partitionId)!.queue.push(...stored);
          this.pump(c, log.partitionId);
        }
      }),
    );
    return result;
  }

  private pump(c: Consumer, partitionId: string): void {
    const state = c.partitions.get(partitionId)!;
    if (state.running || this.stopping || state.queue.length === 0) return;
    state.running = true;
    const run = (async () => {
      while (state.queue.length && !this.stopping) {
        const batch = state.queue.splice(0, c.maxBatchSize);
        try {
          await c.handler(partitionId, batch);
        } catch (err) {
          if (err instanceof HostStoppingError) {
            // Not done: no checkpoint, so the batch is delivered again at the next start.
            state.queue.unshift(...batch);
            this.opts.log('warn', `event hub "${c.hub}" consumer ${c.name} partition ${partitionId}: ${err.message}; not checkpointed`);
            break;
          }
          // Like Azure: a failed invocation is not retried by the trigger (use a retry policy); the checkpoint moves on.
          this.opts.log('error', `event hub "${c.hub}" consumer ${c.name} partition ${partitionId}: ${(err as Error).message}`);
        }
        const last = batch[batch.length - 1]!;
        await this.checkpoints.set(c.hub, c.name, partitionId, last.sequenceNumber, last.offset).catch((err) => {
          this.opts.log('error', `checkpoint failed for ${c.name} partition ${partitionId}: ${(err as Error).message}`);
        });
      }
    })().finally(() => {
      state.running = false;
      this.inFlight.delete(run);
      if (state.queue.length) this.pump(c, partitionId);
      else if (this.inFlight.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
    });
    this.inFlight.add(run);
  }

  /** Resolves when every queued event has been handled and checkpointed (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** Stop taking new batches; wait for the batches in flight to finish and checkpoint. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
  }
}
