/** The online backlog's entries in memory (the BacklogStore of features/ingest/online-backlog.ts). */
import type { BacklogEntry, BacklogStore } from '../features/ingest/online-backlog';
import { copyOf } from './copy';

export class MemoryBacklogStore implements BacklogStore {
  private readonly entries = new Map<string, BacklogEntry>();

  async put(entry: BacklogEntry): Promise<void> {
    this.entries.set(entry.key, copyOf(entry));
  }

  async all(): Promise<BacklogEntry[]> {
    return [...this.entries.values()].map(copyOf);
  }

  async remove(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
