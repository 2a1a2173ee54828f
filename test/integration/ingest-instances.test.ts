/**
 * Ingest on several instances sharing one storage account and one Redis, as Azure scales the app
 * out: clicks and purchases of one user are ingested by different instances (their hubs'
 * partitions are owned by different hosts), a partition moves between instances mid-stream, and
 * the stores end up exactly as one instance ingesting the same batches leaves them.
 *
 * Each "instance" is a platform of its own (its own IngestService, offline store client, segment
 * cache and Redis connection) on the shared storage; the single-instance run uses another
 * storage account and Redis database.
 *
 * Data: users u1..u6 over three hours; a click per user every 4 minutes, a purchase of
 * 10 * (user number) every 30 minutes. Partition of a user: u1, u3, u5 -> 0; u2, u4, u6 -> 1.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { freshPlatforms } from '../helpers/feature-platform';
import type { Platform } from '../../shared/platform';
import { sourceSegmentView, type IngestService } from '../../shared/features/ingest/service';
import type { FeatureValue } from '../../shared/features/definitions/values';
import { compactView } from '../../shared/features/offline/compaction';
import { eventDay } from '../../shared/features/offline/segment-id';

const MIN = 60_000;
const HOUR = 60 * MIN;
const S = Math.floor((Date.now() - 4 * HOUR) / HOUR) * HOUR;
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
const partitionOf = (user: string) => String((Number(user.slice(1)) - 1) % 2);

const { instances } = freshPlatforms('strata-instances-', 11);

interface Batch {
  source: 'clicks' | 'purchases';
  partition: string;
  records: Array<Record<string, unknown>>;
}

/** Event Hubs batches of `perBatch` events per partition, in event-time order, numbered per partition; the partitions' batches alternate, as a consumer reading them all at once delivers them. */
function hubBatches(source: 'clicks' | 'purchases', events: Array<Record<string, unknown>>, perBatch: number): Batch[] {
  const byPartition = new Map<string, Array<Record<string, unknown>>>();
  for (const e of events) {
    const p = partitionOf(String(e.user_id));
    byPartition.set(p, [...(byPartition.get(p) ?? []), e]);
  }
  const lanes = [...byPartition].sort().map(([partition, list]) => {
    const batches: Batch[] = [];
    for (let i = 0; i < list.length; i += perBatch)
      batches.push({ source, partition, records: list.slice(i, i + perBatch) });
    return batches;
  });
  const out: Batch[] = [];
  for (let i = 0; i < Math.max(...lanes.map((l) => l.length)); i++) for (const l of lanes) if (l[i]) out.push(l[i]!);
  return out;
}

const clicks: Array<Record<string, unknown>> = [];
const purchases: Array<Record<string, unknown>> = [];
for (let t = 0; t < 3 * HOUR; t += 4 * MIN)
  USERS.forEach((u, i) =>
    clicks.push({ user_id: u, page: `/p${(t / MIN + i) % 3}`, ts: new Date(S + t + i * 1000).toISOString() }),
  );
for (let t = 0; t < 3 * HOUR; t += 30 * MIN) {
  USERS.forEach((u, i) =>
    purchases.push({
      user_id: u,
      order_id: `${u}-${t}`,
      amount: 10 * (i + 1),
      currency: 'EUR',
      ts: new Date(S + t + 2 * MIN + i * 1000).toISOString(),
    }),
  );
}

/** Sequence numbers continue per (source, partition) like a hub's. */
function ingestor() {
  const next = new Map<string, number>();
  return (ingest: IngestService, b: Batch) => {
    const key = `${b.source}/${b.partition}`;
    const first = next.get(key) ?? 0;
    next.set(key, first + b.records.length);
    return ingest.ingest({
      source: b.source,
      records: b.records.map((record, i) => ({ record, position: `partition ${b.partition}, sequence ${first + i}` })),
      batch: {
        kind: 'eventhub',
        source: b.source,
        partition: b.partition,
        firstSeq: first,
        lastSeq: first + b.records.length - 1,
      },
    });
  };
}

/** Clicks `first`..`first + count - 1` of `list` as one Event Hubs batch of `partition` (sequence numbers = positions in `list`). */
function clickBatch(ingest: IngestService, partition: string, list: typeof clicks, first: number, count: number) {
  return ingest.ingest({
    source: 'clicks',
    records: list
      .slice(first, first + count)
      .map((record, i) => ({ record, position: `partition ${partition}, sequence ${first + i}` })),
    batch: { kind: 'eventhub', source: 'clicks', partition, firstSeq: first, lastSeq: first + count - 1 },
  });
}

