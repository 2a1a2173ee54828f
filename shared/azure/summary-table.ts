/**
 * The SummaryStore of monitoring/store-summaries.ts on Table storage (table `storesummaries`):
 * PartitionKey = view (encoded), RowKey = day (yyyy-mm-dd, so a range of days is a RowKey
 * range in order); the summary is JSON in body parts (table-json.ts), its status a column.
 */
import { odata, type TableClient } from '@azure/data-tables';
import type { Storage } from './storage';
import type { StoredSummary, SummaryStore } from '../monitoring/store-summaries';
import { isNotFound, jsonFromProperties, jsonProperties, keyPart } from './table-json';

export const SUMMARIES_TABLE = 'storesummaries';

export class TableSummaryStore implements SummaryStore {
  private constructor(private readonly table: TableClient) {}
  static async open(storage: Storage): Promise<TableSummaryStore> {
    return new TableSummaryStore(await storage.table(SUMMARIES_TABLE));
  }

  async get(view: string, day: string): Promise<StoredSummary | undefined> {
    try {
      return jsonFromProperties<StoredSummary>(await this.table.getEntity(keyPart(view), day));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async put(s: StoredSummary): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: keyPart(s.view), rowKey: s.day, status: s.score.status, ...jsonProperties(s) },
      'Replace',
    );
  }

  async list(view: string, r: { fromDay?: string; toDay?: string } = {}): Promise<StoredSummary[]> {
    const filter = odata`PartitionKey eq ${keyPart(view)} and RowKey ge ${r.fromDay ?? ''} and RowKey lt ${r.toDay ?? '~'}`;
    const out: StoredSummary[] = [];
    for await (const e of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }))
      out.push(jsonFromProperties<StoredSummary>(e));
    return out;
  }
}
