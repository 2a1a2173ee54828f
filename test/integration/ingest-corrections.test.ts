/**
 * Corrections that move a record's event time (the sample `purchases`, id field `order_id`):
 * every row a correction changes or removes carries the correction's arrival time, so training
 * sets built "as known at" a moment before it arrived see the old values, later ones the new,
 * and the online store ends with the same newest row per entity as the offline store.
 *
 * One stream, hand-computed (times are B + h:mm, B a whole hour about 30 hours ago):
 *   batch 1 arrives at 2:35   ua: a1 1:00 $10, a2 2:30 $200   ub: b1 1:50 $30, b2 2:00 $40
 *                             uc: c1 2:10 $150 (its only order)   ud: d1 0:10 $50       clock 2:30
 *   batch 2 arrives at 2:50   a2 -> 1:45 (a later order earlier)   b1 -> 2:20 (an earlier order later)
 *                             c1 -> 3:00 (the only order, later)    d1 -> 0:20 $55 (older than the
 *                             clock minus the 1 h lateness: left for a backfill)
 * Features checked: user_purchases purchases_7d, spend_7d, big_order (amount >= 100 of the latest order).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { useAzurite } from '../helpers/storage';
import { testPlatform } from '../helpers/feature-platform';
import { backfillDeps } from '../helpers/backfill-fixtures';
import { sourceSegmentView, type IngestReport } from '../../shared/features/ingest/service';
import { buildTrainingSet, type KnownAt } from '../../shared/features/pit';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { runBackfill } from '../../shared/features/backfill';
import type { Platform } from '../../shared/platform';
import type { FeatureValue } from '../../shared/features/definitions/values';
import { storageFor } from '../../shared/azure/storage';

const HOUR = 3_600_000;
const MIN = 60_000;
const B = Math.floor(Date.now() / HOUR) * HOUR - 30 * HOUR;
/** B + h:mm */
const at = (h: number, m = 0) => B + h * HOUR + m * MIN;
const R1 = at(2, 35);
const R2 = at(2, 50);
const FEATURES = ['purchases_7d', 'spend_7d', 'big_order'];

const storage = useAzurite('strata-corrections-');
let redis: RedisHandle;
let p: Platform;
const reports: IngestReport[] = [];

const order = (user: string, id: string, ts: number, amount: number) => ({
  user_id: user,
  order_id: id,
  amount,
  currency: 'EUR',
  ts: new Date(ts).toISOString(),
});
let seq = 0;
async function arrive(receivedAt: number, orders: Array<Record<string, unknown>>): Promise<IngestReport> {
  const first = seq;
  seq += orders.length;
  const r = await (
    await p.ingest()
  ).ingest({
    source: 'purchases',
    records: orders.map((record, i) => ({ record, position: `partition 0, sequence ${first + i}` })),
    batch: { kind: 'eventhub', source: 'purchases', partition: '0', firstSeq: first, lastSeq: seq - 1 },
    receivedAt,
  });
  reports.push(r);
  return r;
}

beforeAll(async () => {
  redis = await startRedis();
  p = testPlatform({
    storageConnection: storage.connectionString,
    redisUrl: redis.url,
    dataDir: path.join(storage.dir, 'data'),
  });
  await arrive(R1, [
    order('ua', 'a1', at(1), 10),
    order('ua', 'a2', at(2, 30), 200),
    order('ub', 'b1', at(1, 50), 30),
    order('ub', 'b2', at(2), 40),
    order('uc', 'c1', at(2, 10), 150),
    order('ud', 'd1', at(0, 10), 50),
  ]);
  await arrive(R2, [
    order('ua', 'a2', at(1, 45), 200),
    order('ub', 'b1', at(2, 20), 30),
    order('uc', 'c1', at(3), 150),
    order('ud', 'd1', at(0, 20), 55),
  ]);
});
afterAll(async () => {
  await p?.online.close();
  await redis?.stop();
});

type Values = [number | null, number | null, boolean | null];
const v = (row: Record<string, FeatureValue>): Values => FEATURES.map((f) => row[f] ?? null) as Values;