/** A view as stored offline: the newest value per (entity, event time). */
async function offlineView(p: Platform, view: string): Promise<Record<string, Record<string, FeatureValue>>> {
  const newest = new Map<string, { createdTs: number; values: Record<string, FeatureValue> }>();
  for (const r of await (await p.offline()).readRows(view)) {
    const key = `${r.entityId}@${new Date(r.eventTs).toISOString()}`;
    const was = newest.get(key);
    if (!was || r.createdTs >= was.createdTs) newest.set(key, { createdTs: r.createdTs, values: r.values });
  }
  return Object.fromEntries([...newest].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.values]));
}

async function onlineValues(p: Platform, view: string): Promise<Record<string, unknown>> {
  const rows = await p.online.read(USERS.map((entityId) => ({ view, entityId })));
  return Object.fromEntries(
    USERS.map((u, i) => [u, rows[i] ? { eventTs: rows[i]!.eventTs, ...rows[i]!.values } : null]),
  );
}

const VIEWS = ['user_clicks', 'user_purchases', 'user_engagement'];

async function singleInstanceRun(batches: Batch[]): Promise<Platform> {
  const [p] = instances(1);
  const ingest = await p!.ingest();
  const send = ingestor();
  for (const b of batches) await send(ingest, b);
  return p!;
}

describe('ingest on several instances sharing one storage', () => {
  const clickBatches = hubBatches('clicks', clicks, 15);
  const purchaseBatches = hubBatches('purchases', purchases, 6);
  let single: Platform;

  beforeAll(async () => {
    // The order the single instance sees: click and purchase batches alternating.
    const order: Batch[] = [];
    for (let i = 0; i < Math.max(clickBatches.length, purchaseBatches.length); i++)
      order.push(...[clickBatches[i], purchaseBatches[i]].filter((b): b is Batch => !!b));
    single = await singleInstanceRun(order);
  }, 240_000);

  it('a derived view over inputs ingested by two instances at once equals the single-instance result', async () => {
    const [a, b] = instances(2);
    const [ia, ib] = [await a!.ingest(), await b!.ingest()];
    const send = ingestor();
    // Instance A owns the clicks hub, B the purchases hub; their batches run at the same time.
    await Promise.all([
      (async () => {
        for (const batch of clickBatches) await send(ia, batch);
      })(),
      (async () => {
        for (const batch of purchaseBatches) await send(ib, batch);
      })(),
    ]);
    for (const view of VIEWS) expect(await offlineView(a!, view), view).toEqual(await offlineView(single, view));
    for (const view of VIEWS) expect(await onlineValues(b!, view), view).toEqual(await onlineValues(single, view));

    // By hand, u2 at the end: 45 clicks in 3 h (24 h window), 6 purchases of 20 in the last 7 days.
    const engagement = (await onlineValues(a!, 'user_engagement')).u2 as Record<string, unknown>;
    expect(engagement).toMatchObject({ spend_per_click: 120 / 45, is_active: true });
  }, 240_000);

  it('a partition that moves to another instance and back continues its windows as one instance would', async () => {
    const [a, b] = instances(2);
    const [ia, ib] = [await a!.ingest(), await b!.ingest()];
    const send = ingestor();
    // B warms first on purchases; clicks partition 0 goes A -> B -> A, partition 1 stays on B.
    for (const batch of purchaseBatches) await send(ib, batch);
    const p0 = clickBatches.filter((x) => x.partition === '0');
    const p1 = clickBatches.filter((x) => x.partition === '1');
    const third = Math.ceil(p0.length / 3);
    for (const batch of p1.slice(0, 2)) await send(ib, batch);
    for (const batch of p0.slice(0, third)) await send(ia, batch);
    for (const batch of p0.slice(third, 2 * third)) await send(ib, batch);
    for (const batch of p0.slice(2 * third)) await send(ia, batch); // A held it before: it must not reuse its stale windows
    for (const batch of p1.slice(2)) await send(ib, batch);

    // The single-instance run saw the same batches in another order; every value is the same.
    for (const view of VIEWS) expect(await offlineView(b!, view), view).toEqual(await offlineView(single, view));
    expect(await onlineValues(a!, 'user_clicks')).toEqual(await onlineValues(single, 'user_clicks'));
    // By hand: u1 clicked every 4 minutes for 3 hours: 15 in the last hour, 45 in the last day.
    expect((await onlineValues(a!, 'user_clicks')).u1).toMatchObject({ clicks_1h: 15, clicks_24h: 45 });
  }, 240_000);

  it('a batch delivered again in other bounds after its owner died (committed, not checkpointed) counts nothing twice', async () => {
    const [a, b] = instances(2);
    const [ia, ib] = [await a!.ingest(), await b!.ingest()];
    const p0 = clicks.filter((c) => partitionOf(String(c.user_id)) === '0');
    const p1 = clicks.filter((c) => partitionOf(String(c.user_id)) === '1');
    // B holds partition 1 (its stream is warm); A owns partition 0 and commits 0..59, then dies
    // before its checkpoint. B takes partition 0 over and reads from the checkpoint (-1) with more
    // events arrived meanwhile: 0..99, then the rest.
    await clickBatch(ib, '1', p1, 0, p1.length);
    await clickBatch(ia, '0', p0, 0, 60);
    const again = await clickBatch(ib, '0', p0, 0, 100);
    expect(again.accepted).toBe(40);
    await clickBatch(ib, '0', p0, 100, p0.length - 100);
    const stored = (await (await b!.offline()).readRows(sourceSegmentView('clicks'))).map(
      (r) => `${r.entityId}@${r.eventTs}`,
    );
    expect(stored.length).toBe(clicks.length);
    expect(new Set(stored).size).toBe(clicks.length);
    // By hand: u1 clicked every 4 minutes for 3 hours: 15 in the last hour, 45 in the last day.
    expect((await onlineValues(b!, 'user_clicks')).u1).toMatchObject({ clicks_1h: 15, clicks_24h: 45 });
    expect(await onlineValues(b!, 'user_clicks')).toEqual(await onlineValues(single, 'user_clicks'));
  }, 240_000);

  it('two owners ingesting overlapping batches of one partition at once (a rebalance mid-stream) store every event once', async () => {
    const [a, b] = instances(2);
    const [ia, ib] = [await a!.ingest(), await b!.ingest()];
    const p0 = clicks.filter((c) => partitionOf(String(c.user_id)) === '0');
    await clickBatch(ia, '0', p0, 0, 40);
    // B takes partition 0 from A while A is still ingesting 40..89: B reads from A's checkpoint
    // (39) and ingests 40..134 at the same time.
    const [fromA, fromB] = await Promise.all([
      clickBatch(ia, '0', p0, 40, 50),
      clickBatch(ib, '0', p0, 40, p0.length - 40),
    ]);
    // One of them stored the overlap, the other only what the first had not (or nothing).
    if (fromA.status === 'already-ingested') expect(fromB.accepted).toBe(p0.length - 40);
    else expect([fromA.accepted, fromB.accepted]).toEqual([50, p0.length - 90]);
    const stored = (await (await b!.offline()).readRows(sourceSegmentView('clicks'))).map(
      (r) => `${r.entityId}@${r.eventTs}`,
    );
    expect(new Set(stored).size).toBe(p0.length);
    expect(stored.length).toBe(p0.length);
    // The views equal one instance ingesting partition 0 as 0..39 then 40..134.
    const [one] = instances(1);
    const ione = await one!.ingest();
    await clickBatch(ione, '0', p0, 0, 40);
    await clickBatch(ione, '0', p0, 40, p0.length - 40);
    expect(await offlineView(a!, 'user_clicks')).toEqual(await offlineView(one!, 'user_clicks'));
    expect(await onlineValues(b!, 'user_clicks')).toEqual(await onlineValues(one!, 'user_clicks'));
    // By hand: u1 clicked every 4 minutes for 3 hours: 15 in the last hour, 45 in the last day.
    expect((await onlineValues(a!, 'user_clicks')).u1).toMatchObject({ clicks_1h: 15, clicks_24h: 45 });
  }, 240_000);
});

