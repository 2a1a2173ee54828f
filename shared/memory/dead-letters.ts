/** Dead letters in memory (the DeadLetterStore of features/ingest/dead-letter.ts), stored as the same capped lines. */
import {
  deadLetterLines,
  deadLetterPath,
  parseDeadLetterLines,
  type DeadLetter,
  type DeadLetterRef,
  type DeadLetterStore,
} from '../features/ingest/dead-letter';

export class MemoryDeadLetterStore implements DeadLetterStore {
  /** Batch path -> its lines and when it was written (a rewrite moves it to the front, as a blob's last-modified does). */
  private readonly batches = new Map<
    string,
    { source: string; day: string; lines: string; count: number; seq: number }
  >();
  private seq = 0;

  async write(
    source: string,
    batchId: string,
    letters: DeadLetter[],
    at = new Date(),
  ): Promise<DeadLetterRef | undefined> {
    if (!letters.length) return undefined;
    const blobPath = deadLetterPath(source, batchId, at);
    this.batches.set(blobPath, {
      source,
      day: at.toISOString().slice(0, 10),
      lines: deadLetterLines(letters),
      count: letters.length,
      seq: ++this.seq,
    });
    return { blobPath, count: letters.length };
  }

  async countsByDay(source: string, fromDay: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const b of this.batches.values())
      if (b.source === source && b.day >= fromDay) out[b.day] = (out[b.day] ?? 0) + b.count;
    return out;
  }

  async list(source: string, limit = 100): Promise<DeadLetter[]> {
    const newest = [...this.batches.values()].filter((b) => b.source === source).sort((a, b) => b.seq - a.seq);
    return newest.flatMap((b) => parseDeadLetterLines(b.lines)).slice(0, limit);
  }
}
