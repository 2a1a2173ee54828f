/**
 * The local stand-in for Event Hubs: named hubs with partitions, a durable log per partition
 * (Azurite), and one cursor per consumer and partition with checkpoints after each
 * invocation. Delivery is at-least-once, exactly like the Azure trigger: a batch that was
 * being handled when the host died is delivered again after a restart.
 *
 * Several hosts on one storage account share a hub's partitions as Azure Functions instances
 * do (EventHubConsumerClient with the Blob checkpoint store): each consumer balances partition
 * ownership with the other hosts every `ownership.intervalMs` (ownership.ts: ETag-guarded
 * records with expiry), reads only the partitions it owns, from their last checkpoint, and
 * follows their logs whoever appended to them (a publish on this host wakes its own reader at
 * once; other hosts' appends are seen within `pollMs`). When a host dies its partitions are
 * taken over after `ownership.expiryMs`; a host stopping cleanly gives them up at once.
 * Checkpoints only move forward, so the old owner finishing a batch after a move never sends
 * the new owner back.
 */
import os from 'node:os';
import crypto from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { CheckpointStore, PartitionLog, type LogCursor } from './partition-log';
import { DeliveredEvent, partitionForKey } from './metadata';
import { OwnershipStore, partitionsToClaim, type OwnershipRecord } from './ownership';
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

interface PartitionState {
  owned: boolean;
  record?: OwnershipRecord;
  queue: DeliveredEvent[];
  running: boolean;
  /** The highest sequence number read from the log into the queue (or checkpointed). */
  readSeq: number;
  cursor: LogCursor | undefined;
  reading: Promise<void> | undefined;
  /** A read was asked for while one ran: read again after it. */
  readAgain: boolean;
}

interface Consumer {
  hub: string;
  name: string;
  maxBatchSize: number;
  handler: BatchHandler;
  partitions: Map<string, PartitionState>;
  balancing: Promise<void> | undefined;
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
  /** This host's identity in ownership records (default: hostname, pid and a random suffix). */
  ownerId?: string;
  /** Balancing round interval and how long an unrenewed ownership holds (default 2 s and 10 s; Azure: 10 s and 60 s). */
  ownership?: { intervalMs?: number; expiryMs?: number };
  /** How often owned partitions are read for events other hosts appended (default 200 ms). */
  pollMs?: number;
}

