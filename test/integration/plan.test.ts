/**
 * The freshness plan on real Azurite: read from the interval ledger that ingest and backfills
 * keep, it lists exactly the days that need work and the backfills that would do it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { tempDir } from '../helpers/temp';
import { testPlatform } from '../helpers/feature-platform';
import { arrivals, backfillDeps, daysAgo, ingestAll, revisedChurnRepo, DAY, HOUR } from '../helpers/backfill-fixtures';
import { computePlan, caughtUpViews, viewStatus } from '../../shared/features/ledger/plan';
import { IntervalLedger } from '../../shared/features/ledger/ledger';
import { parseBackfillRequest, runBackfill } from '../../shared/features/backfill';
import { readOnlineFeatures } from '../../shared/features/online/read';
import { featureRepo } from '../../shared/definitions';
import type { Platform } from '../../shared/platform';
import { storageFor } from '../../shared/azure/storage';
import { LedgerTable } from '../../shared/azure/ledger-table';

const tmp = tempDir('plan-');
let azurite: AzuriteHandle;
let p: Platform;
let ledger: IntervalLedger;

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const D3 = daysAgo(3);

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  p = testPlatform({ storageConnection: azurite.connectionString, dataDir: path.join(tmp.dir, 'data') });
  ledger = await p.ledger();
  // Clicks and purchases from 01:00 three days ago until the morning of yesterday.
  await ingestAll(await p.ingest(), arrivals(31, D3 + HOUR, 52));
});
afterAll(async () => {
  await p?.online.close();
  await azurite?.stop();
  tmp.cleanup();
});

describe('computePlan', () => {
  it('a stream that is up to date has nothing to do, and its views have caught up', async () => {
    const plan = await computePlan({ repo: featureRepo, ledger });
    expect(plan.work).toEqual([]);
    expect(plan.backfills).toEqual([]);
    const clicks = plan.views.find((v) => v.view === 'user_clicks')!;
    expect(clicks).toMatchObject({
      caughtUp: true,
      lagMs: 0,
      days: { complete: 2, incomplete: 1, missing: 0, stale: 0, pending: 0 },
    });
    const flags = await caughtUpViews({ repo: featureRepo, ledger });
    expect(flags).toEqual({ user_clicks: true, user_purchases: true, user_engagement: true });
    // Serving can show (or act on) the flag beside each view's freshness.
    const [u1] = await readOnlineFeatures(featureRepo, p.online, ['u1'], { views: ['user_clicks'] }, Date.now(), flags);
    expect(u1!.views.user_clicks!.caughtUp).toBe(true);
  });

  it('after late data, lists exactly the days it reaches in its view and downstream, and one backfill for them', async () => {
    const ingest = await p.ingest();
    const report = await ingest.ingest({
      source: 'clicks',
      records: [
        { record: { user_id: 'u2', page: '/late', ts: new Date(D3 + 12 * HOUR).toISOString() }, position: 'late' },
      ],
      batch: { kind: 'eventhub', source: 'clicks', partition: 'late', firstSeq: 0, lastSeq: 0 },
      receivedAt: D3 + 2 * DAY + 6 * HOUR,
    });
    expect(report.late).toBe(1);
    const plan = await computePlan({ repo: featureRepo, ledger });
    // A 1-day tumbling window reaches two days past the record: D-3, D-2, D-1.
    const days = [day(D3), day(D3 + DAY), day(D3 + 2 * DAY)];
    expect(plan.work.map((w) => `${w.kind} ${w.view} ${w.day}`).sort()).toEqual(
      days.flatMap((d) => [`incomplete user_clicks ${d}`, `incomplete user_engagement ${d}`]).sort(),
    );
    expect(plan.work[0]!.reason).toBe('1 record arrived too late to be folded in');
    expect(plan.backfills).toEqual([
      { views: ['user_clicks'], from: new Date(D3).toISOString(), to: new Date(D3 + 3 * DAY).toISOString(), days: 3 },
    ]);

    // Running what the plan proposes leaves nothing to do.
    const deps = await backfillDeps(p, { ledger });
    await runBackfill(deps, parseBackfillRequest(featureRepo, plan.backfills[0]), { jobId: 'plan-1' });
    expect((await computePlan({ repo: featureRepo, ledger })).work).toEqual([]);
  });

  it('after a definition change, every day the changed views need is missing until a backfill computes it', async () => {
    const revised = revisedChurnRepo();
    const plan = await computePlan({ repo: revised, ledger });
    const days = [day(D3), day(D3 + DAY), day(D3 + 2 * DAY)];
    const missing = plan.work.filter((w) => w.kind === 'missing');
    expect(missing).toHaveLength(plan.work.length);
    expect(missing.filter((w) => w.view === 'user_clicks').map((w) => w.day)).toEqual(days);
    expect(missing.filter((w) => w.view === 'user_engagement').map((w) => w.day)).toEqual(days);
    expect(missing[0]!.reason).toMatch(/^computed for definition version [0-9a-f]{12}, not the current [0-9a-f]{12}$/);
    expect(plan.backfills.map((b) => b.views)).toEqual([['user_clicks', 'user_purchases']]);
    expect(plan.views.every((v) => !v.caughtUp && v.watermark === null)).toBe(true);
    expect(await caughtUpViews({ repo: revised, ledger })).toEqual({
      user_clicks: false,
      user_purchases: false,
      user_engagement: false,
    });

    const deps = await backfillDeps(p, { repo: revised, ledger });
    await runBackfill(deps, parseBackfillRequest(revised, plan.backfills[0]), { jobId: 'plan-2' });
    const after = await computePlan({ repo: revised, ledger });
    expect(after.work).toEqual([]);
    expect(after.views.find((v) => v.view === 'user_clicks')!.caughtUp).toBe(true);
  });

  it('a view whose watermark lags its source beyond the freshness target is stale, and not caught up', async () => {
    // A ledger of its own, written as a stream that stopped computing one view at 08:00.
    const lagging = new IntervalLedger(await LedgerTable.open(storageFor(p.config.storage), 'ledgerlagging'));
    const repo = featureRepo;
    const d = daysAgo(1);
    const src = repo.source('clicks');
    const view = repo.view('user_clicks');
    await lagging.recordStream({
      at: Date.now(),
      days: [
        {
          view: 'src.clicks',
          version: src.version,
          day: day(d),
          closesAt: d + DAY + HOUR,
          rows: 50,
          maxEventTs: d + 20 * HOUR,
          late: 0,
        },
        {
          view: 'user_clicks',
          version: view.version,
          day: day(d),
          closesAt: d + DAY + HOUR,
          rows: 20,
          maxEventTs: d + 8 * HOUR,
          late: 0,
        },
      ],
      heads: [
        {
          view: 'src.clicks',
          version: src.version,
          watermark: d + 20 * HOUR + 1,
          earliestEvent: d,
          newestEvent: d + 20 * HOUR,
        },
        { view: 'user_clicks', version: view.version, watermark: d + 8 * HOUR + 1 },
      ],
    });
    const strict = await computePlan({ repo, ledger: lagging }, { views: ['user_clicks'], freshness: 6 * HOUR });
    expect(strict.work.filter((w) => w.view === 'user_clicks').map((w) => `${w.kind} ${w.day}`)).toEqual([
      `stale ${day(d)}`,
    ]);
    expect(strict.views.find((v) => v.view === 'user_clicks')).toMatchObject({ caughtUp: false, lagMs: 12 * HOUR });
    const relaxed = await computePlan({ repo, ledger: lagging }, { views: ['user_clicks'], freshness: 14 * HOUR });
    expect(relaxed.work.filter((w) => w.view === 'user_clicks')).toEqual([]);

    const status = await viewStatus({ repo, ledger: lagging }, 'user_clicks', { freshness: 6 * HOUR });
    expect(status).toMatchObject({
      caughtUp: false,
      watermark: new Date(d + 8 * HOUR + 1).toISOString(),
      newestSourceEvent: new Date(d + 20 * HOUR).toISOString(),
    });
    expect(status.recent.map((e) => `${e.day} ${e.status} ${e.reason}`)).toEqual([`${day(d)} incomplete open`]);
  });
});
