/**
 * The sample feature repo: users' clicks and purchases -> churn features.
 *
 *   churnRepo                      the checked repo (defineRepo) used by tests; `npm start` serves it plus platform sources
 *   user                           entity keyed by user_id
 *   clicks, purchases              sources (Event Hubs hubs "clicks", "purchases"; files too)
 *   churnLabels                    the label source `churn_labels` (user_id, ts, churned): what the churn
 *                                  model learns; `strata produce` sends labels that follow the generator's known signal
 *   userClicks, userPurchases      windowed views over the sources
 *   userEngagement                 a derived view over both (the DAG)
 *   churnV1                        the feature service a churn model reads
 */
import { z } from 'zod';
import {
  defineRepo,
  entity,
  featureService,
  featureView,
  source,
  sliding,
  tumbling,
} from '../features/definitions/language';

/** Event times arrive as ISO-8601 strings or epoch milliseconds (CSV files: digits). */
const eventTime = z.union([z.string(), z.number()]);

export const user = entity({
  name: 'user',
  joinKey: 'user_id',
  description: 'A signed-up user of the shop.',
});

export const clicks = source({
  name: 'clicks',
  description: 'Page views from the web front end.',
  schema: z.object({
    user_id: z.string().min(1),
    page: z.string().min(1),
    ts: eventTime,
    /** How long the session had lasted when the click happened. */
    session_ms: z.number().nonnegative().optional(),
  }),
  eventTime: 'ts',
  stream: { hub: 'clicks' },
  file: true,
});

export const purchases = source({
  name: 'purchases',
  description: 'Completed orders; an order sent again (same order_id) replaces the first.',
  schema: z.object({
    user_id: z.string().min(1),
    order_id: z.string().min(1),
    amount: z.number().nonnegative(),
    currency: z.enum(['EUR', 'USD', 'GBP']),
    ts: eventTime,
  }),
  eventTime: 'ts',
  id: 'order_id',
  stream: { hub: 'purchases' },
  file: true,
});

export const churnLabels = source({
  name: 'churn_labels',
  description: 'Churn outcomes as they become known: one record per user and time, churned or not.',
  schema: z.object({
    user_id: z.string().min(1),
    ts: eventTime,
    churned: z.boolean(),
  }),
  eventTime: 'ts',
  entity: user,
  stream: { hub: 'churn_labels' },
  file: true,
});

export const userClicks = featureView({
  name: 'user_clicks',
  entity: user,
  input: clicks,
  ttl: '2d',
  features: (f) => ({
    clicks_1h: f.count(sliding('1h', { hop: '5m' }), { description: 'Clicks in the last hour.' }),
    clicks_24h: f.count(sliding('24h', { hop: '1h' })),
    distinct_pages_24h: f.distinctCount('page', sliding('24h', { hop: '1h' })),
    last_page: f.last('page', sliding('24h', { hop: '1h' })),
    clicks_per_day: f.count(tumbling('1d'), { description: 'Clicks on the last full UTC day.' }),
  }),
});

export const userPurchases = featureView({
  name: 'user_purchases',
  entity: user,
  input: purchases,
  ttl: '60d',
  features: (f) => ({
    purchases_7d: f.count(sliding('7d', { hop: '1h' })),
    spend_7d: f.sum('amount', sliding('7d', { hop: '1h' })),
    avg_order_30d: f.mean('amount', sliding('30d', { hop: '1d' })),
    max_order_30d: f.max('amount', sliding('30d', { hop: '1d' })),
    big_order: f.expr('bool', (r) => r.amount >= 100, { description: 'Whether the latest order was 100 or more.' }),
  }),
});

export const userEngagement = featureView({
  name: 'user_engagement',
  entity: user,
  input: [userClicks, userPurchases],
  ttl: '2d',
  features: (f) => ({
    spend_per_click: f.expr(
      'float',
      (r) => (r.user_purchases.spend_7d ?? 0) / Math.max(r.user_clicks.clicks_24h ?? 0, 1),
    ),
    is_active: f.expr('bool', (r) => (r.user_clicks.clicks_24h ?? 0) > 0 || (r.user_purchases.purchases_7d ?? 0) > 0),
  }),
});

export const churnV1 = featureService({
  name: 'churn_v1',
  description: 'Inputs of the churn model, in model input order.',
  features: [
    userClicks.select('clicks_1h', 'clicks_24h', 'distinct_pages_24h'),
    userPurchases.select('purchases_7d', 'spend_7d', 'avg_order_30d', 'max_order_30d'),
    'user_engagement:spend_per_click',
    'user_engagement:is_active',
  ],
});

/** The sample's definitions, for apps that add their own beside them (shared/definitions/index.ts). */
export const churnRepoSpec = {
  entities: [user],
  sources: [clicks, purchases, churnLabels],
  views: [userClicks, userPurchases, userEngagement],
  services: [churnV1],
};

export const churnRepo = defineRepo(churnRepoSpec);
