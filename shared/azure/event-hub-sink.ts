/**
 * Sending JSON events to an Event Hub from inside the core, where no output binding can
 * help: the prediction log is written from the predict path, off the response, in batches
 * PredictionLog forms (it also retries with backoff and bounds its buffer, so a sink makes
 * one attempt per call and throws on failure).
 *
 *   eventHubSinkFor(hub, { connection, localHostUrl, adminKey }) -> EventHubSink | undefined
 *     connection is an Azure namespace (a connection string Endpoint=sb://<ns>.servicebus.windows.net/...,
 *          or EVENTHUB_CONNECTION__fullyQualifiedNamespace with a managed identity) -> Event Hubs
 *     else the app runs on Strata's local host (it says so in STRATA_LOCAL_HOST_URL) -> its local
 *          bus, POST <url>/api/_local/eventhubs/<hub> with the admin key
 *     else connection is the Event Hubs emulator's (UseDevelopmentEmulator=true) -> the emulator,
 *          as under `func start` with the emulator running
 *     else undefined: nowhere to send (the caller says so once)
 *
 * The local host is told apart explicitly, never by a loopback WEBSITE_HOSTNAME: `func start`
 * sets that to localhost:7071 too, and has no local bus.
 *
 * Each element of `send(events)` becomes one event whose body is the element as JSON, the
 * shape the Event Hubs trigger hands an ingest function. With `partitionKeyField`, each
 * event's partition key is that field of its body (`user_id`: one entity's events stay in one
 * partition, in order): on Event Hubs through the buffered producer, which maps keys to
 * partitions as the service does and batches per partition; on the local bus as its
 * `partitionKeyField` parameter. (`strata produce` sends this way.)
 *
 * Connections are resolved by shared/azure/connections.ts (a plain string is a connection
 * string); the producers come from shared/azure/client-factory.ts.
 */
import type { EventHubBufferedProducerClient, EventHubProducerClient, EventDataBatch } from '@azure/event-hubs';
import { DependencyError } from '../errors';
import { isEventHubsEmulator, type EventHubConnection } from '../azure/connections';
import { eventHubBufferedProducer, eventHubProducer } from '../azure/client-factory';

export interface EventHubSink<T = unknown> {
  /** Where events go, for logs ("event hub predictions (Azure)"). */
  readonly target: string;
  send(events: T[]): Promise<void>;
  close(): Promise<void>;
}

export interface EventHubSinkOptions {
  /** EVENTHUB_CONNECTION (config().eventHub), or a connection string. */
  connection?: EventHubConnection | string | undefined;
  /** localHostUrl() (shared/config): set when the app runs on Strata's local host. */
  localHostUrl?: string | undefined;
  /** The key the local bus endpoint requires (STRATA_ADMIN_KEY). */
  adminKey: string;
  /** Called for an event larger than the hub's largest batch: it is skipped, not retried forever. */
  onOversize?: (bytes: number) => void;
  /** Per request to the local bus (default 10 s). */
  timeoutMs?: number;
  /** A field of each event body holding its partition key. */
  partitionKeyField?: string;
}

