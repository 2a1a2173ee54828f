/**
 * A writer that crashes between uploading a segment and committing its manifest row leaves
 * an orphan blob: invisible to readers, committed by the next delivery of the same input,
 * and removed by gcOrphans once older than the grace period.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gcOrphans,
  segmentBlobPath,
  segmentId,
  withConnection,
  type OfflineStore,
  type SegmentSpec,
} from '../../shared/features/offline';
import { MANIFEST_TABLE } from '../../shared/azure/manifest-table';
import { uploadOnce } from '../../shared/features/offline/segment-blobs';
import { stageRows, writeDayFiles } from '../../shared/features/offline/segment-file';
import type { FeatureRow } from '../../shared/features/definitions/values';
import { hubBatch, row, spec, startOfflineEnv, type OfflineEnv } from './offline-fixtures';

let env: OfflineEnv;
beforeAll(async () => {
  env = await startOfflineEnv();
});
afterAll(async () => {
  await env?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Do what a writer does up to the crash: write and upload the segment, never commit it. */
async function uploadThenCrash(store: OfflineStore, s: SegmentSpec, rows: FeatureRow[]): Promise<string> {
  const dir = fs.mkdtempSync(path.join(env.dir, 'crash-'));
  const [day] = await withConnection(async (c) => {
    await stageRows(c, 'r', s.columns, rows);
    return writeDayFiles(c, 'r', s.columns, dir, s.view);
  });
  const blobPath = segmentBlobPath(
    s.view,
    s.version,
    day!.day,
    segmentId(s.lineage.input, s.view, s.version, day!.day),
  );
  const up = await uploadOnce(store.container, blobPath, day!.file, { ...day!, lineage: s.lineage });
  expect(up.status).toBe('uploaded');
  return blobPath;
}

const clicks = (n: number, createdTs: number) => [row('u1', '2024-04-01T12:00:00', createdTs, { clicks: n })];

describe('offline store: crash between upload and commit', () => {
  it('an uploaded but uncommitted segment is invisible to readers', async () => {
    const store = await env.store();
    const blobPath = await uploadThenCrash(store, spec('crash1', hubBatch(1, 1)), clicks(1, 100));
    expect(await store.container.getBlockBlobClient(blobPath).exists()).toBe(true);
    expect(await store.listSegments('crash1')).toEqual([]);
    expect(await store.readRows('crash1')).toEqual([]);
  });

  it('the next delivery of the same input commits the orphan, once', async () => {
    const store = await env.store();
    const blobPath = await uploadThenCrash(store, spec('crash2', hubBatch(1, 1)), clicks(1, 100));
    const orphanEtag = (await store.container.getBlockBlobClient(blobPath).getProperties()).etag;

    // Redelivery: same input, stamped later. The orphan (a valid rendering of it) is what becomes visible.
    const res = await store.writeRows(spec('crash2', hubBatch(1, 1)), clicks(1, 999));
    expect(res.segments.map((s) => [s.blobPath, s.status])).toEqual([[blobPath, 'committed']]);
    const [seg] = await store.listSegments('crash2');
    expect(seg!.etag).toBe(orphanEtag);
    expect((await store.readRows('crash2')).map((r) => r.createdTs)).toEqual([100]);

    expect((await store.writeRows(spec('crash2', hubBatch(1, 1)), clicks(1, 5000))).rowsCommitted).toBe(0);
  });

  it('an orphan older than half the grace period is replaced, not committed', async () => {
    const store = await env.store({ orphanGraceMs: 1000 });
    const blobPath = await uploadThenCrash(store, spec('crash3', hubBatch(1, 1)), clicks(1, 100));
    await sleep(1600); // blob times have 1 s resolution
    await store.writeRows(spec('crash3', hubBatch(1, 1)), clicks(1, 200));
    const [seg] = await store.listSegments('crash3');
    expect(seg!.blobPath).toBe(blobPath);
    expect(seg!.etag).toBe((await store.container.getBlockBlobClient(blobPath).getProperties()).etag);
    expect((await store.readRows('crash3')).map((r) => r.createdTs)).toEqual([200]);
  });

  it('gcOrphans removes orphans older than the grace period and keeps younger ones and committed segments', async () => {
    const store = await env.store();
    const old = await uploadThenCrash(store, spec('gc', hubBatch(1, 1)), clicks(1, 100));
    await store.writeRows(spec('gc', hubBatch(2, 2)), [row('u2', '2024-04-01T13:00:00', 100, { clicks: 2 })]);
    await sleep(2100);
    const young = await uploadThenCrash(store, spec('gc', hubBatch(3, 3)), clicks(3, 100));

    const dry = await gcOrphans(store, { view: 'gc', graceMs: 1000, dryRun: true });
    expect(dry.orphansDeleted).toEqual([old]);
    expect(await store.container.getBlockBlobClient(old).exists()).toBe(true);

    const res = await gcOrphans(store, { view: 'gc', graceMs: 1000 });
    expect(res.orphansDeleted).toEqual([old]);
    expect(res.supersededDeleted).toEqual([]);
    expect(res.kept).toBe(2);
    expect(await store.container.getBlockBlobClient(old).exists()).toBe(false);
    expect(await store.container.getBlockBlobClient(young).exists()).toBe(true);
    expect((await store.readRows('gc')).map((r) => r.entityId)).toEqual(['u2']);

    // The input whose orphan was collected can still be delivered and committed.
    expect((await store.writeRows(spec('gc', hubBatch(1, 1)), clicks(1, 300))).rowsCommitted).toBe(1);
    expect((await store.readRows('gc')).map((r) => r.entityId)).toEqual(['u1', 'u2']);
  });

  it('a crash after a multi-day batch was claimed: gcOrphans keeps the claimed blobs, and the next delivery commits that rendering, not its own', async () => {
    const store = await env.store();
    const days = (createdTs: number) =>
      [1, 2, 3].map((d) => row(`u${d}`, `2024-04-0${d}T12:00:00`, createdTs, { clicks: d }));
    await store.writeRows(spec('claimcrash', hubBatch(1, 1)), days(100));
    // As if the writer had died after its claim and its first commit: two manifest rows never made it.
    const table = await env.storage().table(MANIFEST_TABLE);
    const rows = (await store.manifest.list({ view: 'claimcrash' })).sort((a, b) => a.day.localeCompare(b.day));
    for (const r of rows.slice(1)) await table.deleteEntity(`claimcrash~v1~${r.day}`, r.segmentId);
    expect((await store.readRows('claimcrash')).map((r) => r.entityId)).toEqual(['u1']);

    await sleep(2100);
    const gc = await gcOrphans(store, { view: 'claimcrash', graceMs: 1000 });
    expect(gc.orphansDeleted).toEqual([]);

    const again = await store.writeRows(spec('claimcrash', hubBatch(1, 1)), days(999));
    expect(again.rowsCommitted).toBe(2);
    expect((await store.readRows('claimcrash')).map((r) => [r.entityId, r.createdTs])).toEqual([
      ['u1', 100],
      ['u2', 100],
      ['u3', 100],
    ]);
    expect((await gcOrphans(store, { view: 'claimcrash', graceMs: 1000 })).orphansDeleted).toEqual([]);
  });
});
