/**
 * Blob and Table clients from one storage connection string (Azurite locally,
 * a storage account in Azure). Containers and tables are created on first use, once.
 */
import { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { TableClient, TableServiceClient } from '@azure/data-tables';

export class Storage {
  readonly blobs: BlobServiceClient;
  private readonly ensuredContainers = new Map<string, Promise<ContainerClient>>();
  private readonly ensuredTables = new Map<string, Promise<TableClient>>();

  constructor(readonly connectionString: string) {
    this.blobs = BlobServiceClient.fromConnectionString(connectionString);
  }

  /** A container client; the container exists when the promise resolves. */
  container(name: string): Promise<ContainerClient> {
    let p = this.ensuredContainers.get(name);
    if (!p) {
      const c = this.blobs.getContainerClient(name);
      p = c.createIfNotExists().then(() => c);
      p.catch(() => this.ensuredContainers.delete(name));
      this.ensuredContainers.set(name, p);
    }
    return p;
  }

  /** A table client; the table exists when the promise resolves. */
  table(name: string): Promise<TableClient> {
    let p = this.ensuredTables.get(name);
    if (!p) {
      const t = TableClient.fromConnectionString(this.connectionString, name, { allowInsecureConnection: true });
      p = t.createTable().then(() => t);
      p.catch(() => this.ensuredTables.delete(name));
      this.ensuredTables.set(name, p);
    }
    return p;
  }

  tableService(): TableServiceClient {
    return TableServiceClient.fromConnectionString(this.connectionString, { allowInsecureConnection: true });
  }
}

const byConnection = new Map<string, Storage>();
/** One Storage per connection string per process (clients hold sockets; share them). */
export function storageFor(connectionString: string): Storage {
  let s = byConnection.get(connectionString);
  if (!s) byConnection.set(connectionString, (s = new Storage(connectionString)));
  return s;
}
