/**
 * The online backlog's entries in an Azure Table (the BacklogStore of
 * features/ingest/online-backlog.ts). Table `onlinebacklog`: PartitionKey `batch`, RowKey = the
 * batch id, `segments` as JSON, `addedAt` epoch ms.
 */
import type { TableClient } from '@azure/data-tables';
import type { BacklogEntry, BacklogStore, SegmentRef } from '../features/ingest/online-backlog';
import { isNotFound } from './status';
import type { Storage } from './storage';

export const ONLINE_BACKLOG_TABLE = 'onlinebacklog';
const PK = 'batch';

export class OnlineBacklogTable implements BacklogStore {
  constructor(private readonly table: TableClient) {}

  static async open(storage: Storage, table = ONLINE_BACKLOG_TABLE): Promise<OnlineBacklogTable> {
    return new OnlineBacklogTable(await storage.table(table));
  }

  async put(entry: BacklogEntry): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: PK, rowKey: entry.key, segments: JSON.stringify(entry.segments), addedAt: entry.addedAt },
      'Replace',
    );
  }

  async all(): Promise<BacklogEntry[]> {
    const out: BacklogEntry[] = [];
    for await (const e of this.table.listEntities<{ segments: string; addedAt: number }>({
      queryOptions: { filter: `PartitionKey eq '${PK}'` },
    })) {
      out.push({ key: e.rowKey!, segments: JSON.parse(e.segments) as SegmentRef[], addedAt: e.addedAt });
    }
    return out;
  }

  async remove(key: string): Promise<void> {
    try {
      await this.table.deleteEntity(PK, key);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
