/**
 * Several writers of the same view at once, as when Event Hubs redelivers a batch to another
 * instance while the first is still working: every input is committed exactly once, and
 * every manifest row names the blob version that is stored.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manifest, OFFLINE_CONTAINER } from '../../shared/features/offline';
import { ManifestTable } from '../../shared/azure/manifest-table';
import { quotedEtag } from '../../shared/features/offline/segment-blobs';
import { hubBatch, row, spec, startOfflineEnv, transpileProject, type OfflineEnv } from './offline-fixtures';

let env: OfflineEnv;
beforeAll(async () => {
  env = await startOfflineEnv();
});
afterAll(async () => {
  await env?.stop();
});

/** Batch i: 3 rows over two event days, so each batch is two segments. */
function batchRows(i: number, createdTs: number) {
  return [0, 1, 2].map((k) => row(`e${i}-${k}`, Date.UTC(2024, 4, 1, 22 + k, i), createdTs, { clicks: i * 10 + k }));
}

/** Every blob has exactly one manifest row with its ETag, and vice versa. */
async function expectManifestMatchesBlobs(view: string) {
  const storage = env.storage();
  const manifest = new Manifest(await ManifestTable.open(storage));
  const rows = await manifest.list({ view });
  const blobs = new Map<string, string>();
  for await (const b of (await storage.container(OFFLINE_CONTAINER)).listBlobsFlat({ prefix: `${view}/` }))
    blobs.set(b.name, quotedEtag(b.properties.etag));
  expect(rows.every((r) => r.state === 'live')).toBe(true);
  expect(new Set(rows.map((r) => r.blobPath)).size).toBe(rows.length);
  expect(new Map(rows.map((r) => [r.blobPath, r.etag]))).toEqual(blobs);
  return rows;
}

describe('offline store: concurrent writers', () => {
  it('writers with their own clients committing the same batches at once commit each segment once', async () => {
    const stores = await Promise.all([1, 2, 3, 4].map(() => env.store()));
    const batches = [1, 2, 3, 4, 5, 6];
    const results = await Promise.all(
      stores.flatMap((store, w) =>
        batches.map((i) => store.writeRows(spec('race', hubBatch(i, i)), batchRows(i, 1000 + w))),
      ),
    );
    const committed = results.flatMap((r) => r.segments).filter((s) => s.status === 'committed');
    expect(committed).toHaveLength(batches.length * 2);
    expect(results.reduce((n, r) => n + r.rowsCommitted, 0)).toBe(batches.length * 3);

    const rows = await expectManifestMatchesBlobs('race');
    expect(rows).toHaveLength(batches.length * 2);
    const read = await stores[0]!.readRows('race');
    expect(read.map((r) => r.entityId).sort()).toEqual(
      batches.flatMap((i) => [0, 1, 2].map((k) => `e${i}-${k}`)).sort(),
    );
    // Each batch's rows come from a single writer's rendering (one createdTs per batch).
    for (const i of batches)
      expect(new Set(read.filter((r) => r.entityId.startsWith(`e${i}-`)).map((r) => r.createdTs)).size).toBe(1);
  });

  it('a batch over several days is one writer’s rendering, however many writers race it', async () => {
    const stores = await Promise.all(Array.from({ length: 5 }, () => env.store()));
    const batches = Array.from({ length: 6 }, (_, i) => 20 + i);
    // Each batch: 4 rows on 4 event days (4 segments); each writer renders it with its own createdTs.
    const rowsOf = (i: number, createdTs: number) =>
      [0, 1, 2, 3].map((d) => row(`b${i}-${d}`, Date.UTC(2024, 6, 1 + d, 12, i), createdTs, { clicks: i * 10 + d }));
    await Promise.all(
      stores.flatMap((store, w) =>
        batches.map((i) => store.writeRows(spec('claimed', hubBatch(i, i)), rowsOf(i, 7000 + w))),
      ),
    );
    const rows = await expectManifestMatchesBlobs('claimed');
    expect(rows).toHaveLength(batches.length * 4);
    const read = await stores[0]!.readRows('claimed');
    expect(read).toHaveLength(batches.length * 4);
    for (const i of batches)
      expect(new Set(read.filter((r) => r.entityId.startsWith(`b${i}-`)).map((r) => r.createdTs)).size).toBe(1);
    // A later delivery of the same batches, rendered differently (another day more), adds nothing.
    const again = await stores[1]!.writeRows(spec('claimed', hubBatch(20, 20)), [
      ...rowsOf(20, 9999),
      row('b20-x', Date.UTC(2024, 6, 9), 9999, { clicks: 1 }),
    ]);
    expect(again.rowsCommitted).toBe(0);
    expect(await stores[0]!.readRows('claimed')).toEqual(read);
  });

  it('writer processes delivering overlapping batches in different orders keep the manifest consistent', async () => {
    const out = transpileProject(fs.mkdtempSync(path.join(env.dir, 'js-')));
    const script = `
      const { OfflineStore } = require(${JSON.stringify(path.join(out, 'shared/features/offline/index.js'))});
      const { Storage } = require(${JSON.stringify(path.join(out, 'shared/azure/storage.js'))});
      const [conn, cacheDir, worker, order] = process.argv.slice(1);
      const cols = [{ name: 'clicks', type: 'int' }];
      (async () => {
        const store = await OfflineStore.open({ storage: new Storage(conn), cacheDir });
        let committed = 0;
        await Promise.all(JSON.parse(order).map(async (i) => {
          const rows = [0, 1, 2].map((k) => ({ entityId: 'e' + i + '-' + k, eventTs: Date.UTC(2024, 4, 1, 22 + k, i), createdTs: 5000 + Number(worker), values: { clicks: i * 10 + k } }));
          const r = await store.writeRows({ view: 'procs', version: 'v1', columns: cols, lineage: { input: { kind: 'eventhub', source: 'clicks', partition: '0', firstSeq: i, lastSeq: i } } }, rows);
          committed += r.rowsCommitted;
        }));
        process.stdout.write(JSON.stringify({ committed }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const batches = Array.from({ length: 10 }, (_, i) => i + 1);
    const orders = [batches, [...batches].reverse(), [...batches.slice(5), ...batches.slice(0, 5)]];
    const runs = orders.map(
      (order, w) =>
        new Promise<{ committed: number }>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              '-e',
              script,
              env.connectionString,
              path.join(env.dir, `proc-cache-${w}`),
              String(w),
              JSON.stringify(order),
            ],
            {
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.stderr.on('data', (d) => (stderr += d));
          child.on('exit', (code) =>
            code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`writer ${w} exited ${code}: ${stderr}`)),
          );
        }),
    );
    const results = await Promise.all(runs);
    expect(results.reduce((n, r) => n + r.committed, 0)).toBe(batches.length * 3);

    const rows = await expectManifestMatchesBlobs('procs');
    expect(rows).toHaveLength(batches.length * 2);
    const read = await (await env.store()).readRows('procs');
    expect(read).toHaveLength(batches.length * 3);
    expect(new Set(read.map((r) => r.entityId)).size).toBe(batches.length * 3);
  });
});
