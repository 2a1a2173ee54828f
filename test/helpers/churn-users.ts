/**
 * The churn sample's users as the serving tests know them by hand, sent through the local
 * host's Event Hubs bus at recent times (every window of the features still covers them while a
 * test runs): u1 ordered once for 120 and clicked three times on two pages; u2 clicked once.
 * Resolves once u1's churn_v1 features are online.
 */
import { expect } from 'vitest';
import { eventually } from './host-process';
import { WAIT_MS } from './wait';
import { recentTimes } from './recent-times';

/** churn_v1's features in model input order, written out by hand (shared/definitions/churn.ts is what they pin). */
export const CHURN_V1 = [
  'user_clicks:clicks_1h',
  'user_clicks:clicks_24h',
  'user_clicks:distinct_pages_24h',
  'user_purchases:purchases_7d',
  'user_purchases:spend_7d',
  'user_purchases:avg_order_30d',
  'user_purchases:max_order_30d',
  'user_engagement:spend_per_click',
  'user_engagement:is_active',
];

/** u1's churn_v1 features by hand, in input order: 3 clicks on 2 pages, one order of 120 (120 per click), active. */
export const U1_CHURN_V1 = [3, 3, 2, 1, 120, 120, 120, 40, 1];

export async function ingestChurnUsers(baseUrl: string, keys: { admin: string; function: string }): Promise<void> {
  const { at } = recentTimes();
  const send = async (hub: string, events: unknown[]) => {
    const r = await fetch(`${baseUrl}/api/_local/eventhubs/${hub}?partitionKeyField=user_id`, {
      method: 'POST',
      headers: { 'x-functions-key': keys.admin, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(r.status, await r.text()).toBe(202);
  };
  const features = async (query: string) =>
    (
      (await (
        await fetch(`${baseUrl}/api/features/u1?${query}`, { headers: { 'x-functions-key': keys.function } })
      ).json()) as { features?: Record<string, unknown> }
    ).features ?? {};
  // Purchases first, then clicks, so each derived value is computed once from both inputs.
  await send('purchases', [{ user_id: 'u1', order_id: 'o1', amount: 120, currency: 'EUR', ts: at(15) }]);
  await eventually(
    async () => ((await features('view=user_purchases'))['user_purchases:spend_7d'] === 120 ? true : undefined),
    WAIT_MS,
    'u1 purchases online',
  );
  await send('clicks', [
    { user_id: 'u1', page: '/home', ts: at(0) },
    { user_id: 'u1', page: '/shop', ts: at(10) },
    { user_id: 'u1', page: '/shop', ts: at(20) },
    { user_id: 'u2', page: '/home', ts: at(5) },
  ]);
  await eventually(
    async () => {
      const f = await features('service=churn_v1');
      return f['user_clicks:clicks_1h'] === 3 && f['user_engagement:spend_per_click'] === 40 ? true : undefined;
    },
    WAIT_MS,
    'u1 clicks and engagement online',
  );
}