/** Every stored row of user_purchases for one entity: [event time, created time, values], in (event, created) order. */
async function offlineRows(entity: string): Promise<Array<[number, number, Values]>> {
  const rows = await (await p.offline()).readRows('user_purchases', {});
  return rows
    .filter((r) => r.entityId === entity)
    .map((r) => [r.eventTs, r.createdTs, v(r.values)] as [number, number, Values]);
}

/** One training set over user_purchases; the feature values per spine row, in spine order. */
async function trainingSet(
  spine: Array<[string, number]>,
  opts: { asOf?: number; knownAt?: KnownAt } = {},
): Promise<Values[]> {
  const res = await buildTrainingSet(
    { offline: await p.offline(), sets: p.trainingSets },
    {
      spine: { rows: spine.map(([entityId, ts]) => ({ entityId, ts })) },
      views: [{ view: 'user_purchases', features: FEATURES, ttlMs: 60 * 24 * HOUR }],
      ...opts,
    },
  );
  const file = path.join(storage.dir, `${res.id}-${Math.random().toString(36).slice(2)}.parquet`);
  await (
    await storageFor(p.config.storage).container(res.container)
  )
    .getBlockBlobClient(res.blobPath)
    .downloadToFile(file);
  return withConnection(async (c) => {
    const r = await c.runAndReadAll(
      `SELECT ${FEATURES.join(', ')} FROM read_parquet(${literal(file)}) ORDER BY row_id`,
    );
    return r
      .getRowObjectsJS()
      .map((o) =>
        v(
          Object.fromEntries(
            Object.entries(o).map(([k, x]) => [k, typeof x === 'bigint' ? Number(x) : (x as FeatureValue)]),
          ),
        ),
      );
  });
}

describe('a correction that moves an order in event time', () => {
  it('is accepted as a whole: both batches ingested, the late one reported late, no half-applied batch', () => {
    expect(reports.map((r) => [r.status, r.accepted, r.rejected])).toEqual([
      ['ingested', 6, 0],
      ['ingested', 4, 0],
    ]);
    expect(reports[1]!.late).toBe(1); // d1's correction, for every view reading purchases that it would change
  });

  it('a later order moved earlier: the rows from its new time on carry the correction’s arrival', async () => {
    expect(await offlineRows('ua')).toEqual([
      [at(1), R1, [1, 10, false]],
      [at(1, 45), R2, [2, 210, true]],
      [at(2, 30), R1, [2, 210, true]],
      [at(2, 30), R2, [2, 210, true]], // same values, now computed from the corrected order
    ]);
  });

  it('an earlier order moved later: the rows it left are rewritten at the correction’s arrival, the removal included', async () => {
    expect(await offlineRows('ub')).toEqual([
      [at(1, 50), R1, [1, 30, false]],
      [at(1, 50), R2, [0, 0, null]], // b1 is no longer here: the row's values without it
      [at(2), R1, [2, 70, false]],
      [at(2), R2, [1, 40, false]],
      [at(2, 20), R2, [2, 70, false]],
    ]);
  });

  it('an entity’s only order moved later: its old time gets an empty row at the correction’s arrival (never -Infinity)', async () => {
    expect(await offlineRows('uc')).toEqual([
      [at(2, 10), R1, [1, 150, true]],
      [at(2, 10), R2, [0, 0, null]],
      [at(3), R2, [1, 150, true]],
    ]);
  });

  it('a correction older than the lateness changes no view row; the source keeps both versions for a backfill', async () => {
    expect(await offlineRows('ud')).toEqual([[at(0, 10), R1, [1, 50, false]]]);
    const src = await (await p.offline()).readRows(sourceSegmentView('purchases'), {});
    expect(src.filter((r) => r.values.order_id === 'd1').map((r) => [r.eventTs, r.createdTs, r.values.amount])).toEqual(
      [
        [at(0, 10), R1, 50],
        [at(0, 20), R2, 55],
      ],
    );
  });

  it('online and offline agree: each entity’s online value is its newest offline row', async () => {
    const offline = await (await p.offline()).readRows('user_purchases', {});
    const online = await p.online.read(
      ['ua', 'ub', 'uc', 'ud'].map((entityId) => ({ view: 'user_purchases', entityId })),
    );
    const newest = (e: string) =>
      offline.filter((r) => r.entityId === e).sort((a, b) => b.eventTs - a.eventTs || b.createdTs - a.createdTs)[0]!;
    expect(online.map((o) => [o!.eventTs, o!.createdTs, v(o!.values)])).toEqual(
      ['ua', 'ub', 'uc', 'ud'].map((e) => [newest(e).eventTs, newest(e).createdTs, v(newest(e).values)]),
    );
    expect(online.map((o) => [o!.eventTs, o!.createdTs, v(o!.values)])).toEqual([
      [at(2, 30), R2, [2, 210, true]],
      [at(2, 20), R2, [2, 70, false]],
      [at(3), R2, [1, 150, true]],
      [at(0, 10), R1, [1, 50, false]],
    ]);
  });
});

