import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobCache, StaleBlobError } from '../../shared/features/offline';
import { hubBatch, row, spec, startOfflineEnv, type OfflineEnv } from './offline-fixtures';

let env: OfflineEnv;
beforeAll(async () => {
  env = await startOfflineEnv();
});
afterAll(async () => {
  await env?.stop();
});

async function putBlob(body: string): Promise<string> {
  const c = await env.storage().container('cache-test');
  return (await c.getBlockBlobClient('a/b.parquet').upload(body, body.length)).etag!;
}

describe('offline store: the local segment cache', () => {
  it('downloads a blob version once and serves it from the cache afterwards', async () => {
    const cache = new BlobCache(env.storage(), path.join(env.dir, 'c1'));
    const etag = await putBlob('version one');
    const first = await cache.fetch('cache-test', 'a/b.parquet', etag);
    const second = await cache.fetch('cache-test', 'a/b.parquet', etag);
    expect(second).toBe(first);
    expect(fs.readFileSync(first, 'utf8')).toBe('version one');
    expect(cache.stats).toMatchObject({ downloads: 1, hits: 1 });
  });

  it('a changed blob is fetched again under its new ETag, never served from the old file', async () => {
    const cache = new BlobCache(env.storage(), path.join(env.dir, 'c2'));
    const v1 = await putBlob('version one');
    const f1 = await cache.fetch('cache-test', 'a/b.parquet', v1);
    const v2 = await putBlob('version two!');
    const f2 = await cache.fetch('cache-test', 'a/b.parquet', v2);
    expect(f2).not.toBe(f1);
    expect(fs.readFileSync(f2, 'utf8')).toBe('version two!');
    expect(cache.stats.downloads).toBe(2);
  });

  it('asking for a version the blob no longer has fails with StaleBlobError and leaves no file', async () => {
    const cache = new BlobCache(env.storage(), path.join(env.dir, 'c3'));
    const v1 = await putBlob('version one');
    await putBlob('version three');
    await expect(cache.fetch('cache-test', 'a/b.parquet', v1)).rejects.toBeInstanceOf(StaleBlobError);
    expect(fs.readdirSync(path.join(env.dir, 'c3'))).toEqual([]);
  });

  it('concurrent fetches of one version download it once', async () => {
    const cache = new BlobCache(env.storage(), path.join(env.dir, 'c4'));
    const etag = await putBlob('shared');
    const files = await Promise.all([1, 2, 3, 4].map(() => cache.fetch('cache-test', 'a/b.parquet', etag)));
    expect(new Set(files).size).toBe(1);
    expect(cache.stats.downloads).toBe(1);
  });

  it('readers reuse cached segments across reads and fetch only new ones', async () => {
    const writer = await env.store();
    const store = await env.store(); // another process: its own cache folder
    await writer.writeRows(spec('cached', hubBatch(1, 1)), [row('a', '2024-07-01T00:00:00', 1, { clicks: 1 })]);
    await store.readRows('cached');
    await store.readRows('cached');
    expect(store.cache.stats).toMatchObject({ downloads: 1, hits: 1 });
    await writer.writeRows(spec('cached', hubBatch(2, 2)), [row('a', '2024-07-01T01:00:00', 1, { clicks: 2 })]);
    expect((await store.readRows('cached')).map((r) => r.values.clicks)).toEqual([1, 2]);
    expect(store.cache.stats).toMatchObject({ downloads: 2, hits: 2 });
  });

  it('a writer reads back the segments it uploaded from its cache, without downloading them', async () => {
    const store = await env.store();
    await store.writeRows(spec('own', hubBatch(1, 1)), [row('a', '2024-07-01T00:00:00', 1, { clicks: 1 })]);
    await store.writeRows(spec('own', hubBatch(2, 2)), [row('a', '2024-07-01T01:00:00', 1, { clicks: 2 })]);
    expect((await store.readRows('own')).map((r) => r.values.clicks)).toEqual([1, 2]);
    expect(store.cache.stats).toMatchObject({ downloads: 0, hits: 2 });
    // The cached copies are the committed bytes: another process downloading them reads the same rows.
    expect(await (await env.store()).readRows('own')).toEqual(await store.readRows('own'));
  });

  it('prune keeps the most recently used files within the byte budget', async () => {
    const cache = new BlobCache(env.storage(), path.join(env.dir, 'c5'));
    const c = await env.storage().container('cache-test');
    const files: string[] = [];
    for (const name of ['x', 'y', 'z']) {
      const etag = (await c.getBlockBlobClient(`p/${name}.parquet`).upload('0123456789', 10)).etag!;
      files.push(await cache.fetch('cache-test', `p/${name}.parquet`, etag));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(cache.prune(20)).toEqual({ removed: 1, bytes: 20 });
    expect(files.map((f) => fs.existsSync(f))).toEqual([false, true, true]);
  });
});
