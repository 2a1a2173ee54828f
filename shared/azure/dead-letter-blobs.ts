/**
 * Dead letters in Blob storage (the DeadLetterStore of features/ingest/dead-letter.ts): one
 * JSON-lines blob per batch in container `dead-letter` at `<source>/<yyyy-mm-dd>/<batchId>.jsonl`,
 * with its source and letter count in the blob's metadata, so counting reads no blob.
 */
import {
  deadLetterLines,
  deadLetterPath,
  parseDeadLetterLines,
  type DeadLetter,
  type DeadLetterRef,
  type DeadLetterStore,
} from '../features/ingest/dead-letter';
import type { Storage } from './storage';

export const DEAD_LETTER_CONTAINER = 'dead-letter';

export class DeadLetterBlobs implements DeadLetterStore {
  constructor(private readonly storage: Storage) {}

  async write(
    source: string,
    batchId: string,
    letters: DeadLetter[],
    at = new Date(),
  ): Promise<DeadLetterRef | undefined> {
    if (!letters.length) return undefined;
    const container = await this.storage.container(DEAD_LETTER_CONTAINER);
    const blobPath = deadLetterPath(source, batchId, at);
    const body = deadLetterLines(letters);
    await container.getBlockBlobClient(blobPath).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
      metadata: { source, count: String(letters.length) },
    });
    return { blobPath, count: letters.length };
  }

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

  async list(source: string, limit = 100): Promise<DeadLetter[]> {
    const container = await this.storage.container(DEAD_LETTER_CONTAINER);
    const blobs: Array<{ name: string; at: number }> = [];
    for await (const b of container.listBlobsFlat({ prefix: `${source}/` }))
      blobs.push({ name: b.name, at: b.properties.lastModified.getTime() });
    blobs.sort((a, b) => b.at - a.at);
    const out: DeadLetter[] = [];
    for (const b of blobs) {
      for (const letter of parseDeadLetterLines(
        (await container.getBlockBlobClient(b.name).downloadToBuffer()).toString('utf8'),
      )) {
        out.push(letter);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }
}
