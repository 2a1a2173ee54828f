/**
 * The local bus's partition balancing (local/eventhubs/ownership.ts), the algorithm of the Event
 * Hubs SDK's load balancer: fair shares, unowned and expired partitions first, one steal per
 * round from an owner above its share, and rounds that converge.
 */
import { describe, expect, it } from 'vitest';
import { partitionsToClaim, type OwnershipRecord } from '../../local/eventhubs/ownership';

const NOW = 1_000_000;
const EXPIRY = 10_000;
const P8 = ['0', '1', '2', '3', '4', '5', '6', '7'];
const owns = (ownerId: string, partitions: string[], age = 0): OwnershipRecord[] =>
  partitions.map((partitionId) => ({
    partitionId,
    ownerId,
    modifiedAt: NOW - age,
    etag: `"${ownerId}${partitionId}"`,
  }));

/** Rounds of every owner in turn, each applying its claims, until nobody claims anything. */
function converge(owners: string[], records: OwnershipRecord[]): Map<string, string[]> {
  const byPartition = new Map(records.map((r) => [r.partitionId, r]));
  for (let round = 0; round < 50; round++) {
    let claimed = 0;
    for (const me of owners) {
      for (const p of partitionsToClaim([...byPartition.values()], P8, me, NOW, EXPIRY)) {
        byPartition.set(p, { partitionId: p, ownerId: me, modifiedAt: NOW });
        claimed++;
      }
    }
    if (claimed === 0) break;
  }
  const out = new Map<string, string[]>(owners.map((o) => [o, []]));
  for (const r of byPartition.values()) out.get(r.ownerId)?.push(r.partitionId);
  return out;
}

describe('partition balancing', () => {
  it('a lone instance claims every partition at once', () => {
    expect(partitionsToClaim([], P8, 'a', NOW, EXPIRY)).toEqual(P8);
  });

  it('a second instance steals one partition per round from the one holding all, down to 4 and 4', () => {
    const records = owns('a', P8);
    expect(partitionsToClaim(records, P8, 'b', NOW, EXPIRY)).toEqual(['7']);
    expect(partitionsToClaim(records, P8, 'a', NOW, EXPIRY)).toEqual([]);
    const shares = converge(['a', 'b'], records);
    expect([shares.get('a')!.length, shares.get('b')!.length]).toEqual([4, 4]);
  });

  it('three instances end with 3, 3 and 2 of 8 partitions, each owned once', () => {
    const shares = converge(['a', 'b', 'c'], owns('a', P8));
    expect([...shares.values()].map((l) => l.length).sort()).toEqual([2, 3, 3]);
    expect([...shares.values()].flat().sort()).toEqual(P8);
  });

  it("a dead instance's partitions (not renewed within the expiry) are taken first, without stealing", () => {
    const records = [...owns('a', ['0', '1', '2', '3']), ...owns('dead', ['4', '5', '6', '7'], EXPIRY + 1)];
    expect(partitionsToClaim(records, P8, 'b', NOW, EXPIRY)).toEqual(['4', '5', '6', '7']);
    // Once `b` holds them, `a` has its share of the two live owners.
    const after = [...owns('a', ['0', '1', '2', '3']), ...owns('b', ['4', '5', '6', '7'])];
    expect(partitionsToClaim(after, P8, 'a', NOW, EXPIRY)).toEqual([]);
  });

  it('a partition given up on a clean stop (owner "") is free at once', () => {
    const records = [...owns('a', ['0', '1', '2', '3']), ...owns('', ['4', '5', '6', '7'])];
    expect(partitionsToClaim(records, P8, 'b', NOW, EXPIRY)).toEqual(['4', '5', '6', '7']);
  });

  it('a balanced spread stays as it is (no thrashing)', () => {
    const records = [...owns('a', ['0', '1', '2']), ...owns('b', ['3', '4', '5']), ...owns('c', ['6', '7'])];
    for (const me of ['a', 'b', 'c']) expect(partitionsToClaim(records, P8, me, NOW, EXPIRY), me).toEqual([]);
  });
});
