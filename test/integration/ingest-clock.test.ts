/**
 * One hostile timestamp must not stop a source. The streaming pipeline runs on one event clock
 * (the newest event time accepted); a record dated 9999-12-30 would move it so far that every
 * later record counts as late, online values never change again, across restarts. Records dated
 * more than STRATA_MAX_FUTURE_SKEW (1 h) ahead of their arrival are dead-lettered instead; a store
 * that accepted one before that limit is repaired by retractFutureRecords (the admin route
 * POST /api/sources/{source}/retract-future) and a backfill.
 *
 * Clicks of u1 (user_clicks: clicks_1h sliding 1h hop 5m, clicks_24h sliding 24h hop 1h) at
 * S + 0, 5, 10 min (arriving at S + 11), + 20, 25, 30 (at S + 31), + 40 (at S + 41); S is a
 * 5-minute mark three hours ago. The hostile click (u9) arrives with the first batch.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { freshPlatforms } from '../helpers/feature-platform';
import { backfillDeps } from '../helpers/backfill-fixtures';
import { IngestService, sourceSegmentView, type IngestReport } from '../../shared/features/ingest/service';
import { IntervalLedger } from '../../shared/features/ledger/ledger';
import { retractFutureRecords } from '../../shared/features/ingest/future-records';
import { runBackfill } from '../../shared/features/backfill';
import type { Platform } from '../../shared/platform';

const MIN = 60_000;
const HOUR = 60 * MIN;
const S = Math.floor((Date.now() - 3 * HOUR) / (5 * MIN)) * 5 * MIN;
const HOSTILE = '9999-12-30T00:00:00.000Z';

/** A platform on its own Azurite and Redis database (the clock is per storage account). */
const { platform } = freshPlatforms('strata-clock-');

const click = (user: string, ts: number | string) => ({
  user_id: user,
  page: '/home',
  ts: typeof ts === 'string' ? ts : new Date(ts).toISOString(),
});
let seq = 0;
function ingestClicks(
  ingest: IngestService,
  receivedAt: number,
  clicks: Array<Record<string, unknown>>,
): Promise<IngestReport> {
  const first = seq;
  seq += clicks.length;
  return ingest.ingest({
    source: 'clicks',
    records: clicks.map((record, i) => ({ record, position: `partition 0, sequence ${first + i}` })),
    batch: { kind: 'eventhub', source: 'clicks', partition: '0', firstSeq: first, lastSeq: seq - 1 },
    receivedAt,
  });
}
const m = (minutes: number) => S + minutes * MIN;

async function onlineClicks(p: Platform, user = 'u1') {
  const [r] = await p.online.read([{ view: 'user_clicks', entityId: user }]);
  return r ? { eventTs: r.eventTs, clicks_1h: r.values.clicks_1h, clicks_24h: r.values.clicks_24h } : null;
}

describe('a record dated far in the future', () => {
  it('is dead-lettered with the reason; the source keeps updating its features, also after a restart', async () => {
    const p = await platform();
    const ingest = await p.ingest();
    const first = await ingestClicks(ingest, m(11), [
      click('u1', m(0)),
      click('u1', m(5)),
      click('u9', HOSTILE),
      click('u1', m(10)),
    ]);
    expect(first).toMatchObject({ accepted: 3, rejected: 1, late: 0 });
    const letters = await p.deadLetters.list('clicks');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ record: click('u9', HOSTILE), position: 'partition 0, sequence 2' });
    expect(letters[0]!.reason).toBe(
      `field "ts": event time ${HOSTILE} is more than 1h ahead of its arrival at ${new Date(m(11)).toISOString()} (STRATA_MAX_FUTURE_SKEW); fix the producer's clock`,
    );

    const second = await ingestClicks(ingest, m(31), [click('u1', m(20)), click('u1', m(25)), click('u1', m(30))]);
    expect(second).toMatchObject({ accepted: 3, rejected: 0, late: 0 });
    expect(await onlineClicks(p)).toEqual({ eventTs: m(30), clicks_1h: 6, clicks_24h: 6 });

    ingest.reset(); // a cold process warms its clock from the offline store
    const third = await ingestClicks(ingest, m(41), [click('u1', m(40))]);
    expect(third).toMatchObject({ accepted: 1, late: 0 });
    expect(await onlineClicks(p)).toEqual({ eventTs: m(40), clicks_1h: 7, clicks_24h: 7 });
  });

  it('a record just inside the allowed skew is accepted', async () => {
    const p = await platform();
    const r = await ingestClicks(await p.ingest(), m(11), [click('u1', m(11) + HOUR)]);
    expect(r).toMatchObject({ accepted: 1, rejected: 0 });
  });
});

