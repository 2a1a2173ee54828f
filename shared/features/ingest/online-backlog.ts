/**
 * The online backlog: batches committed to the offline store while the online store (Redis)
 * was down, whose rows still have to reach it. Ingest never lets an online outage hold back or
 * lose the offline commit: when the online write of a batch fails, the batch's view segments
 * are recorded here (durably, before the batch-done marker), the batch is committed offline and
 * its invocation fails, so the trigger retries it with backoff and keeps the partition paused.
 * Each retry (and every later successful batch) replays the backlog from those segments:
 * newest-wins writes make a replay harmless, so it is at-least-once without care for order.
 *
 *   const backlog = new OnlineBacklog(store)   store: a BacklogStore (shared/azure/online-backlog-table.ts, shared/memory/)
 *   backlog.add(key, segments)   record a batch's view segments (idempotent per key)
 *   backlog.outstanding()        every entry (read from the store once per process, then kept)
 *   backlog.remove(key)          the entry's rows are online
 *
 * The store is empty unless an outage happened, so a process reads it once at its first batch
 * and never again.
 */

/** One committed segment of a view (the manifest's key). */
export interface SegmentRef {
  view: string;
  version: string;
  day: string;
  segmentId: string;
}

/** The refs of the segments one write of a view committed (what ingest reports, the backlog and the ledger keep). */
export function segmentRefs(
  view: { name: string; version: string },
  commits: ReadonlyArray<{ day: string; segmentId: string }>,
): SegmentRef[] {
  return commits.map((s) => ({ view: view.name, version: view.version, day: s.day, segmentId: s.segmentId }));
}

export interface BacklogEntry {
  key: string;
  segments: SegmentRef[];
  addedAt: number;
}

/** Where backlog entries are kept: put replaces an entry of the same key; remove of a missing key is a no-op. */
export interface BacklogStore {
  put(entry: BacklogEntry): Promise<void>;
  all(): Promise<BacklogEntry[]>;
  remove(key: string): Promise<void>;
}

export class OnlineBacklog {
  private loaded: Promise<Map<string, BacklogEntry>> | undefined;

  constructor(private readonly store: BacklogStore) {}

  async add(key: string, segments: SegmentRef[], at = Date.now()): Promise<void> {
    const entry: BacklogEntry = { key, segments, addedAt: at };
    await this.store.put(entry);
    (await this.entries()).set(key, entry);
  }

  async outstanding(): Promise<BacklogEntry[]> {
    return [...(await this.entries()).values()].sort((a, b) => a.addedAt - b.addedAt);
  }

  async remove(key: string): Promise<void> {
    await this.store.remove(key);
    (await this.entries()).delete(key);
  }

  private entries(): Promise<Map<string, BacklogEntry>> {
    if (!this.loaded) {
      this.loaded = this.store.all().then((entries) => new Map(entries.map((e) => [e.key, e])));
      this.loaded.catch(() => (this.loaded = undefined));
    }
    return this.loaded;
  }
}