describe('training sets around a correction', () => {
  it('default (as known at each row’s time): before the correction arrived the old values, after it the new', async () => {
    expect(
      await trainingSet([
        ['ub', at(2, 40)],
        ['ub', at(2, 55)],
        ['uc', at(2, 40)],
        ['uc', at(2, 55)],
        ['uc', at(3, 5)],
        ['ua', at(2, 40)],
        ['ua', at(2, 55)],
      ]),
    ).toEqual([
      [2, 70, false],
      [2, 70, false],
      [1, 150, true],
      [0, 0, null],
      [1, 150, true], // 2:55: c1 has left 2:10 and is not due before 3:00
      [2, 210, true],
      [2, 210, true],
    ]);
  });

  it('asOf before the correction arrived: the store as it was; asOf after: the corrected history', async () => {
    const spine: Array<[string, number]> = [
      ['ua', at(2)],
      ['ub', at(1, 55)],
      ['ub', at(2, 10)],
      ['uc', at(2, 15)],
      ['ud', at(1)],
    ];
    expect(await trainingSet(spine, { asOf: at(2, 45) })).toEqual([
      [1, 10, false],
      [1, 30, false],
      [2, 70, false],
      [1, 150, true],
      [1, 50, false],
    ]);
    expect(await trainingSet(spine, { asOf: at(3, 10) })).toEqual([
      [2, 210, true],
      [0, 0, null],
      [1, 40, false],
      [0, 0, null],
      [1, 50, false],
    ]);
  });

  it('both (as known at min(row time, asOf)): a set built before the correction never sees it', async () => {
    const spine: Array<[string, number]> = [
      ['ub', at(2, 40)],
      ['uc', at(2, 55)],
      ['uc', at(3, 5)],
    ];
    expect(await trainingSet(spine, { asOf: at(2, 45), knownAt: 'both' })).toEqual([
      [2, 70, false],
      [1, 150, true],
      [1, 150, true],
    ]);
    expect(await trainingSet(spine, { asOf: at(3, 10), knownAt: 'both' })).toEqual([
      [2, 70, false],
      [0, 0, null],
      [1, 150, true],
    ]);
  });

  it('a backfill folds in the correction that was too late, as of its arrival: earlier sets are unchanged', async () => {
    const day = Math.floor(at(0) / (24 * HOUR)) * 24 * HOUR;
    await runBackfill(
      await backfillDeps(p),
      { views: ['user_purchases'], from: day, to: at(4), intervalMs: 24 * HOUR, maxParallel: 1 },
      { jobId: 'bf-corrections' },
    );
    const spine: Array<[string, number]> = [
      ['ud', at(0, 15)],
      ['ud', at(1)],
    ];
    expect(await trainingSet(spine, { asOf: at(2, 45) })).toEqual([
      [1, 50, false],
      [1, 50, false],
    ]);
    expect(await trainingSet(spine, { asOf: at(3, 10) })).toEqual([
      [0, 0, null],
      [1, 55, false],
    ]);
    const online = await p.online.read([{ view: 'user_purchases', entityId: 'ud' }]);
    expect([online[0]!.eventTs, online[0]!.createdTs, v(online[0]!.values)]).toEqual([at(0, 20), R2, [1, 55, false]]);
  });
});
