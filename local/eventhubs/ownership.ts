/**
 * Partition ownership for the local event bus: the algorithm EventHubConsumerClient runs with the
 * Blob checkpoint store, so several hosts on one storage account share a hub's partitions the
 * way Azure Functions instances do.
 *
 *   const store = new OwnershipStore(container)
 *   await store.list(hub, consumer)                       every ownership record, with its ETag
 *   await store.claim(hub, consumer, record, ownerId)     ETag-guarded; undefined when another won
 *   partitionsToClaim(records, partitionIds, me, now, expiryMs)   which partitions `me` should take
 *
 * An ownership record is a blob `ownership/<hub>/<consumer>/<partition>.json` holding the owner
 * id; its ETag makes a claim a compare-and-set (two instances claiming one partition: one wins),
 * its last-modified time is the heartbeat. An owner renews its records every balancing interval;
 * a record not renewed within the expiry belongs to nobody (its instance died), and an instance
 * stopping cleanly gives its records up (owner "") so others take them at once.
 *
 * Balancing (as the SDK's load balancer): the active owners are those with an unexpired record,
 * plus me. Each should own floor(P / owners) partitions, and P mod owners of them one more. An
 * instance below its share claims unowned or expired partitions first; when there are none, it
 * steals one from an owner holding more than the most anyone should (or than the least, while
 * others already hold the extra ones), one steal per round so ownership does not thrash.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { statusOf } from '../../shared/azure/status';

export interface OwnershipRecord {
  partitionId: string;
  ownerId: string;
  /** Last renewal, ms (the blob's last-modified time). */
  modifiedAt: number;
  /** Undefined for a partition nobody ever claimed. */
  etag?: string;
}

export class OwnershipStore {
  constructor(private readonly container: ContainerClient) {}

  private prefix(hub: string, consumer: string): string {
    return `ownership/${hub}/${encodeURIComponent(consumer)}/`;
  }

  async list(hub: string, consumer: string): Promise<OwnershipRecord[]> {
    const out: OwnershipRecord[] = [];
    const prefix = this.prefix(hub, consumer);
    for await (const b of this.container.listBlobsFlat({ prefix, includeMetadata: true })) {
      out.push({
        partitionId: b.name.slice(prefix.length).replace(/\.json$/, ''),
        ownerId: b.metadata?.ownerid ?? '',
        modifiedAt: b.properties.lastModified.getTime(),
        ...(b.properties.etag ? { etag: b.properties.etag } : {}),
      });
    }
    return out;
  }

  /**
   * Write `ownerId` as the owner of a partition if the record is still as listed (its ETag, or
   * absent): the new record, or undefined when another instance changed it first.
   */
  async claim(
    hub: string,
    consumer: string,
    record: Pick<OwnershipRecord, 'partitionId' | 'etag'>,
    ownerId: string,
  ): Promise<OwnershipRecord | undefined> {
    const blob = this.container.getBlockBlobClient(`${this.prefix(hub, consumer)}${record.partitionId}.json`);
    try {
      const r = await blob.upload('', 0, {
        metadata: { ownerid: ownerId },
        conditions: record.etag ? { ifMatch: record.etag } : { ifNoneMatch: '*' },
      });
      return {
        partitionId: record.partitionId,
        ownerId,
        modifiedAt: r.lastModified?.getTime() ?? Date.now(),
        ...(r.etag ? { etag: r.etag } : {}),
      };
    } catch (e) {
      if (statusOf(e) === 412 || statusOf(e) === 409) return undefined;
      throw e;
    }
  }
}

/** The partitions `me` should claim this round (see the design note). */
export function partitionsToClaim(
  records: readonly OwnershipRecord[],
  partitionIds: readonly string[],
  me: string,
  now: number,
  expiryMs: number,
): string[] {
  const live = (r: OwnershipRecord | undefined) => !!r && r.ownerId !== '' && now - r.modifiedAt < expiryMs;
  const byPartition = new Map(records.map((r) => [r.partitionId, r]));
  const owned = new Map<string, string[]>([[me, []]]);
  const free: string[] = [];
  for (const p of partitionIds) {
    const r = byPartition.get(p);
    if (!live(r)) {
      free.push(p);
      continue;
    }
    const list = owned.get(r!.ownerId) ?? [];
    list.push(p);
    owned.set(r!.ownerId, list);
  }
  const owners = owned.size;
  const min = Math.floor(partitionIds.length / owners);
  const extra = partitionIds.length % owners;
  const max = extra > 0 ? min + 1 : min;
  const mine = owned.get(me)!;
  const ownersAtMax = [...owned.values()].filter((l) => l.length >= max).length;
  // My share is min, or min + 1 while fewer than `extra` owners hold min + 1.
  const target = mine.length < min ? min : mine.length < max && ownersAtMax < extra ? max : mine.length;
  const want = target - mine.length;
  if (want <= 0) return [];
  if (free.length) return free.slice(0, want);
  // Nothing free: steal one from the most loaded owner, if it holds more than it should.
  let victim: string[] | undefined;
  for (const [owner, list] of owned) if (owner !== me && (!victim || list.length > victim.length)) victim = list;
  if (!victim) return [];
  const overloaded = victim.length > max || (victim.length === max && mine.length < min);
  return overloaded ? [victim[victim.length - 1]!] : [];
}