describe('each source on its own event clock', () => {
  it("an upload of one source dated now does not make another source's stream records late", async () => {
    const [p] = instances(1);
    const ingest = await p!.ingest();
    const now = Date.now();
    const upload = await ingest.ingest({
      source: 'purchases',
      records: [
        {
          record: {
            user_id: 'u1',
            order_id: 'late-test',
            amount: 5,
            currency: 'EUR',
            ts: new Date(now - MIN).toISOString(),
          },
          position: 'line 1',
        },
      ],
      batch: { kind: 'file', source: 'purchases', sha256: 'a'.repeat(64) },
    });
    expect(upload).toMatchObject({ accepted: 1, late: 0 });
    // Clicks two hours old (more than the 1 h lateness behind the purchases' clock).
    const stream = await ingest.ingest({
      source: 'clicks',
      records: [0, 1, 2].map((i) => ({
        record: { user_id: 'u1', page: '/home', ts: new Date(now - 2 * HOUR + i * MIN).toISOString() },
        position: `sequence ${i}`,
      })),
      batch: { kind: 'eventhub', source: 'clicks', partition: '0', firstSeq: 0, lastSeq: 2 },
    });
    expect(stream).toMatchObject({ accepted: 3, late: 0 });
    const [row] = await p!.online.read([{ view: 'user_clicks', entityId: 'u1' }]);
    expect(row?.values).toMatchObject({ clicks_24h: 3 });
  }, 120_000);
});

