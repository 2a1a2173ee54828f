/**
 * The online backlog: batches committed to the offline store while the online store (Redis)
 * was down, whose rows still have to reach it. Ingest never lets an online outage hold back or
 * lose the offline commit: when the online write of a batch fails, the batch's view segments
 * are recorded here (durably, before the batch-done marker), the batch is committed offline and
 * its invocation fails, so the trigger retries it with backoff and keeps the partition paused.
 * Each retry (and every later successful batch) replays the backlog from those segments:
 * newest-wins writes make a replay harmless, so it is at-least-once without care for order.
 *
 *   const backlog = await OnlineBacklog.open(storage)
 *   backlog.add(key, segments)   record a batch's view segments (idempotent per key)
 *   backlog.outstanding()        every entry (read from storage once per process, then kept)
 *   backlog.remove(key)          the entry's rows are online
 *
 * Table `onlinebacklog`: PartitionKey `batch`, RowKey = the batch id; empty unless an outage
 * happened, so a process reads it once at its first batch and never again.
 */
import type { TableClient } from '@azure/data-tables';
import type { Storage } from '../storage/clients';

export const ONLINE_BACKLOG_TABLE = 'onlinebacklog';
const PK = 'batch';

/** One committed segment of a view (the manifest's key). */
export interface SegmentRef {
  view: string;
  version: string;
  day: string;
  segmentId: string;
}

export interface BacklogEntry {
  key: string;
  segments: SegmentRef[];
  addedAt: number;
}

export class OnlineBacklog {
  private loaded: Promise<Map<string, BacklogEntry>> | undefined;

  constructor(private readonly table: TableClient) {}

  static async open(storage: Storage): Promise<OnlineBacklog> {
    return new OnlineBacklog(await storage.table(ONLINE_BACKLOG_TABLE));
  }

  async add(key: string, segments: SegmentRef[], at = Date.now()): Promise<void> {
    const entry: BacklogEntry = { key, segments, addedAt: at };
    await this.table.upsertEntity({ partitionKey: PK, rowKey: key, segments: JSON.stringify(segments), addedAt: at }, 'Replace');
    (await this.entries()).set(key, entry);
  }

  async outstanding(): Promise<BacklogEntry[]> {
    return [...(await this.entries()).values()].sort((a, b) => a.addedAt - b.addedAt);
  }

  async remove(key: string): Promise<void> {
    try {
      await this.table.deleteEntity(PK, key);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    (await this.entries()).delete(key);
  }

  private entries(): Promise<Map<string, BacklogEntry>> {
    if (!this.loaded) {
      this.loaded = (async () => {
        const out = new Map<string, BacklogEntry>();
        for await (const e of this.table.listEntities<{ segments: string; addedAt: number }>({ queryOptions: { filter: `PartitionKey eq '${PK}'` } })) {
          out.set(e.rowKey!, { key: e.rowKey!, segments: JSON.parse(e.segments) as SegmentRef[], addedAt: e.addedAt });
        }
        return out;
      })();
      this.loaded.catch(() => (this.loaded = undefined));
    }
    return this.loaded;
  }
}
