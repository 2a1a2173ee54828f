/**
 * Blob, Table and Queue clients on one storage connection (shared/azure/connections.ts: a
 * connection string, Azurite locally, or a storage account reached with a managed identity);
 * the clients come from shared/azure/client-factory.ts. A plain string is a connection string.
 * Containers, tables and queues are created on first use, once.
 *
 * Outages: the clients retry a failed request a few times within about two seconds, then give
 * up, so callers learn quickly and retry at their own level (ingest retries the batch with
 * backoff and keeps the partition paused; HTTP callers get 503). `storageUnavailable(err)`
 * (status.ts) tells such a failure and names the service by the endpoints registered here.
 */
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { TableClient, TableServiceClient } from '@azure/data-tables';
import type { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { isLocalStorageConnectionString, storageKey, type StorageConnection } from './connections';
import { blobServiceClient, queueServiceClient, tableClient, tableServiceClient } from './client-factory';
import { registerEndpoint } from './status';

const BLOB_RETRY = { maxTries: 4, retryDelayInMs: 250, maxRetryDelayInMs: 2000 };
const TABLE_RETRY = { maxRetries: 3, retryDelayInMs: 250, maxRetryDelayInMs: 2000 };

export class Storage {
  readonly blobs: BlobServiceClient;
  private readonly ensuredContainers = new Map<string, Promise<ContainerClient>>();
  private readonly ensuredTables = new Map<string, Promise<TableClient>>();
  private readonly ensuredQueues = new Map<string, Promise<QueueClient>>();
  private queueService: QueueServiceClient | undefined;

  readonly connection: StorageConnection;

  constructor(connection: StorageConnection | string) {
    this.connection = asConnection(connection);
    this.blobs = blobServiceClient(this.connection, { retryOptions: BLOB_RETRY });
    registerEndpoint(this.blobs.url, 'Blob');
    registerEndpoint(this.tableService().url, 'Table');
  }

  get queues(): QueueServiceClient {
    return (this.queueService ??= queueServiceClient(this.connection, { retryOptions: BLOB_RETRY }));
  }

  /** A queue client; the queue exists when the promise resolves. */
  queue(name: string): Promise<QueueClient> {
    return once(this.ensuredQueues, name, () => {
      const q = this.queues.getQueueClient(name);
      return q.createIfNotExists().then(() => q);
    });
  }

  /** A container client; the container exists when the promise resolves. */
  container(name: string): Promise<ContainerClient> {
    return once(this.ensuredContainers, name, () => {
      const c = this.blobs.getContainerClient(name);
      return c.createIfNotExists().then(() => c);
    });
  }

  /** A table client; the table exists when the promise resolves. */
  table(name: string): Promise<TableClient> {
    return once(this.ensuredTables, name, () => {
      const t = tableClient(this.connection, name, { retryOptions: TABLE_RETRY });
      return t.createTable().then(() => t);
    });
  }

  /** Several tables at once (a store over more than one), in the order named. */
  tables<const N extends readonly string[]>(...names: N): Promise<{ -readonly [K in keyof N]: TableClient }> {
    return Promise.all(names.map((n) => this.table(n))) as Promise<{ -readonly [K in keyof N]: TableClient }>;
  }

  tableService(): TableServiceClient {
    return tableServiceClient(this.connection, { retryOptions: TABLE_RETRY });
  }
}

/** A connection string as a connection; a resolved connection as it is. */
export function asConnection(c: StorageConnection | string): StorageConnection {
  return typeof c === 'string'
    ? {
        kind: 'connectionString',
        setting: 'AzureWebJobsStorage',
        connectionString: c,
        local: isLocalStorageConnectionString(c),
      }
    : c;
}

/** Create a resource once per name; a failed creation is forgotten so the next call tries again. */
function once<T>(cache: Map<string, Promise<T>>, name: string, create: () => Promise<T>): Promise<T> {
  let p = cache.get(name);
  if (!p) {
    p = create();
    p.catch(() => cache.delete(name));
    cache.set(name, p);
  }
  return p;
}

const byConnection = new Map<string, Storage>();
/** One Storage per connection per process (clients hold sockets; share them). */
export function storageFor(connection: StorageConnection | string): Storage {
  const key = storageKey(connection);
  let s = byConnection.get(key);
  if (!s) byConnection.set(key, (s = new Storage(connection)));
  return s;
}
