/**
 * Builders for backfill, ledger, plan and lineage tests: the churn repo with its views revised
 * (a definition change: new versions), deterministic event streams over whole days, ingest in
 * arrival-order batches, and the deps a backfill runs with.
 */
import { defineRepo, featureView, type FeatureView } from '../../shared/features/definitions/language';
import type { FeatureRepo } from '../../shared/features/definitions/repo';
import type { Platform } from '../../shared/platform';
import type { IngestService, IngestReport } from '../../shared/features/ingest/service';
import { IntervalLedger } from '../../shared/features/ledger/ledger';
import type { BackfillDeps } from '../../shared/features/backfill';
import type { OnlineStore } from '../../shared/features/online/types';
import { churnRepoSpec, userClicks, userPurchases, userEngagement } from '../../shared/definitions/churn';
import { platformSources } from '../../shared/definitions/platform-sources';
import { prng } from './feature-fixtures';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;
export const MINUTE = 60_000;

/** The start of the UTC day `n` days before today. */
export const daysAgo = (n: number) => Math.floor(Date.now() / DAY) * DAY - n * DAY;

/** The churn repo (plus platform sources) with every view's revision raised: same logic, new versions. */
export function revisedChurnRepo(): FeatureRepo {
  const bump = <V extends FeatureView<string, any>>(v: V, extra: Record<string, unknown> = {}) =>
    featureView({ ...(v as unknown as Parameters<typeof featureView>[0]), revision: v.revision + 1, ...extra });
  const clicks = bump(userClicks);
  const purchases = bump(userPurchases);
  const engagement = bump(userEngagement, { input: [clicks, purchases] });
  return defineRepo({
    ...churnRepoSpec,
    sources: [...churnRepoSpec.sources, ...platformSources],
    views: [clicks, purchases, engagement],
  });
}

export interface Arrival {
  source: 'clicks' | 'purchases';
  events: Array<Record<string, unknown>>;
  /** When the batch arrived (the records' createdTs). */
  receivedAt: number;
}

/**
 * Clicks and purchases of `users` from `start` for `hours`, in batches as they would arrive
 * (one per source every `batchMinutes`), events slightly out of order but never later than a
 * view's lateness.
 */
export function arrivals(
  seed: number,
  start: number,
  hours: number,
  users = ['u1', 'u2', 'u3', 'u4'],
  batchMinutes = 30,
): Arrival[] {
  const r = prng(seed);
  const out: Arrival[] = [];
  let order = 0;
  let clicks: Array<Record<string, unknown>> = [];
  let purchases: Array<Record<string, unknown>> = [];
  const end = start + hours * HOUR;
  for (let t = start; t < end; t += 10 * MINUTE) {
    for (const u of users) {
      if (r() < 0.5)
        clicks.push({
          user_id: u,
          page: ['/home', '/shop', '/cart', '/help'][Math.floor(r() * 4)],
          ts: new Date(t - Math.floor(r() * 8 * MINUTE)).toISOString(),
        });
      if (r() < 0.04)
        purchases.push({
          user_id: u,
          order_id: `o${order++}`,
          amount: Math.round(r() * 3000) / 10,
          currency: 'EUR',
          ts: new Date(t - Math.floor(r() * 5 * MINUTE)).toISOString(),
        });
    }
    const next = t + 10 * MINUTE;
    if ((next - start) % (batchMinutes * MINUTE) === 0 || next >= end) {
      if (clicks.length) out.push({ source: 'clicks', events: clicks, receivedAt: t + MINUTE });
      // A second later than the clicks: a correction then always carries a newer createdTs.
      if (purchases.length) out.push({ source: 'purchases', events: purchases, receivedAt: t + MINUTE + 1000 });
      clicks = [];
      purchases = [];
    }
  }
  return out;
}

let batchSeq = 0;
/** Feed arrivals to an ingest service, each as its own Event Hubs batch. */
export async function ingestAll(
  ingest: IngestService,
  list: readonly Arrival[],
  partition = 'p',
): Promise<IngestReport[]> {
  const reports: IngestReport[] = [];
  for (const a of list) {
    const first = batchSeq;
    batchSeq += a.events.length;
    reports.push(
      await ingest.ingest({
        source: a.source,
        records: a.events.map((record, i) => ({ record, position: `test ${first + i}` })),
        batch: { kind: 'eventhub', source: a.source, partition, firstSeq: first, lastSeq: batchSeq - 1 },
        receivedAt: a.receivedAt,
      }),
    );
  }
  return reports;
}

/** What a backfill runs with on a test platform (optionally another repo, online store or ledger). */
export async function backfillDeps(
  p: Platform,
  o: { repo?: FeatureRepo; online?: OnlineStore; ledger?: IntervalLedger | null; now?: () => number } = {},
): Promise<BackfillDeps> {
  return {
    repo: o.repo ?? p.repo,
    offline: await p.offline(),
    online: o.online ?? p.online,
    ledger: o.ledger === undefined ? await p.ledger() : o.ledger,
    ...(o.now ? { now: o.now } : {}),
  };
}

/** Four days of clicks (from five days ago) uploaded to a running host as one file (one ingest batch): the backfill e2e tests' data. */
export async function uploadFourDaysOfClicks(baseUrl: string, functionKey: string): Promise<Response> {
  const clicks = arrivals(21, daysAgo(5), 4 * 24, ['u1', 'u2', 'u3'], 120)
    .filter((a) => a.source === 'clicks')
    .flatMap((a) => a.events);
  return fetch(`${baseUrl}/api/sources/clicks/files?name=clicks.jsonl`, {
    method: 'POST',
    headers: { 'x-functions-key': functionKey },
    body: clicks.map((c) => JSON.stringify(c)).join('\n'),
  });
}
