/**
 * Churn history for training tests, sent like production data: the generator's synthetic users
 * (cli/generator: their clicks and purchases follow latent traits that also decide churn, the
 * known signal) over the last hours, through the local host's Event Hubs bus; once the offline
 * store holds them, one churn label per user (the label source `churn_labels`, from the
 * generator's own churn outcome) stamped after the features arrived, so "as known at the label's
 * time" sees them. Resolves with the window that covers the labels.
 */
import { expect } from 'vitest';
import { generateRecords, makeUsers } from '../../cli/generator';
import { labelTarget } from '../../cli/produce/labels';
import { featureRepo } from '../../shared/definitions';
import { storageFor } from '../../shared/azure/storage';
import { Manifest } from '../../shared/features/offline/manifest';
import { ManifestTable } from '../../shared/azure/manifest-table';
import { eventually } from './host-process';
import { WAIT_MS } from './wait';

export interface ChurnHistory {
  users: string[];
  /** Users with purchases too (every churn_v1 feature online). */
  buyers: string[];
  labels: number;
  positives: number;
  window: { from: string; to: string };
}

async function send(baseUrl: string, adminKey: string, hub: string, records: unknown[]): Promise<void> {
  for (let i = 0; i < records.length; i += 500) {
    const r = await fetch(`${baseUrl}/api/_local/eventhubs/${hub}?partitionKeyField=user_id`, {
      method: 'POST',
      headers: { 'x-functions-key': adminKey, 'content-type': 'application/json' },
      body: JSON.stringify(records.slice(i, i + 500)),
    });
    expect(r.status, await r.text()).toBe(202);
  }
}

export async function ingestChurnHistory(
  baseUrl: string,
  adminKey: string,
  storageConnection: string,
  o: { users: number; events: number; seed?: number },
): Promise<ChurnHistory> {
  const seed = o.seed ?? 7;
  const manifest = new Manifest(await ManifestTable.open(storageFor(storageConnection)));
  const rows = async (view: string) =>
    (await manifest.list({ view })).filter((r) => r.state === 'live').reduce((n, r) => n + r.rowCount, 0);
  const now = Date.now();
  const records = [
    ...generateRecords({ seed, users: o.users, events: o.events, from: now - 3 * 3_600_000, to: now - 120_000 }),
  ];
  const clicks = records.filter((r) => r.source === 'clicks').map((r) => (r as { record: unknown }).record);
  const purchases = records.filter((r) => r.source === 'purchases').map((r) => (r as { record: unknown }).record);
  await send(baseUrl, adminKey, 'purchases', purchases);
  await send(baseUrl, adminKey, 'clicks', clicks);
  await eventually(
    async () =>
      (await rows('src.clicks')) >= clicks.length && (await rows('src.purchases')) >= purchases.length
        ? true
        : undefined,
    WAIT_MS,
    `${clicks.length} clicks and ${purchases.length} purchases in the offline store`,
  );
  // The derived view follows its inputs within the same batches; give the last ones a moment to land.
  await eventually(
    async () => ((await rows('user_engagement')) > 0 ? true : undefined),
    WAIT_MS,
    'user_engagement rows offline',
  );

  const seen = new Set(records.map((r) => r.entityId));
  const buyers = new Set(records.filter((r) => r.source === 'purchases').map((r) => r.entityId));
  const users = makeUsers(seed, o.users).filter((u) => seen.has(u.id));
  const target = labelTarget(featureRepo, 'churn_labels')!;
  const t0 = Date.now() + 1_000;
  // One label per user, 10 ms apart in user order: distinct times, so the time split has a newest share.
  const labels = users.map((u, i) => target.toRecord({ entityId: u.id, ts: t0 + i * 10, label: u.churned ? 1 : 0 }));
  await send(baseUrl, adminKey, 'churn_labels', labels);
  await eventually(
    async () => ((await rows('src.churn_labels')) >= labels.length ? true : undefined),
    WAIT_MS,
    `${labels.length} churn labels in the offline store`,
  );
  return {
    users: users.map((u) => u.id),
    buyers: users.filter((u) => buyers.has(u.id)).map((u) => u.id),
    labels: labels.length,
    positives: users.filter((u) => u.churned).length,
    window: {
      from: new Date(now - 4 * 3_600_000).toISOString(),
      to: new Date(t0 + users.length * 10 + 1_000).toISOString(),
    },
  };
}
