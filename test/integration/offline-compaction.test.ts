import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactDay, compactView, gcOrphans, type OfflineStore } from '../../shared/features/offline';
import type { FeatureRow } from '../../shared/features/definitions/values';
import { hubBatch, row, sorted, spec, startOfflineEnv, type OfflineEnv } from './offline-fixtures';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { sourceSegmentView } from '../../shared/features/offline/segment-id';

let env: OfflineEnv;
beforeAll(async () => {
  env = await startOfflineEnv();
});
afterAll(async () => {
  await env?.stop();
});

const DAY = '2024-06-01';
/** Batch i: 5 rows of day 2024-06-01. */
const batch = (i: number): FeatureRow[] =>
  [0, 1, 2, 3, 4].map((k) =>
    row(`e${k}`, Date.UTC(2024, 5, 1, i, k), Date.UTC(2024, 5, 1, i, k, 30), {
      clicks: i * 100 + k,
      spend: k / 4,
      country: 'NL',
      active: k % 2 === 0,
    }),
  );

/** Writes `n` small segments into one day; batch `n + 1` repeats batch 1's rows exactly (another input). */
async function smallSegments(
  store: OfflineStore,
  view: string,
  n: number,
): Promise<{ all: FeatureRow[]; distinct: FeatureRow[] }> {
  const all: FeatureRow[] = [];
  for (let i = 1; i <= n; i++) {
    await store.writeRows(spec(view, hubBatch(i, i)), batch(i));
    all.push(...batch(i));
  }
  await store.writeRows(spec(view, hubBatch(1000, 1000)), batch(1));
  const distinct = sorted(all);
  all.push(...batch(1));
  return { all: sorted(all), distinct };
}

