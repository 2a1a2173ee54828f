/**
 * Fetching a training set (shared/features/pit/download.ts) on real Azurite and DuckDB: the
 * record, Parquet bytes as stored, CSV converted once (concurrent first requests share one conversion, one
 * blob, and later answers are the same bytes under one ETag), answers never larger than the
 * cap, a large file refused without a Range, a set whose Parquet file is missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, UnprocessableError } from '../../shared/errors';
import type { OfflineStore } from '../../shared/features/offline';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { TRAINING_SETS_CONTAINER, buildTrainingSet, type TrainingSetResult } from '../../shared/features/pit';
import { readTrainingSetData, readTrainingSetRecord } from '../../shared/features/pit/download';
import { hubBatch, row, spec, startOfflineEnv, t, type OfflineEnv } from './offline-fixtures';
import { TrainingSetBlobs } from '../../shared/azure/training-set-blobs';

let env: OfflineEnv;
let store: OfflineStore;
let sets: TrainingSetBlobs;
let set: TrainingSetResult;
const COLUMNS = [
  { name: 'clicks', type: 'int' as const },
  { name: 'spend', type: 'float' as const },
];

beforeAll(async () => {
  env = await startOfflineEnv();
  store = await env.store();
  sets = new TrainingSetBlobs(env.storage());
  const rows = Array.from({ length: 200 }, (_, i) =>
    row(`u${i % 20}`, t('2024-08-01T08:00') + i * 60_000, t('2024-08-01T08:00') + i * 60_000, {
      clicks: i,
      spend: i / 4,
    }),
  );
  await store.writeRows(spec('activity', hubBatch(1, 200), COLUMNS), rows);
  set = await buildTrainingSet(
    { offline: store, sets },
    {
      spine: {
        rows: Array.from({ length: 20 }, (_, i) => ({ entityId: `u${i}`, ts: t('2024-08-01T12:00'), label: i % 2 })),
      },
      views: [{ view: 'activity', features: ['clicks', 'spend'] }],
    },
  );
});
afterAll(async () => {
  await env?.stop();
});

describe('training set downloads', () => {
  it('the record is what the build answered; an unknown id is NotFound', async () => {
    expect(await readTrainingSetRecord(sets, set.id)).toEqual(set);
    await expect(readTrainingSetRecord(sets, 'nope')).rejects.toThrow(NotFoundError);
  });

  it('Parquet is the stored file byte for byte', async () => {
    const stored = await (
      await store.storage.container(TRAINING_SETS_CONTAINER)
    )
      .getBlockBlobClient(set.blobPath)
      .downloadToBuffer();
    const d = await readTrainingSetData(sets, { id: set.id, format: 'parquet' });
    expect(d).toMatchObject({
      status: 200,
      start: 0,
      end: stored.length - 1,
      size: stored.length,
      contentType: 'application/vnd.apache.parquet',
      fileName: `${set.id}.parquet`,
    });
    expect(d.body.equals(stored)).toBe(true);
  });

  it('CSV is converted once: concurrent first requests share one conversion and leave one blob, every answer the same bytes', async () => {
    const answers = await Promise.all([
      readTrainingSetData(sets, { id: set.id, format: 'csv' }),
      readTrainingSetData(sets, { id: set.id, format: 'csv' }),
    ]);
    const again = await readTrainingSetData(sets, { id: set.id, format: 'csv' });
    expect(answers[0]!.body.equals(again.body)).toBe(true);
    expect(answers[1]!.body.equals(again.body)).toBe(true);
    expect(new Set([...answers, again].map((a) => a.etag)).size).toBe(1);
    const blobs: string[] = [];
    for await (const b of (await store.storage.container(TRAINING_SETS_CONTAINER)).listBlobsFlat({ prefix: set.id }))
      blobs.push(b.name);
    expect(blobs.sort()).toEqual([`${set.id}.csv`, `${set.id}.json`, `${set.id}.parquet`]);
    // The CSV holds the Parquet rows: u3 at 12:00 sees its latest click, minute 183 (i = 183: 3 + 20 * 9).
    const lines = again.body.toString('utf8').trim().split('\n');
    expect(lines[0]).toBe('row_id,entity_id,ts,label,clicks,spend');
    expect(lines).toHaveLength(21);
    expect(lines[4]).toBe(`3,u3,${t('2024-08-01T12:00')},1.0,183,45.75`);
  });

  it('a range is at most the cap; without a Range a file over the cap is refused with the way to fetch it', async () => {
    const whole = (await readTrainingSetData(sets, { id: set.id, format: 'csv' })).body;
    const cap = 100;
    const parts: Buffer[] = [];
    for (let at = 0; at < whole.length;) {
      const d = await readTrainingSetData(sets, { id: set.id, format: 'csv', range: `bytes=${at}-` }, cap);
      expect(d.status).toBe(206);
      expect(d.body.length).toBeLessThanOrEqual(cap);
      expect(d.start).toBe(at);
      parts.push(d.body);
      at = d.end + 1;
    }
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
    const refused = readTrainingSetData(sets, { id: set.id, format: 'csv' }, cap);
    await expect(refused).rejects.toThrow(UnprocessableError);
    await expect(refused).rejects.toThrow(/more than one answer carries \(100\)/);
  });

  it('a set whose Parquet file is not there (yet) is NotFound, saying so', async () => {
    const other = await buildTrainingSet(
      { offline: store, sets },
      {
        spine: { rows: [{ entityId: 'u1', ts: t('2024-08-01T12:00') }] },
        views: [{ view: 'activity', features: ['clicks'] }],
      },
    );
    await (await store.storage.container(TRAINING_SETS_CONTAINER)).getBlockBlobClient(other.blobPath).delete();
    await expect(readTrainingSetData(sets, { id: other.id, format: 'csv' })).rejects.toThrow(/has no data file yet/);
  });

  it('the Parquet and CSV files hold the same rows', async () => {
    const dir = fs.mkdtempSync(path.join(env.dir, 'cmp-'));
    const pq = path.join(dir, 'a.parquet');
    const csv = path.join(dir, 'a.csv');
    fs.writeFileSync(pq, (await readTrainingSetData(sets, { id: set.id, format: 'parquet' })).body);
    fs.writeFileSync(csv, (await readTrainingSetData(sets, { id: set.id, format: 'csv' })).body);
    const [a, b] = await withConnection(async (c) => [
      (await c.runAndReadAll(`SELECT * FROM read_parquet(${literal(pq)}) ORDER BY row_id`)).getRowObjectsJson(),
      (
        await c.runAndReadAll(
          `SELECT * FROM read_csv(${literal(csv)}, header = true, columns = {'row_id': 'BIGINT', 'entity_id': 'VARCHAR', 'ts': 'BIGINT', 'label': 'DOUBLE', 'clicks': 'BIGINT', 'spend': 'DOUBLE'}) ORDER BY row_id`,
        )
      ).getRowObjectsJson(),
    ]);
    expect(b).toEqual(a);
  });
});
