/**
 * Blob, Table and Queue clients from one storage connection string (Azurite locally,
 * a storage account in Azure). Containers, tables and queues are created on first use, once.
 */
import { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';

export class Storage {
  readonly blobs: BlobServiceClient;
  private readonly ensuredContainers = new Map<string, Promise<ContainerClient>>();
  private readonly ensuredTables = new Map<string, Promise<TableClient>>();
  private readonly ensuredQueues = new Map<string, Promise<QueueClient>>();
  private queueService: QueueServiceClient | undefined;

  constructor(readonly connectionString: string) {
    this.blobs = BlobServiceClient.fromConnectionString(connectionString);
  }

  get queues(): QueueServiceClient {
    return (this.queueService ??= QueueServiceClient.fromConnectionString(this.connectionString));
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
      const t = TableClient.fromConnectionString(this.connectionString, name, { allowInsecureConnection: true });
      return t.createTable().then(() => t);
    });
  }

  tableService(): TableServiceClient {
    return TableServiceClient.fromConnectionString(this.connectionString, { allowInsecureConnection: true });
  }
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
/** One Storage per connection string per process (clients hold sockets; share them). */
export function storageFor(connectionString: string): Storage {
  let s = byConnection.get(connectionString);
  if (!s) byConnection.set(connectionString, (s = new Storage(connectionString)));
  return s;
}