describe('offline store: compaction', () => {
  it('merges the small segments of a day into one segment and drops identical rows', async () => {
    const store = await env.store();
    const { all, distinct } = await smallSegments(store, 'compact', 8);
    expect(await store.readRows('compact')).toEqual(all);
    const before = await store.listSegments('compact');

    const res = await compactDay(store, 'compact', 'v1', DAY);
    expect(res).toMatchObject({ status: 'compacted', rowsIn: 45, rowsOut: 40 });
    expect(res.inputs.sort()).toEqual(before.map((s) => s.segmentId).sort());

    const after = await store.listSegments('compact');
    expect(after.map((s) => [s.segmentId, s.rowCount])).toEqual([[res.mergedSegmentId, 40]]);
    expect(after[0]!.lineage.input).toEqual({ kind: 'compaction', inputs: [...res.inputs].sort() });
    expect(await store.readRows('compact')).toEqual(distinct);

    const tombstones = await store.manifest.list({ view: 'compact' });
    expect(tombstones.filter((r) => r.state === 'superseded').map((r) => r.supersededBy)).toEqual(
      before.map(() => res.mergedSegmentId),
    );
  });

  it("a source's records are stored in time order and a view's rows in entity order, when written and when compacted", async () => {
    const store = await env.store();
    // In every batch e0 is first by entity and last by time, so the two orders differ.
    const reversed = (i: number): FeatureRow[] =>
      batch(i).map((r, k) => ({
        ...r,
        eventTs: Date.UTC(2024, 5, 1, i, 4 - k),
        createdTs: Date.UTC(2024, 5, 1, i, 5),
      }));
    const fileOrder = async (view: string) => {
      const { files } = await store.localFiles(view);
      return withConnection(async (c) =>
        Promise.all(
          files.map(async (f) =>
            (await c.runAndReadAll(`SELECT entity_id, event_ts FROM read_parquet(${literal(f)})`))
              .getRows()
              .map(([e, ts]) => [String(e), Number(ts)] as const),
          ),
        ),
      );
    };
    const byTime = (rows: ReadonlyArray<readonly [string, number]>) =>
      [...rows].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    const byEntity = (rows: ReadonlyArray<readonly [string, number]>) =>
      [...rows].sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1]);
    for (const [view, order] of [
      [sourceSegmentView('order_clicks'), byTime],
      ['order_view', byEntity],
    ] as const) {
      for (let i = 3; i >= 1; i--) await store.writeRows(spec(view, hubBatch(i, i)), reversed(i));
      const written = await fileOrder(view);
      expect(written).toHaveLength(3);
      for (const rows of written) expect(rows, view).toEqual(order(rows));
      expect((await compactDay(store, view, 'v1', DAY)).status).toBe('compacted');
      const [merged, ...none] = await fileOrder(view);
      expect(none).toEqual([]);
      expect(merged, view).toHaveLength(15);
      expect(merged, view).toEqual(order(merged!));
    }
  });

  it('a batch redelivered after its segment was compacted away commits nothing new', async () => {
    const store = await env.store();
    const { distinct } = await smallSegments(store, 'compact-redeliver', 3);
    await compactDay(store, 'compact-redeliver', 'v1', DAY);
    const again = await store.writeRows(
      spec('compact-redeliver', hubBatch(2, 2)),
      batch(2).map((r) => ({ ...r, createdTs: r.createdTs + 1 })),
    );
    expect(again.rowsCommitted).toBe(0);
    expect(await store.readRows('compact-redeliver')).toEqual(distinct);
  });

  it('readers see either the old set or the new set while a compaction commits, never both or neither', async () => {
    const writer = await env.store();
    const { all, distinct } = await smallSegments(writer, 'compact-read', 12);
    const readers = await Promise.all([1, 2].map(() => env.store()));
    const seen = { old: 0, new: 0 };
    let compacting = true;
    const readLoop = async (reader: OfflineStore) => {
      let last = false;
      while (compacting || !last) {
        last = !compacting;
        const rows = await reader.readRows('compact-read');
        if (rows.length === all.length) {
          expect(rows).toEqual(all);
          seen.old++;
        } else {
          expect(rows).toEqual(distinct);
          seen.new++;
        }
      }
    };
    const loops = readers.map(readLoop);
    const res = await compactDay(await env.store(), 'compact-read', 'v1', DAY);
    compacting = false;
    await Promise.all(loops);
    expect(res.status).toBe('compacted');
    expect(seen.new).toBeGreaterThanOrEqual(2);
    expect(seen.old + seen.new).toBeGreaterThan(2);
  });

  it('two compactions of the same day at once: one commits, the other changes nothing', async () => {
    const store = await env.store();
    const { distinct } = await smallSegments(store, 'compact-twice', 6);
    const results = await Promise.all(
      [env.store(), env.store()].map(async (s) => compactDay(await s, 'compact-twice', 'v1', DAY)),
    );
    expect(results.map((r) => r.status).sort()).toEqual(expect.arrayContaining(['compacted']));
    expect(results.filter((r) => r.status === 'compacted')).toHaveLength(1);
    expect(await store.listSegments('compact-twice')).toHaveLength(1);
    expect(await store.readRows('compact-twice')).toEqual(distinct);
  });

  it('compacts again when new small segments arrive, merging the earlier merge', async () => {
    const store = await env.store();
    const { distinct } = await smallSegments(store, 'compact-again', 3);
    const first = await compactDay(store, 'compact-again', 'v1', DAY);
    await store.writeRows(spec('compact-again', hubBatch(20, 20)), batch(20));
    const results = await compactView(store, 'compact-again');
    expect(results.map((r) => r.status)).toEqual(['compacted']);
    expect(results[0]!.inputs).toContain(first.mergedSegmentId);
    expect(await store.readRows('compact-again')).toEqual(sorted([...distinct, ...batch(20)]));
    expect(await compactView(store, 'compact-again')).toEqual([]);
  });

  it('gcOrphans deletes compacted-away blobs only after the grace period', async () => {
    const store = await env.store();
    const { distinct } = await smallSegments(store, 'compact-gc', 3);
    const old = await store.listSegments('compact-gc');
    await compactDay(store, 'compact-gc', 'v1', DAY);

    expect((await gcOrphans(store, { view: 'compact-gc', graceMs: 60_000 })).supersededDeleted).toEqual([]);
    await new Promise((r) => setTimeout(r, 2100));
    const res = await gcOrphans(store, { view: 'compact-gc', graceMs: 1000 });
    expect(res.supersededDeleted.sort()).toEqual(old.map((s) => s.blobPath).sort());
    expect(res.orphansDeleted).toEqual([]);
    expect(res.kept).toBe(1);
    expect(await (await env.store()).readRows('compact-gc')).toEqual(distinct);
  });
});
