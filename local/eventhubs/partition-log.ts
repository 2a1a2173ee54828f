/**
 * The durable log of one local Event Hub partition: append blobs in Azurite holding JSON
 * lines, one block per publish call. An event is acknowledged to its producer only after its
 * block is committed, so a host crash loses nothing that was accepted.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { DeliveredEvent } from './metadata';

/** Roll to a new segment well before Azure's 50,000-block limit for an append blob. */
const MAX_BLOCKS_PER_SEGMENT = 20_000;
const MAX_BLOCK_BYTES = 4 * 1024 * 1024;

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
  private segment: { name: string; blocks: number } | undefined;
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
    this.segment = { name: last.name, blocks: props.blobCommittedBlockCount ?? 0 };
  }

  /** Append events in order; resolves with them numbered once they are durable. */
  append(events: Array<{ body: unknown; partitionKey: string | null; properties: Record<string, unknown> }>): Promise<DeliveredEvent[]> {
    // On a failed append some blocks may be committed: re-read the log's end so numbering stays true.
    const run = this.chain.then(() => this.appendNow(events).catch(async (e) => {
      await this.open().catch(() => undefined);
      throw e;
    }));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async appendNow(events: Array<{ body: unknown; partitionKey: string | null; properties: Record<string, unknown> }>): Promise<DeliveredEvent[]> {
    const now = new Date().toISOString();
    let seq = this.nextSeq;
    let offset = this.nextOffset;
    const lines: string[] = [];
    const out: DeliveredEvent[] = [];
    for (const e of events) {
      const line: StoredLine = { s: seq, o: String(offset), t: now, k: e.partitionKey, p: e.properties, b: e.body };
      const text = JSON.stringify(line);
      lines.push(text);
      out.push({ sequenceNumber: seq, offset: String(offset), enqueuedTimeUtc: now, partitionKey: e.partitionKey, properties: e.properties, body: e.body });
      seq += 1;
      offset += Buffer.byteLength(text) + 1;
    }
    // Chunk into blocks; the counters move only after every block is committed.
    let chunk: string[] = [];
    let chunkBytes = 0;
    let chunkFirstSeq = this.nextSeq;
    const flush = async () => {
      if (!chunk.length) return;
      await this.appendBlock(chunk.join('\n') + '\n', chunkFirstSeq);
      chunkFirstSeq += chunk.length;
      chunk = [];
      chunkBytes = 0;
    };
    for (const l of lines) {
      const size = Buffer.byteLength(l) + 1;
      if (chunkBytes + size > MAX_BLOCK_BYTES && chunk.length) await flush();
      chunk.push(l);
      chunkBytes += size;
    }
    await flush();
    this.nextSeq = seq;
    this.nextOffset = offset;
    return out;
  }

  private async appendBlock(text: string, firstSeq: number): Promise<void> {
    if (!this.segment || this.segment.blocks >= MAX_BLOCKS_PER_SEGMENT) {
      const name = `${this.prefix}${pad(firstSeq)}.jsonl`;
      await this.container.getAppendBlobClient(name).createIfNotExists();
      this.segment = { name, blocks: 0 };
    }
    const data = Buffer.from(text);
    await this.container.getAppendBlobClient(this.segment.name).appendBlock(data, data.length);
    this.segment.blocks += 1;
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
        if (l.s > afterSeq) out.push({ sequenceNumber: l.s, offset: l.o, enqueuedTimeUtc: l.t, partitionKey: l.k, properties: l.p, body: l.b });
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
      if ((e as { statusCode?: number }).statusCode === 404) return -1;
      throw e;
    }
  }

  async set(hub: string, consumer: string, partitionId: string, sequenceNumber: number, offset: string): Promise<void> {
    const body = JSON.stringify({ sequenceNumber, offset, updated: new Date().toISOString() });
    await this.container.getBlockBlobClient(this.name(hub, consumer, partitionId)).upload(body, Buffer.byteLength(body));
  }
}