describe("a partition's committed mark (the state of its ingest lease)", () => {
  const p0 = clicks.filter((c) => partitionOf(String(c.user_id)) === '0');
  const MARK = 'ingest/clicks/0';
  const markOf = async (p: Platform) => (await p.leases()).run(MARK, (lease) => lease.read());
  const setMark = async (p: Platform, state: unknown) => (await p.leases()).run(MARK, (lease) => lease.write(state));
  const daysOf = (first: number, count: number) => [
    ...new Set(p0.slice(first, first + count).map((c) => eventDay(Date.parse(String(c.ts))))),
  ];
  const batchOf = (first: number, count: number) => ({
    kind: 'eventhub' as const,
    source: 'clicks',
    partition: '0',
    firstSeq: first,
    lastSeq: first + count - 1,
  });
  /** Every click of partition 0 stored once, and u1's windows as one instance ingesting them in order leaves them. */
  async function expectEachClickOnce(p: Platform): Promise<void> {
    const stored = (await (await p.offline()).readRows(sourceSegmentView('clicks'))).map(
      (r) => `${r.entityId}@${r.eventTs}`,
    );
    expect(new Set(stored).size).toBe(p0.length);
    expect(stored.length).toBe(p0.length);
    // By hand: u1 clicked every 4 minutes for 3 hours: 15 in the last hour, 45 in the last day.
    expect((await onlineValues(p, 'user_clicks')).u1).toMatchObject({ clicks_1h: 15, clicks_24h: 45 });
  }

  it('moves to the last sequence number of each committed batch, with nothing left pending', async () => {
    const [a] = instances(1);
    const ia = await a!.ingest();
    await clickBatch(ia, '0', p0, 0, 30);
    expect(await markOf(a!)).toEqual({ seq: 29, pending: [] });
    await clickBatch(ia, '0', p0, 30, 30);
    expect(await markOf(a!)).toEqual({ seq: 59, pending: [] });
    // A redelivery of a committed batch leaves it as it is.
    expect((await clickBatch(ia, '0', p0, 0, 30)).status).toBe('already-ingested');
    expect(await markOf(a!)).toEqual({ seq: 59, pending: [] });
  }, 120_000);

  it('still trims a redelivery in other bounds after the source segments were compacted (the lineage no longer names the batches)', async () => {
    const [a, b] = instances(2);
    const ia = await a!.ingest();
    await clickBatch(ia, '0', p0, 0, 30);
    await clickBatch(ia, '0', p0, 30, 30);
    const compacted = await compactView(await a!.offline(), sourceSegmentView('clicks'));
    expect(compacted.some((c) => c.status === 'compacted')).toBe(true);
    // A died before its checkpoint; B reads partition 0 from the start with more events arrived.
    const ib = await b!.ingest();
    expect((await clickBatch(ib, '0', p0, 0, 100)).accepted).toBe(40);
    await clickBatch(ib, '0', p0, 100, p0.length - 100);
    await expectEachClickOnce(b!);
  }, 120_000);

  it('a holder killed between its commit and the mark moving: the next owner counts the committed batch, not the uncommitted one', async () => {
    const [a, b] = instances(2);
    const ia = await a!.ingest();
    await clickBatch(ia, '0', p0, 0, 30);
    await clickBatch(ia, '0', p0, 30, 30);
    // What a kill -9 leaves: 30..59 written down as pending and committed, the mark not moved past
    // it; and 60..89 pending by a holder killed before its commit.
    await setMark(a!, {
      seq: 29,
      pending: [
        { batch: batchOf(30, 30), days: daysOf(30, 30) },
        { batch: batchOf(60, 30), days: daysOf(60, 30) },
      ],
    });
    const ib = await b!.ingest();
    expect((await clickBatch(ib, '0', p0, 30, 90)).accepted).toBe(60);
    expect(await markOf(b!)).toEqual({ seq: 119, pending: [] });
    await clickBatch(ib, '0', p0, 120, p0.length - 120);
    await expectEachClickOnce(b!);
  }, 120_000);

  it('a partition ingested before marks existed is read from its segments once, then has a mark', async () => {
    const [a, b] = instances(2);
    const ia = await a!.ingest();
    await clickBatch(ia, '0', p0, 0, 60);
    await setMark(a!, undefined); // the lease blob as an older version left it
    expect(await markOf(a!)).toBeUndefined();
    const ib = await b!.ingest();
    expect((await clickBatch(ib, '0', p0, 0, 100)).accepted).toBe(40);
    expect(await markOf(b!)).toEqual({ seq: 99, pending: [] });
    await clickBatch(ib, '0', p0, 100, p0.length - 100);
    await expectEachClickOnce(b!);
  }, 120_000);
});
