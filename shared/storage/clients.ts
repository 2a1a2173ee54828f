/**
 * Blob, Table and Queue clients from one storage connection string (Azurite locally,
 * a storage account in Azure). Containers, tables and queues are created on first use, once.
 *
 * Outages: the clients retry a failed request a few times within about two seconds, then give
 * up, so callers learn quickly and retry at their own level (ingest retries the batch with
 * backoff and keeps the partition paused; HTTP callers get 503). `storageUnavailable(err)`
 * tells such a failure (unreachable, or a 5xx from the service) and names the service.
 */
import { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { DependencyError } from '../errors';

const BLOB_RETRY = { maxTries: 4, retryDelayInMs: 250, maxRetryDelayInMs: 2000 };
const TABLE_RETRY = { maxRetries: 3, retryDelayInMs: 250, maxRetryDelayInMs: 2000 };

/** Endpoint URL prefixes of every Storage built in this process, to name the service that failed. */
const endpoints = new Map<string, 'Blob' | 'Table'>();

export class Storage {
  readonly blobs: BlobServiceClient;
  private readonly ensuredContainers = new Map<string, Promise<ContainerClient>>();
  private readonly ensuredTables = new Map<string, Promise<TableClient>>();
  private readonly ensuredQueues = new Map<string, Promise<QueueClient>>();
  private queueService: QueueServiceClient | undefined;

  constructor(readonly connectionString: string) {
    this.blobs = BlobServiceClient.fromConnectionString(connectionString, { retryOptions: BLOB_RETRY });
    endpoints.set(this.blobs.url.replace(/\/$/, ''), 'Blob');
    endpoints.set(this.tableService().url.replace(/\/$/, ''), 'Table');
  }

  get queues(): QueueServiceClient {
    return (this.queueService ??= QueueServiceClient.fromConnectionString(this.connectionString, { retryOptions: BLOB_RETRY }));
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
      const t = TableClient.fromConnectionString(this.connectionString, name, { allowInsecureConnection: true, retryOptions: TABLE_RETRY });
      return t.createTable().then(() => t);
    });
  }

  tableService(): TableServiceClient {
    return TableServiceClient.fromConnectionString(this.connectionString, { allowInsecureConnection: true, retryOptions: TABLE_RETRY });
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

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'REQUEST_SEND_ERROR']);

/**
 * A storage request that failed because the service is unreachable or failing (not because
 * of what was asked), as a DependencyError (503) naming Blob or Table storage; else undefined.
 */
export function storageUnavailable(err: unknown): DependencyError | undefined {
  if (err instanceof DependencyError) return err;
  const e = err as { name?: string; code?: string; statusCode?: number; message?: string; request?: { url?: string } } | null;
  if (!e || e.name !== 'RestError') return undefined;
  const down = e.statusCode === undefined ? NETWORK_CODES.has(String(e.code)) || /socket hang up|ECONNRE|timed? ?out/i.test(e.message ?? '') : e.statusCode >= 500;
  if (!down) return undefined;
  const url = e.request?.url ?? '';
  const hit = [...endpoints].find(([prefix]) => url.startsWith(prefix));
  const where = hit ? `${hit[1]} storage at ${hit[0]}` : `storage${url ? ` at ${new URL(url).origin}` : ''}`;
  const why = e.statusCode !== undefined ? `answered ${e.statusCode}` : `is unreachable (${(e.message ?? e.code ?? '').split('\n')[0]})`;
  return new DependencyError(`${where} ${why}; retry when it is back`);
}
