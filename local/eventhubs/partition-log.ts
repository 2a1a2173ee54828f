/**
 * The durable log of one local Event Hub partition: append blobs in Azurite holding JSON
 * lines, one block per publish call. An event is acknowledged to its producer only after its
 * block is committed, so a host crash loses nothing that was accepted.
 *
 * Several hosts append to one log (they share the storage account): each block is appended at
 * the position this process believes is the end (the append-position condition), so a block
 * another host appended first makes the write fail instead of numbering two events alike; the
 * process then reads the log's end again and numbers the block anew. Owners of the partition
 * follow the log with a cursor (`readNew`): each read fetches only the bytes after it.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { DeliveredEvent } from './metadata';
import { isNotFound, statusOf } from '../../shared/azure/status';

/** Roll to a new segment well before Azure's 50,000-block limit for an append blob. */
const MAX_BLOCKS_PER_SEGMENT = 20_000;
const MAX_BLOCK_BYTES = 4 * 1024 * 1024;
const MAX_APPEND_ATTEMPTS = 20;
const SEGMENT_LIST_INTERVAL_MS = 1000;

/** Where an owner is in a partition's log: a segment and a byte position in it. */
export interface LogCursor {
  segment: string;
  position: number;
  listedAt: number;
}

function isPositionConflict(e: unknown): boolean {
  return statusOf(e) === 412 || (e as { code?: string }).code === 'AppendPositionConditionNotMet';
}

interface StoredLine {
  s: number;
  o: string;
  t: string;
  k: string | null;
  p: Record<string, unknown>;
  b: unknown;
}

const pad = (n: number) => String(n).padStart(20, '0');

export class PartitionLog {
  private nextSeq = 0;
  private nextOffset = 0;
  private segment: { name: string; blocks: number; bytes: number } | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly container: ContainerClient,
    readonly hub: string,
    readonly partitionId: string,
  ) {}

  private get prefix(): string {
    return `log/${this.hub}/${this.partitionId}/`;
  }

  /** Read the log's end so numbering continues after a restart. */
  async open(): Promise<void> {
    const segments = await this.segments();
    const last = segments[segments.length - 1];
    if (!last) return;
    const lines = await this.readSegment(last.name);
    const tail = lines[lines.length - 1];
    if (tail) {
      this.nextSeq = tail.s + 1;
      this.nextOffset = Number(tail.o) + Buffer.byteLength(JSON.stringify(tail)) + 1;
    } else {
      this.nextSeq = last.firstSeq;
    }
    const props = await this.container.getAppendBlobClient(last.name).getProperties();
    this.segment = { name: last.name, blocks: props.blobCommittedBlockCount ?? 0, bytes: props.contentLength ?? 0 };
  }

  /** Append events in order; resolves with them numbered once they are durable. */
  append(
    events: Array<{ body: unknown; partitionKey: string | null; properties: Record<string, unknown> }>,
  ): Promise<DeliveredEvent[]> {
    // On a failed append some blocks may be committed: re-read the log's end so numbering stays true.
    const run = this.chain.then(() =>
      this.appendNow(events).catch(async (e) => {
        await this.open().catch(() => undefined);
        throw e;
      }),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async appendNow(
    events: Array<{ body: unknown; partitionKey: string | null; properties: Record<string, unknown> }>,
  ): Promise<DeliveredEvent[]> {
    const out: DeliveredEvent[] = [];
    let rest = events;
    for (let conflicts = 0; rest.length;) {
      // As many events as fit one block, numbered from the end this process knows.
      const now = new Date().toISOString();
      const lines: string[] = [];
      const numbered: DeliveredEvent[] = [];
      let seq = this.nextSeq;
      let offset = this.nextOffset;
      let bytes = 0;
      for (const e of rest) {
        const text = JSON.stringify({
          s: seq,
          o: String(offset),
          t: now,
          k: e.partitionKey,
          p: e.properties,
          b: e.body,
        } satisfies StoredLine);
        const size = Buffer.byteLength(text) + 1;
        if (bytes + size > MAX_BLOCK_BYTES && lines.length) break;
        lines.push(text);
        numbered.push({
          sequenceNumber: seq,
          offset: String(offset),
          enqueuedTimeUtc: now,
          partitionKey: e.partitionKey,
          properties: e.properties,
          body: e.body,
        });
        seq += 1;
        offset += size;
        bytes += size;
      }
      try {
        await this.appendBlock(lines.join('\n') + '\n', this.nextSeq);
      } catch (e) {
        // Another host appended first (or rolled the segment): read the end again and renumber.
        if (!isPositionConflict(e) || ++conflicts >= MAX_APPEND_ATTEMPTS) throw e;
        await this.open();
        continue;
      }
      this.nextSeq = seq;
      this.nextOffset = offset;
      out.push(...numbered);
      rest = rest.slice(lines.length);
    }
    return out;
  }

  private async appendBlock(text: string, firstSeq: number): Promise<void> {
    if (!this.segment || this.segment.blocks >= MAX_BLOCKS_PER_SEGMENT) {
      const name = `${this.prefix}${pad(firstSeq)}.jsonl`;
      await this.container.getAppendBlobClient(name).createIfNotExists();
      this.segment = { name, blocks: 0, bytes: 0 };
    }
    const data = Buffer.from(text);
    await this.container
      .getAppendBlobClient(this.segment.name)
      .appendBlock(data, data.length, { conditions: { appendPosition: this.segment.bytes } });
    this.segment.blocks += 1;
    this.segment.bytes += data.length;
  }

  /**
   * Events after `afterSeq` appended since `cursor` (by any host): what an owner of the partition
   * reads to follow it. Pass the returned cursor to the next call.
   */
  async readNew(
    afterSeq: number,
    cursor?: LogCursor,
  ): Promise<{ events: DeliveredEvent[]; cursor: LogCursor | undefined }> {
    let at = cursor;
    if (!at) {
      const segs = await this.segments();
      let start: { name: string; firstSeq: number } | undefined;
      for (const seg of segs) if (seg.firstSeq <= afterSeq + 1) start = seg;
      start ??= segs[0];
      if (!start) return { events: [], cursor: undefined };
      at = { segment: start.name, position: 0, listedAt: Date.now() };
    }
    const events: DeliveredEvent[] = [];
    for (;;) {
      let buf: Buffer;
      try {
        buf = await this.container.getAppendBlobClient(at.segment).downloadToBuffer(at.position);
      } catch (e) {
        if (statusOf(e) !== 416) throw e;
        buf = Buffer.alloc(0); // nothing after the position
      }
      const end = buf.lastIndexOf(0x0a) + 1; // whole lines only: a block being appended may be half read
      for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (!line) continue;
        const l = JSON.parse(line) as StoredLine;
        if (l.s > afterSeq)
          events.push({
            sequenceNumber: l.s,
            offset: l.o,
            enqueuedTimeUtc: l.t,
            partitionKey: l.k,
            properties: l.p,
            body: l.b,
          });
      }
      at = { ...at, position: at.position + end };
      if (end > 0) continue;
      // At the end of this segment: a later one may have been started (by any host). Look now and then.
      if (Date.now() - at.listedAt < SEGMENT_LIST_INTERVAL_MS) break;
      const next = (await this.segments()).find((seg) => seg.name > at!.segment);
      at = next ? { segment: next.name, position: 0, listedAt: Date.now() } : { ...at, listedAt: Date.now() };
      if (!next) break;
    }
    return { events, cursor: at };
  }

  private async segments(): Promise<Array<{ name: string; firstSeq: number }>> {
    const out: Array<{ name: string; firstSeq: number }> = [];
    for await (const b of this.container.listBlobsFlat({ prefix: this.prefix })) {
      const m = /(\d{20})\.jsonl$/.exec(b.name);
      if (m) out.push({ name: b.name, firstSeq: Number(m[1]) });
    }
    return out.sort((a, b) => a.firstSeq - b.firstSeq);
  }

  private async readSegment(name: string): Promise<StoredLine[]> {
    const buf = await this.container.getAppendBlobClient(name).downloadToBuffer();
    const text = buf.toString('utf8');
    const out: StoredLine[] = [];
    for (const line of text.split('\n')) if (line) out.push(JSON.parse(line) as StoredLine);
    return out;
  }

  /** Every stored event with a sequence number above `afterSeq` (redelivery after a restart). */
  async readAfter(afterSeq: number): Promise<DeliveredEvent[]> {
    const segs = await this.segments();
    let start = 0;
    for (let i = 0; i < segs.length; i++) if (segs[i]!.firstSeq <= afterSeq + 1) start = i;
    const out: DeliveredEvent[] = [];
    for (const s of segs.slice(start)) {
      for (const l of await this.readSegment(s.name)) {
        if (l.s > afterSeq)
          out.push({
            sequenceNumber: l.s,
            offset: l.o,
            enqueuedTimeUtc: l.t,
            partitionKey: l.k,
            properties: l.p,
            body: l.b,
          });
      }
    }
    return out;
  }

  get lastSequenceNumber(): number {
    return this.nextSeq - 1;
  }
}

