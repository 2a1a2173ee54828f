/**
 * The dead-letter store: records that failed validation, with the reason and where they came
 * from, so nothing that arrived is silently dropped. One entry per ingested batch (its letters
 * in order), named by the batch's identity (ingest/batch-id.ts), so a redelivered batch
 * overwrites its own dead letters instead of duplicating them. The DeadLetterStore contract is
 * kept by shared/azure/dead-letter-blobs.ts (one JSON-lines blob per batch) and shared/memory/. A record nested deeper than any real event (a poison record of
 * thousands of levels) is kept down to MAX_KEPT_DEPTH levels, the rest replaced by a marker,
 * so writing, listing and serving it never overflows the stack; letters stored before are
 * capped the same way when listed.
 */
import { MAX_RECORD_DEPTH } from './validate';

/** Levels of a record kept in a dead letter (deeper values become a marker string). */
export const MAX_KEPT_DEPTH = MAX_RECORD_DEPTH;

/** JSON text of a value with everything below `maxDepth` levels replaced; stringify never recurses deeper. */
export function cappedJson(value: unknown, maxDepth = MAX_KEPT_DEPTH + 2): string {
  const depthOf = new WeakMap<object, number>();
  return JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (v === null || typeof v !== 'object') return v;
    const parent = this !== null && typeof this === 'object' ? depthOf.get(this) : undefined;
    const depth = parent === undefined ? 0 : parent + 1;
    if (depth >= maxDepth) return `[nested deeper than ${MAX_KEPT_DEPTH} levels: not kept]`;
    depthOf.set(v, depth);
    return v;
  });
}

export interface DeadLetter {
  source: string;
  /** The record as received (or its raw text when it could not be parsed). */
  record: unknown;
  reason: string;
  /** Where in the input: "partition 2, sequence 1234", "file clicks.csv line 17". */
  position: string;
  receivedAt: string;
}

export interface DeadLetterRef {
  blobPath: string;
  count: number;
}

/**
 * Where dead letters are kept.
 *   write(source, batchId, letters, at)   store one batch's rejects (replacing that batch's earlier ones); undefined when there are none
 *   countsByDay(source, fromDay)          how many letters of a source each day (yyyy-mm-dd, by `at`) since fromDay
 *   list(source, limit)                   the newest batches' letters first, each batch's in order, at most limit
 * Letters are stored as cappedJson gives them, and listed capped again (letters stored before the cap existed).
 */
export interface DeadLetterStore {
  write(source: string, batchId: string, letters: DeadLetter[], at?: Date): Promise<DeadLetterRef | undefined>;
  countsByDay(source: string, fromDay: string): Promise<Record<string, number>>;
  list(source: string, limit?: number): Promise<DeadLetter[]>;
}

/** Where a batch's letters are: `<source>/<yyyy-mm-dd>/<batchId>.jsonl` (the blob path on Azure, the key in memory). */
export function deadLetterPath(source: string, batchId: string, at: Date): string {
  return `${source}/${at.toISOString().slice(0, 10)}/${batchId}.jsonl`;
}

/** A batch's letters as stored: one capped JSON text per line. */
export function deadLetterLines(letters: readonly DeadLetter[]): string {
  return letters.map((l) => cappedJson(l)).join('\n') + '\n';
}

/** The letters of a stored batch, each capped again. */
export function parseDeadLetterLines(text: string): DeadLetter[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(cappedJson(JSON.parse(line))) as DeadLetter);
}
