/**
 * Storage failures in the middle of a write never leave work running behind the caller: a
 * failed multi-day segment write has stopped uploading when it throws (so its temporary files
 * can go), a storage outage becomes a DependencyError naming Blob or Table storage, and ingest
 * resumes where it was once storage is back. Azurite is this file's own, stopped and restarted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { tempDir } from '../helpers/temp';
import { testPlatform, clickEvents } from '../helpers/feature-platform';
import { OfflineStore } from '../../shared/features/offline';
import { Storage } from '../../shared/azure/storage';
import { DependencyError } from '../../shared/errors';
import { sourceSegmentView } from '../../shared/features/ingest/service';
import type { Platform } from '../../shared/platform';
import { hubBatch, row, spec } from './offline-fixtures';

const tmp = tempDir('strata-storage-outage-');
let azurite: AzuriteHandle;
const restart = async () => {
  azurite = await startAzurite({ location: azurite.location, ports: azurite.ports });
};

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
});
afterAll(async () => {
  await azurite?.stop();
  tmp.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY = 86_400_000;

describe('a segment write that storage fails part-way', () => {
  it('waits for every upload before it throws (none reads a removed file), and the same write completes once storage is back', async () => {
    const workDir = fs.mkdtempSync(path.join(tmp.dir, 'work-'));
    const store = await OfflineStore.open({
      storage: new Storage(azurite.connectionString),
      cacheDir: path.join(tmp.dir, 'cache'),
      workDir,
    });
    const s = spec('partial', hubBatch(1, 1));
    // 16 event days: 16 segments, uploaded 4 at a time.
    const days = Array.from({ length: 16 }, (_, d) => Date.UTC(2024, 5, 1) + d * DAY);
    const rows = days.flatMap((t, d) =>
      Array.from({ length: 3000 }, (_, k) =>
        row(`e${k}`, t + k * 1000, t, { clicks: d * k, spend: k / 7, country: `c${k}`, active: k % 2 === 0 }),
      ),
    );
    const writing = store.writeRows(s, rows).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Storage goes away while the day files are being uploaded.
    const deadline = Date.now() + 30_000;
    while (!fs.readdirSync(workDir).some((d) => fs.readdirSync(path.join(workDir, d)).length > 0)) {
      if (Date.now() > deadline) throw new Error('no segment file was written within 30 s');
      await sleep(5);
    }
    await azurite.stop();
    const failed = await writing;
    expect(failed).toBeInstanceOf(Error);
    expect(fs.readdirSync(workDir)).toEqual([]);

    await restart();
    const done = await store.writeRows(s, rows);
    expect(done.segments).toHaveLength(16);
    expect((await store.readRows('partial', {})).length).toBe(16 * 3000);
  });
});

describe('ingest while storage is down', () => {
  let p: Platform;
  beforeAll(() => {
    p = testPlatform({ storageConnection: azurite.connectionString, dataDir: path.join(tmp.dir, 'data') });
  });

  it('fails with a DependencyError naming the storage service, and completes the same batch once storage is back', async () => {
    const ingest = await p.ingest();
    const start = Math.floor((Date.now() - 2 * 3_600_000) / 60_000) * 60_000;
    const records = (events: unknown[], first: number) =>
      events.map((record, i) => ({ record, position: `partition 0, sequence ${first + i}` }));
    const events = clickEvents(start, ['s1', 's2'], 10);
    await ingest.ingest({
      source: 'clicks',
      records: records(events.slice(0, 10), 0),
      batch: { kind: 'eventhub', source: 'clicks', partition: '0', firstSeq: 0, lastSeq: 9 },
    });

    await azurite.stop();
    const batch = { kind: 'eventhub' as const, source: 'clicks', partition: '0', firstSeq: 10, lastSeq: 19 };
    const failed = await ingest.ingest({ source: 'clicks', records: records(events.slice(10), 10), batch }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(DependencyError);
    expect((failed as Error).message).toMatch(
      /^(Blob|Table) storage at http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1 is unreachable \(connect ECONNREFUSED/,
    );

    await restart();
    const retried = await ingest.ingest({ source: 'clicks', records: records(events.slice(10), 10), batch });
    expect(retried).toMatchObject({ status: 'ingested', accepted: 10 });
    expect((await (await p.offline()).readRows(sourceSegmentView('clicks'), {})).length).toBe(20);
    const online = await p.online.read(['s1', 's2'].map((entityId) => ({ view: 'user_clicks', entityId })));
    expect(online.map((r) => r?.values.clicks_24h)).toEqual([10, 10]);
  });
});