describe('repairing a clock that a stored future record moved', () => {
  let p: Platform;
  let legacy: IngestService;
  beforeAll(async () => {
    p = await platform();
    // The store as it was before the skew limit: the hostile record was accepted.
    legacy = new IngestService({
      repo: p.repo,
      offline: await p.offline(),
      online: p.online,
      deadLetters: p.deadLetters,
      ledger: await p.ledger(),
      onlineBacklog: await p.onlineBacklog(),
      leases: p.leases,
      maxFutureSkewMs: Number.MAX_SAFE_INTEGER,
    });
    await ingestClicks(legacy, m(11), [click('u1', m(0)), click('u1', m(5)), click('u9', HOSTILE), click('u1', m(10))]);
  });

  it('the symptom: every later record is late, across a restart, and online values are dated in the future', async () => {
    expect((await ingestClicks(legacy, m(31), [click('u1', m(20)), click('u1', m(25)), click('u1', m(30))])).late).toBe(
      3,
    );
    expect((await ingestClicks(await p.ingest(), m(41), [click('u1', m(40))])).late).toBe(1);
    // clicks_24h falls to 0 a day after the last click (S + 10 min + 24 h, at least now + 21 h); the
    // value is dated there, far past the 1 h skew allowed. Not "now + 24 h": clicks_per_day changes at
    // the second UTC midnight after the clicks, which is before now + 24 h when the test runs at 00-03 UTC.
    expect((await onlineClicks(p))!.eventTs).toBeGreaterThan(Date.now() + 12 * HOUR);
  });

  it('a dry run reports what would go and changes nothing', async () => {
    const deps = {
      repo: p.repo,
      offline: await p.offline(),
      online: p.online,
      deadLetters: p.deadLetters,
      ledger: await p.ledger(),
    };
    const before = await onlineClicks(p);
    const report = await retractFutureRecords(deps, 'clicks', { maxFutureSkewMs: HOUR, dryRun: true });
    expect(report).toMatchObject({
      dryRun: true,
      records: 1,
      since: new Date(m(11)).toISOString(),
      clock: { before: HOSTILE, after: new Date(m(40)).toISOString() },
    });
    expect(report.views.user_clicks!.rowsRetracted).toBeGreaterThan(0);
    expect(await onlineClicks(p)).toEqual(before);
    expect(await p.deadLetters.list('clicks')).toEqual([]);
  });

  it('the repair and the backfill it names: the record is dead-lettered, nothing is dated ahead of time, new records update online values again', async () => {
    const ingest = await p.ingest();
    const deps = {
      repo: p.repo,
      offline: await p.offline(),
      online: p.online,
      deadLetters: p.deadLetters,
      ledger: await p.ledger(),
      ingest,
    };
    const report = await retractFutureRecords(deps, 'clicks', { maxFutureSkewMs: HOUR });
    expect(report).toMatchObject({
      dryRun: false,
      records: 1,
      since: new Date(m(11)).toISOString(),
      sourceSegments: { retracted: 1, rewritten: 0 },
      conflicts: 0,
      clock: { before: HOSTILE, after: new Date(m(40)).toISOString() },
      backfill: { views: ['user_clicks', 'user_purchases'], from: new Date(m(11)).toISOString() },
    });
    expect(report.views.user_clicks!.onlineForgotten).toBe(2); // u1 and u9
    const letters = await p.deadLetters.list('clicks');
    expect(letters.map((l) => [l.record, l.receivedAt])).toEqual([
      [click('u9', HOSTILE), new Date(m(11)).toISOString()],
    ]);
    expect(letters[0]!.reason).toMatch(/is more than 1h ahead of its arrival .*retracted from the offline store/);
    // Running it again finds nothing.
    expect((await retractFutureRecords(deps, 'clicks', { maxFutureSkewMs: HOUR })).records).toBe(0);

    const offline = await p.offline();
    const src = await offline.readRows(sourceSegmentView('clicks'), {});
    expect(src.map((r) => r.eventTs).sort((a, b) => a - b)).toEqual([m(0), m(5), m(10), m(20), m(25), m(30), m(40)]);
    const heads = await deps.ledger.heads();
    expect(heads.get('user_clicks')!.watermark).toBe(m(11) + 1);

    const b = report.backfill!;
    await runBackfill(
      await backfillDeps(p),
      { views: b.views, from: Date.parse(b.from), to: Date.parse(b.to), intervalMs: 24 * HOUR, maxParallel: 1 },
      { jobId: 'bf-clock' },
    );
    const rows = await offline.readRows('user_clicks', {});
    expect(rows.filter((r) => r.eventTs > Date.now())).toEqual([]);
    const u1 = rows.filter((r) => r.entityId === 'u1');
    expect(u1.find((r) => r.eventTs === m(40))!.values).toMatchObject({ clicks_1h: 7, clicks_24h: 7 });
    const newest = u1.sort((x, y) => y.eventTs - x.eventTs || y.createdTs - x.createdTs)[0]!;
    expect(await onlineClicks(p)).toEqual({
      eventTs: newest.eventTs,
      clicks_1h: newest.values.clicks_1h,
      clicks_24h: 7,
    });

    const now = Math.floor(Date.now() / (5 * MIN)) * 5 * MIN;
    const fresh = await ingestClicks(ingest, now + MIN, [click('u1', now)]);
    expect(fresh).toMatchObject({ accepted: 1, late: 0 });
    expect(await onlineClicks(p)).toEqual({ eventTs: now, clicks_1h: 1, clicks_24h: 8 });
  });
});
