/**
 * The dead-letter store: records that failed validation, with the reason and where they came
 * from, so nothing that arrived is silently dropped. One JSON-lines blob per ingested batch,
 * named by the batch's identity, so a redelivered batch overwrites its own dead letters
 * instead of duplicating them. A record nested deeper than any real event (a poison record of
 * thousands of levels) is kept down to MAX_KEPT_DEPTH levels, the rest replaced by a marker,
 * so writing, listing and serving it never overflows the stack; letters stored before are
 * capped the same way when listed.
 */
import type { Storage } from '../storage/clients';
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

export const DEAD_LETTER_CONTAINER = 'dead-letter';

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

export class DeadLetterStore {
  constructor(private readonly storage: Storage) {}

  /** Write one batch's rejects; `batchId` identifies the input (Event Hubs range or file hash). */
  async write(source: string, batchId: string, letters: DeadLetter[], at = new Date()): Promise<DeadLetterRef | undefined> {
    if (!letters.length) return undefined;
    const container = await this.storage.container(DEAD_LETTER_CONTAINER);
    const blobPath = `${source}/${at.toISOString().slice(0, 10)}/${batchId}.jsonl`;
    const body = letters.map((l) => cappedJson(l)).join('\n') + '\n';
    await container.getBlockBlobClient(blobPath).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
      metadata: { source, count: String(letters.length) },
    });
    return { blobPath, count: letters.length };
  }

  /** How many records of a source were dead-lettered on each day since `fromDay` (yyyy-mm-dd), from blob metadata only. */
  async countsByDay(source: string, fromDay: string): Promise<Record<string, number>> {
    const container = await this.storage.container(DEAD_LETTER_CONTAINER);
    const out: Record<string, number> = {};
    for await (const b of container.listBlobsFlat({ prefix: `${source}/`, includeMetadata: true })) {
      const day = b.name.slice(source.length + 1, source.length + 11);
      if (day < fromDay) continue;
      out[day] = (out[day] ?? 0) + Number(b.metadata?.count ?? 0);
    }
    return out;
  }

  /** The newest dead letters of a source (for GET /api/dead-letter/{source}). */
  async list(source: string, limit = 100): Promise<DeadLetter[]> {
    const container = await this.storage.container(DEAD_LETTER_CONTAINER);
    const blobs: Array<{ name: string; at: number }> = [];
    for await (const b of container.listBlobsFlat({ prefix: `${source}/` })) blobs.push({ name: b.name, at: b.properties.lastModified.getTime() });
    blobs.sort((a, b) => b.at - a.at);
    const out: DeadLetter[] = [];
    for (const b of blobs) {
      const text = (await container.getBlockBlobClient(b.name).downloadToBuffer()).toString('utf8');
      for (const line of text.split('\n')) {
        if (!line) continue;
        out.push(JSON.parse(cappedJson(JSON.parse(line))) as DeadLetter);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }
}
