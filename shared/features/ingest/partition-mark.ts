/**
 * A partition's committed mark: the last sequence number of a (source, partition) whose batch is
 * committed offline, by any instance. It is kept in the state of the partition's ingest lease
 * (lease.ts), so a batch learns it with one read under the lease however long the partition's
 * history is (scanning the source's segment lineage per batch grew with every batch committed).
 *
 *   const mark = await PartitionMark.read(lease, { scan, isCommitted })
 *   mark.seq                         the last committed sequence number (-1: none)
 *   await mark.intend(batch, days)   before the batch's source segment commits (its batch-done marker)
 *   await mark.committed(batch)      after it committed
 *
 * The mark never claims more than is committed, and a kill -9 anywhere never makes it forget a
 * commit: a batch is written down as pending (its bounds and the days of its source segment)
 * before its source segment commits, and joins `seq` only after. A holder killed between its
 * commit and the second write leaves the batch pending; the next reader looks its source segment
 * up (one manifest read per day, whatever compaction did since) and counts it if it is there,
 * else keeps it pending (a holder that lost the lease may still commit it). Writes go under the
 * lease (they name its id), so a holder that lost it cannot move the mark, and `seq` only grows.
 * A partition without a mark (ingested before marks existed) is read from `scan` (the lineage
 * scan) once; the batch's first write records it. An instance of a version before marks, running
 * beside this one during a deployment, takes the same lease but does not move the mark: its
 * batches are known to the mark only once a redelivery of the same bounds finds them committed.
 */
import type { HeldLease } from '../../azure/lease';
import type { SegmentInput } from '../offline/types';
import type { OfflineStore } from '../offline/store';

export type EventHubBatch = Extract<SegmentInput, { kind: 'eventhub' }>;

interface PendingBatch {
  batch: EventHubBatch;
  /** The event days of its source segment (one segment per day). */
  days: string[];
}

interface MarkState {
  seq: number;
  pending: PendingBatch[];
}

export interface MarkSources {
  /** The partition's last committed sequence number from the segments' lineage (no mark yet). */
  scan: () => Promise<number>;
  /** Whether any day of the batch's source segment is committed (the view segments commit before it). */
  isCommitted: (batch: EventHubBatch, days: readonly string[]) => Promise<boolean>;
}

export class PartitionMark {
  private constructor(
    private readonly lease: HeldLease,
    private state: MarkState,
  ) {}

  /** The mark under `lease`, with the batches left pending by a dead holder resolved. */
  static async read(lease: HeldLease, sources: MarkSources): Promise<PartitionMark> {
    const stored = asState(await lease.read<unknown>());
    if (!stored) return new PartitionMark(lease, { seq: await sources.scan(), pending: [] });
    const open = stored.pending.filter((p) => p.batch.lastSeq > stored.seq);
    const found = await Promise.all(open.map((p) => sources.isCommitted(p.batch, p.days)));
    const seq = Math.max(stored.seq, ...open.filter((_, i) => found[i]).map((p) => p.batch.lastSeq));
    return new PartitionMark(lease, { seq, pending: open.filter((_, i) => !found[i]) });
  }

  get seq(): number {
    return this.state.seq;
  }

  /** Record `batch` as about to commit (await it before its source segment's commit). */
  async intend(batch: EventHubBatch, days: Iterable<string>): Promise<void> {
    const others = this.state.pending.filter((p) => !sameBatch(p.batch, batch)); // a retry of a failed batch
    await this.save({ ...this.state, pending: [...others, { batch, days: [...days] }] });
  }

  /** Count `batch` in the mark: its source segment is committed. */
  async committed(batch: EventHubBatch): Promise<void> {
    const seq = Math.max(this.state.seq, batch.lastSeq);
    await this.save({
      seq,
      pending: this.state.pending.filter((p) => !sameBatch(p.batch, batch) && p.batch.lastSeq > seq),
    });
  }

  private async save(state: MarkState): Promise<void> {
    await this.lease.write(state);
    this.state = state;
  }
}

function sameBatch(a: EventHubBatch, b: EventHubBatch): boolean {
  return a.partition === b.partition && a.firstSeq === b.firstSeq && a.lastSeq === b.lastSeq;
}

/** The stored state, or undefined when there is none (a lease blob holds `{}` until its first write). */
function asState(v: unknown): MarkState | undefined {
  const s = v as Partial<MarkState> | undefined;
  if (!s || typeof s.seq !== 'number' || !Array.isArray(s.pending)) return undefined;
  return { seq: s.seq, pending: s.pending };
}

/**
 * A partition's last sequence number in the lineage of a view's live segments (-1: none): what a
 * partition without a mark falls back to. It lists every segment of the view, and misses the
 * batches of a compacted day (their lineage is the compaction's).
 */
export async function lineageSeq(
  offline: OfflineStore,
  view: string,
  version: string,
  partition: string,
): Promise<number> {
  let last = -1;
  for (const seg of await offline.listSegments(view, { version })) {
    const input = seg.lineage.input;
    if (input.kind === 'eventhub' && input.partition === partition) last = Math.max(last, input.lastSeq);
  }
  return last;
}