/** A connection string as a connection (undefined when it is not an Event Hubs one); a connection as it is. */
export function asEventHubConnection(c: EventHubConnection | string | undefined): EventHubConnection | undefined {
  if (typeof c !== 'string') return c;
  if (!/Endpoint=sb:\/\//i.test(c)) return undefined;
  return {
    kind: 'connectionString',
    setting: 'EVENTHUB_CONNECTION',
    connectionString: c,
    emulator: isEventHubsEmulator(c),
  };
}

/**
 * What an Event Hubs connection points at: nothing, the Event Hubs emulator (its documented
 * string carries UseDevelopmentEmulator=true), or an Azure namespace (a key or an identity).
 */
export function eventHubConnectionKind(c: EventHubConnection | string | undefined): 'none' | 'emulator' | 'azure' {
  const conn = asEventHubConnection(c);
  if (!conn) return 'none';
  return conn.kind === 'connectionString' && conn.emulator ? 'emulator' : 'azure';
}

/** An Azure Event Hubs namespace (not the emulator, which the local host stands in for). */
export function isRealEventHubConnection(c: EventHubConnection | string | undefined): c is EventHubConnection | string {
  return eventHubConnectionKind(c) === 'azure';
}

export function eventHubSinkFor<T>(hub: string, o: EventHubSinkOptions): EventHubSink<T> | undefined {
  const conn = asEventHubConnection(o.connection);
  const kind = eventHubConnectionKind(conn);
  const toEventHubs = (): EventHubSink<T> =>
    o.partitionKeyField
      ? new PartitionedEventHubSink<T>(conn!, hub, o.partitionKeyField)
      : new AzureEventHubSink<T>(conn!, hub, o.onOversize);
  if (kind === 'azure') return toEventHubs();
  if (o.localHostUrl) return new LocalBusSink<T>(o.localHostUrl, hub, o.adminKey, o.timeoutMs, o.partitionKeyField);
  if (kind === 'emulator') return toEventHubs();
  return undefined;
}

function required(c: EventHubConnection | string): EventHubConnection {
  const conn = asEventHubConnection(c);
  if (!conn) throw new Error('not an Event Hubs connection string (Endpoint=sb://...)');
  return conn;
}

/** Event Hubs itself: events packed into as few batches as the hub's size limit allows. */
export class AzureEventHubSink<T> implements EventHubSink<T> {
  readonly target: string;
  private readonly producer: EventHubProducerClient;

  constructor(
    connection: EventHubConnection | string,
    private readonly hub: string,
    private readonly onOversize?: (bytes: number) => void,
  ) {
    const conn = required(connection);
    this.producer = eventHubProducer(conn, hub);
    this.target = `event hub ${hub} (${eventHubConnectionKind(conn) === 'emulator' ? 'Event Hubs emulator' : conn.kind === 'identity' ? `Azure ${conn.fullyQualifiedNamespace}, managed identity` : 'Azure'})`;
  }

  async send(events: T[]): Promise<void> {
    try {
      let batch: EventDataBatch = await this.producer.createBatch();
      for (const body of events) {
        if (batch.tryAdd({ body })) continue;
        if (batch.count === 0) {
          this.onOversize?.(Buffer.byteLength(JSON.stringify(body)));
          continue;
        }
        await this.producer.sendBatch(batch);
        batch = await this.producer.createBatch();
        if (!batch.tryAdd({ body })) this.onOversize?.(Buffer.byteLength(JSON.stringify(body)));
      }
      if (batch.count > 0) await this.producer.sendBatch(batch);
    } catch (e) {
      throw new DependencyError(`could not send ${events.length} event(s) to ${this.target}: ${(e as Error).message}`);
    }
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

/**
 * Event Hubs with a partition key per event (a field of its body). One attempt per call, as
 * the contract asks: the buffered producer's own retries apply, and any event it reports
 * unsent during the call makes the call throw. Calls run one after another.
 */
export class PartitionedEventHubSink<T> implements EventHubSink<T> {
  readonly target: string;
  private readonly producer: EventHubBufferedProducerClient;
  private failures: Error[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    connection: EventHubConnection | string,
    hub: string,
    private readonly partitionKeyField: string,
  ) {
    this.producer = eventHubBufferedProducer(required(connection), hub, {
      onSendEventsErrorHandler: (ctx) => this.failures.push(...ctx.events.map(() => ctx.error)),
    });
    this.target = `event hub ${hub} (Azure, partition key ${partitionKeyField})`;
  }

  send(events: T[]): Promise<void> {
    const run = this.queue.then(() => this.sendNow(events));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sendNow(events: T[]): Promise<void> {
    this.failures = [];
    try {
      for (const body of events) {
        const key = (body as Record<string, unknown>)[this.partitionKeyField];
        await this.producer.enqueueEvent(
          { body },
          key === undefined || key === null ? {} : { partitionKey: String(key) },
        );
      }
      await this.producer.flush();
    } catch (e) {
      throw new DependencyError(`could not send ${events.length} event(s) to ${this.target}: ${(e as Error).message}`);
    }
    if (this.failures.length) {
      throw new DependencyError(
        `${this.failures.length} of ${events.length} event(s) were not sent to ${this.target}: ${this.failures[0]!.message}`,
      );
    }
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

/** The local host's event bus, through its publish endpoint: one POST per call. */
export class LocalBusSink<T> implements EventHubSink<T> {
  readonly target: string;
  private readonly url: string;

  constructor(
    hostUrl: string,
    hub: string,
    private readonly adminKey: string,
    private readonly timeoutMs = 10_000,
    partitionKeyField?: string,
  ) {
    const base = hostUrl.replace(/\/+$/, '');
    this.url = `${base}/api/_local/eventhubs/${encodeURIComponent(hub)}${partitionKeyField ? `?partitionKeyField=${encodeURIComponent(partitionKeyField)}` : ''}`;
    this.target = `event hub ${hub} (local bus at ${base})`;
  }

  async send(events: T[]): Promise<void> {
    if (!events.length) return;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-functions-key': this.adminKey },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new DependencyError(`could not send ${events.length} event(s) to ${this.target}: ${(e as Error).message}`);
    }
    if (res.status !== 202) {
      const text = await res.text().catch(() => '');
      throw new DependencyError(
        `${this.target} refused ${events.length} event(s): HTTP ${res.status} ${text.slice(0, 300)}`,
      );
    }
    await res.arrayBuffer().catch(() => undefined);
  }

  async close(): Promise<void> {}
}