/** Per consumer and partition, the last sequence number handled (like Azure's blob checkpoint store). */
export class CheckpointStore {
  constructor(private readonly container: ContainerClient) {}

  private name(hub: string, consumer: string, partitionId: string): string {
    return `checkpoints/${hub}/${encodeURIComponent(consumer)}/${partitionId}.json`;
  }

  async get(hub: string, consumer: string, partitionId: string): Promise<number> {
    try {
      const buf = await this.container.getBlockBlobClient(this.name(hub, consumer, partitionId)).downloadToBuffer();
      return (JSON.parse(buf.toString('utf8')) as { sequenceNumber: number }).sequenceNumber;
    } catch (e) {
      if (isNotFound(e)) return -1;
      throw e;
    }
  }

  /**
   * Move the checkpoint forward to `sequenceNumber`; never back (a host that lost the partition
   * finishing its last batch must not send the new owner back). ETag-guarded against a
   * concurrent writer.
   */
  async set(hub: string, consumer: string, partitionId: string, sequenceNumber: number, offset: string): Promise<void> {
    const blob = this.container.getBlockBlobClient(this.name(hub, consumer, partitionId));
    const body = JSON.stringify({ sequenceNumber, offset, updated: new Date().toISOString() });
    for (let attempt = 1; ; attempt++) {
      let etag: string | undefined;
      try {
        const r = await blob.download();
        etag = r.etag;
        const stored = JSON.parse((await streamText(r.readableStreamBody)) || '{}') as { sequenceNumber?: number };
        if ((stored.sequenceNumber ?? -1) >= sequenceNumber) return;
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
      try {
        await blob.upload(body, Buffer.byteLength(body), {
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
        });
        return;
      } catch (e) {
        const status = statusOf(e);
        if ((status !== 412 && status !== 409) || attempt >= 5) throw e;
      }
    }
  }
}

async function streamText(body: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