export class LocalEventBus {
  readonly ownerId: string;
  private readonly hubs = new Map<string, Hub>();
  private readonly consumers: Consumer[] = [];
  private readonly checkpoints: CheckpointStore;
  private readonly ownership: OwnershipStore;
  private readonly intervalMs: number;
  private readonly expiryMs: number;
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: LocalEventBusOptions) {
    this.checkpoints = new CheckpointStore(opts.container);
    this.ownership = new OwnershipStore(opts.container);
    this.ownerId = opts.ownerId ?? `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    this.intervalMs = opts.ownership?.intervalMs ?? 2000;
    this.expiryMs = opts.ownership?.expiryMs ?? 10_000;
  }

  get partitionCount(): number {
    return this.opts.partitionCount;
  }

  /** Per hub and consumer, the partitions this host owns now (status, tests). */
  owned(): Record<string, string[]> {
    return Object.fromEntries(
      this.consumers.map((c) => [`${c.hub}/${c.name}`, [...c.partitions].filter(([, s]) => s.owned).map(([p]) => p)]),
    );
  }

  private hub(name: string): Hub {
    let h = this.hubs.get(name);
    if (!h) {
      const logs = Array.from(
        { length: this.opts.partitionCount },
        (_, i) => new PartitionLog(this.opts.container, name, String(i)),
      );
      h = { name, logs, ready: Promise.all(logs.map((l) => l.open())).then(() => undefined), roundRobin: 0 };
      h.ready.catch(() => this.hubs.delete(name));
      this.hubs.set(name, h);
    }
    return h;
  }

  /**
   * Register a consumer of a hub: it takes its share of the partitions (a first balancing round
   * before this resolves, so a lone host owns them all) and reads each from its checkpoint.
   */
  async subscribe(hubName: string, consumerName: string, maxBatchSize: number, handler: BatchHandler): Promise<void> {
    const hub = this.hub(hubName);
    await hub.ready;
    const consumer: Consumer = {
      hub: hubName,
      name: consumerName,
      maxBatchSize,
      handler,
      partitions: new Map(),
      balancing: undefined,
    };
    for (const log of hub.logs)
      consumer.partitions.set(log.partitionId, {
        owned: false,
        queue: [],
        running: false,
        readSeq: -1,
        cursor: undefined,
        reading: undefined,
        readAgain: false,
      });
    this.consumers.push(consumer);
    await this.balance(consumer);
    this.timers.push(setInterval(() => void this.balance(consumer), this.intervalMs).unref());
    this.timers.push(setInterval(() => this.readOwned(consumer), this.opts.pollMs ?? 200).unref());
  }

  /** One balancing round: renew what this host owns, notice what it lost, claim its share. */
  private balance(c: Consumer): Promise<void> {
    if (c.balancing || this.stopping) return c.balancing ?? Promise.resolve();
    const round = (async () => {
      const records = await this.ownership.list(c.hub, c.name);
      const byPartition = new Map(records.map((r) => [r.partitionId, r]));
      for (const [pid, state] of c.partitions) {
        if (!state.owned) continue;
        const r = byPartition.get(pid);
        const renewed =
          r && r.ownerId === this.ownerId ? await this.ownership.claim(c.hub, c.name, r, this.ownerId) : undefined;
        if (renewed) {
          state.record = renewed;
          byPartition.set(pid, renewed);
        } else this.lose(c, pid, r?.ownerId);
      }
      const claims = partitionsToClaim(
        [...byPartition.values()],
        [...c.partitions.keys()],
        this.ownerId,
        Date.now(),
        this.expiryMs,
      );
      for (const pid of claims) {
        const r = byPartition.get(pid);
        const won = await this.ownership.claim(
          c.hub,
          c.name,
          { partitionId: pid, ...(r?.etag ? { etag: r.etag } : {}) },
          this.ownerId,
        );
        if (won) await this.acquire(c, pid, won, r);
      }
    })()
      .catch((err) =>
        this.opts.log(
          'warn',
          `event hub "${c.hub}" consumer ${c.name}: partition balancing failed (${(err as Error).message}); trying again in ${this.intervalMs} ms`,
        ),
      )
      .finally(() => (c.balancing = undefined));
    c.balancing = round;
    return round;
  }

  private async acquire(
    c: Consumer,
    pid: string,
    record: OwnershipRecord,
    before: OwnershipRecord | undefined,
  ): Promise<void> {
    const state = c.partitions.get(pid)!;
    const cp = await this.checkpoints.get(c.hub, c.name, pid);
    Object.assign(state, { owned: true, record, queue: [], readSeq: cp, cursor: undefined });
    const from = before?.ownerId ? ` from ${before.ownerId}` : '';
    this.opts.log(
      'info',
      `event hub "${c.hub}" consumer ${c.name}: partition ${pid} claimed${from}; reading after checkpoint ${cp}`,
    );
    void this.read(c, pid);
  }

  private lose(c: Consumer, pid: string, to: string | undefined): void {
    const state = c.partitions.get(pid)!;
    state.owned = false;
    state.queue = [];
    state.cursor = undefined;
    this.opts.log(
      'info',
      `event hub "${c.hub}" consumer ${c.name}: partition ${pid} is owned by ${to || 'nobody'} now; stopped reading it`,
    );
  }

  private readOwned(c: Consumer): void {
    for (const [pid, s] of c.partitions) if (s.owned) void this.read(c, pid);
  }

  /** Read what was appended to an owned partition since the last read, and deliver it. */
  private read(c: Consumer, pid: string): Promise<void> {
    const state = c.partitions.get(pid)!;
    if (!state.owned || this.stopping) return Promise.resolve();
    if (state.reading) {
      state.readAgain = true;
      return state.reading;
    }
    const log = this.hub(c.hub).logs[Number(pid)]!;
    const record = state.record;
    const run = (async () => {
      const { events, cursor } = await log.readNew(state.readSeq, state.cursor);
      if (!state.owned || state.record !== record) return; // lost (or re-claimed) meanwhile
      state.cursor = cursor;
      const fresh = events.filter((e) => e.sequenceNumber > state.readSeq);
      if (!fresh.length) return;
      state.readSeq = fresh[fresh.length - 1]!.sequenceNumber;
      state.queue.push(...fresh);
      this.pump(c, pid);
    })()
      .catch((err) =>
        this.opts.log(
          'warn',
          `event hub "${c.hub}" partition ${pid}: reading the log failed (${(err as Error).message}); trying again`,
        ),
      )
      .finally(() => {
        state.reading = undefined;
        this.inFlight.delete(run);
        if (state.readAgain) {
          state.readAgain = false;
          void this.read(c, pid);
        } else this.wakeIdle();
      });
    state.reading = run;
    this.inFlight.add(run);
    return run;
  }

  /** Publish events; resolves once they are durable (then they will be delivered, even after a crash). */
  async publish(hubName: string, events: EventToPublish[]): Promise<PublishResult> {
    if (this.stopping) throw new Error('the event bus is stopping');
    const hub = this.hub(hubName);
    await hub.ready;
    const byPartition = new Map<
      number,
      Array<{ body: unknown; partitionKey: string | null; properties: Record<string, unknown> }>
    >();
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
        result.partitions[log.partitionId] = {
          first: stored[0]!.sequenceNumber,
          last: stored[stored.length - 1]!.sequenceNumber,
          count: stored.length,
        };
        // The owner reads it from the log: at once when that is this host.
        for (const c of this.consumers) if (c.hub === hubName) void this.read(c, log.partitionId);
      }),
    );
    return result;
  }

  private pump(c: Consumer, partitionId: string): void {
    const state = c.partitions.get(partitionId)!;
    if (state.running || this.stopping || state.queue.length === 0 || !state.owned) return;
    state.running = true;
    const run = (async () => {
      while (state.queue.length && !this.stopping && state.owned) {
        const batch = state.queue.splice(0, c.maxBatchSize);
        try {
          await c.handler(partitionId, batch);
        } catch (err) {
          if (err instanceof HostStoppingError) {
            // Not done: no checkpoint, so the batch is delivered again at the next start.
            state.queue.unshift(...batch);
            this.opts.log(
              'warn',
              `event hub "${c.hub}" consumer ${c.name} partition ${partitionId}: ${err.message}; not checkpointed`,
            );
            break;
          }
          // Like Azure: a failed invocation is not retried by the trigger (use a retry policy); the checkpoint moves on.
          this.opts.log(
            'error',
            `event hub "${c.hub}" consumer ${c.name} partition ${partitionId}: ${(err as Error).message}`,
          );
        }
        const last = batch[batch.length - 1]!;
        await this.checkpoints.set(c.hub, c.name, partitionId, last.sequenceNumber, last.offset).catch((err) => {
          this.opts.log('error', `checkpoint failed for ${c.name} partition ${partitionId}: ${(err as Error).message}`);
        });
      }
    })().finally(() => {
      state.running = false;
      this.inFlight.delete(run);
      if (state.queue.length && state.owned) this.pump(c, partitionId);
      else this.wakeIdle();
    });
    this.inFlight.add(run);
  }

  private wakeIdle(): void {
    if (this.inFlight.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Resolves when every event appended to this host's partitions so far has been handled and checkpointed (tests, graceful shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      while (this.inFlight.size > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      // Read once more: other hosts may have appended to partitions this host owns.
      await Promise.all(
        this.consumers.flatMap((c) => [...c.partitions].filter(([, s]) => s.owned).map(([pid]) => this.read(c, pid))),
      );
      if (this.inFlight.size === 0) return;
    }
  }

  /** Stop taking new batches; wait for the batches in flight to finish and checkpoint; give up ownership. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    await Promise.allSettled([...this.inFlight, ...this.consumers.map((c) => c.balancing)]);
    // Owner "" frees the partitions for the other hosts now, not after the expiry.
    await Promise.allSettled(
      this.consumers.flatMap((c) =>
        [...c.partitions]
          .filter(([, s]) => s.owned && s.record)
          .map(([pid, s]) =>
            this.ownership.claim(
              c.hub,
              c.name,
              { partitionId: pid, ...(s.record!.etag ? { etag: s.record!.etag } : {}) },
              '',
            ),
          ),
      ),
    );
  }
}
