import { describe, expect, it } from 'vitest';
import { FeaturePipeline } from '../../shared/features/compute/pipeline';
import { computeView } from '../../shared/features/compute/transform';
import { validateRecords, type ValidRecord } from '../../shared/features/ingest/validate';
import { churnRepo } from '../../shared/definitions/churn';
import type { FeatureRow } from '../../shared/features/definitions/values';
import { HOUR, MIN, at, newestPerTime, prng, rec, testRepo } from '../helpers/feature-fixtures';

describe('FeaturePipeline on the churn repo', () => {
  const day = 24 * HOUR;
  const t = (iso: string) => Date.parse(iso);
  const valid = (source: string, records: object[], receivedAt: number) => {
    const { accepted, rejected } = validateRecords(
      churnRepo,
      source,
      records.map((record, i) => ({ record, position: i })),
      { receivedAt },
    );
    expect(rejected).toEqual([]);
    return accepted;
  };

  it('computes clicks, purchases and the derived engagement features for a user', () => {
    const p = new FeaturePipeline(churnRepo);
    const clicks = p.ingest(
      'clicks',
      valid(
        'clicks',
        [
          { user_id: 'u1', page: 'home', ts: '2024-05-01T10:00:00Z' },
          { user_id: 'u1', page: 'shoes', ts: '2024-05-01T10:20:00Z' },
          { user_id: 'u1', page: 'home', ts: '2024-05-01T10:40:00Z', session_ms: 1200 },
        ],
        t('2024-05-01T10:41:00Z'),
      ),
    );
    const lastClick = clicks.rows.get('user_clicks')!.at(-1)!;
    expect(lastClick).toMatchObject({
      entityId: 'u1',
      eventTs: t('2024-05-01T10:40:00Z'),
      createdTs: t('2024-05-01T10:41:00Z'),
    });
    expect(lastClick.values).toEqual({
      clicks_1h: 3,
      clicks_24h: 3,
      distinct_pages_24h: 2,
      last_page: 'home',
      clicks_per_day: 0,
    });

    const purchases = p.ingest(
      'purchases',
      valid(
        'purchases',
        [
          { user_id: 'u1', order_id: 'o1', amount: 30, currency: 'EUR', ts: '2024-05-01T10:45:00Z' },
          { user_id: 'u1', order_id: 'o2', amount: 120, currency: 'EUR', ts: '2024-05-01T10:50:00Z' },
        ],
        t('2024-05-01T10:51:00Z'),
      ),
    );
    expect(purchases.rows.get('user_purchases')!.at(-1)!.values).toEqual({
      purchases_7d: 2,
      spend_7d: 150,
      avg_order_30d: 75,
      max_order_30d: 120,
      big_order: true,
    });
    // spend_7d / max(clicks_24h, 1) = 150 / 3
    expect(purchases.rows.get('user_engagement')!.at(-1)!).toMatchObject({
      eventTs: t('2024-05-01T10:50:00Z'),
      values: { spend_per_click: 50, is_active: true },
    });

    // Two days of silence from everyone: windows empty on the shared clock, engagement follows.
    const later = p.flush(t('2024-05-01T10:50:00Z') + 2 * day);
    expect(later.rows.get('user_clicks')!.at(-1)!.values).toMatchObject({
      clicks_1h: 0,
      clicks_24h: 0,
      last_page: null,
    });
    expect(later.rows.get('user_engagement')!.at(-1)!.values).toEqual({ spend_per_click: 150, is_active: true }); // purchases_7d still 2
  });

  it('the day’s click count appears when the day is over', () => {
    const p = new FeaturePipeline(churnRepo, { views: ['user_clicks'] });
    p.ingest(
      'clicks',
      valid(
        'clicks',
        [
          { user_id: 'u1', page: 'a', ts: '2024-05-01T23:00:00Z' },
          { user_id: 'u1', page: 'b', ts: '2024-05-01T23:30:00Z' },
        ],
        t('2024-05-01T23:31:00Z'),
      ),
    );
    const next = p.ingest(
      'clicks',
      valid('clicks', [{ user_id: 'u2', page: 'a', ts: '2024-05-02T00:05:00Z' }], t('2024-05-02T00:06:00Z')),
    );
    expect(next.rows.get('user_clicks')!.find((r) => r.entityId === 'u1')).toMatchObject({
      eventTs: t('2024-05-02T00:00:00Z'),
      values: { clicks_per_day: 2, clicks_1h: 1, clicks_24h: 2 },
    });
  });
});

describe('FeaturePipeline: train/serve consistency across the DAG', () => {
  /** Interleaved streams of events and orders, in arrival order, slightly out of event order. */
  function streams(seed: number): Array<{ source: 'events' | 'orders'; records: ValidRecord[] }> {
    const r = prng(seed);
    const batches: Array<{ source: 'events' | 'orders'; records: ValidRecord[] }> = [];
    let clock = at(0);
    let order = 0;
    for (let b = 0; b < 60; b++) {
      const source = r() < 0.7 ? 'events' : 'orders';
      const records: ValidRecord[] = [];
      const n = 1 + Math.floor(r() * 8);
      for (let i = 0; i < n; i++) {
        const eventTs = clock - Math.floor(r() * 3 * MIN);
        const user = `u${Math.floor(r() * 4)}`;
        records.push(
          source === 'events'
            ? rec(
                'events',
                {
                  user_id: user,
                  page: ['a', 'b', 'c'][Math.floor(r() * 3)]!,
                  amount: Math.round(r() * 100),
                  ts: eventTs,
                },
                eventTs,
                clock,
              )
            : rec(
                'orders',
                { user_id: user, order_id: `o${order++}`, amount: Math.round(r() * 500) / 10, ts: eventTs },
                eventTs,
                clock,
              ),
        );
      }
      batches.push({ source, records });
      clock += Math.floor(r() * 6 * MIN);
    }
    return batches;
  }

  it('streaming batch by batch ends with the rows of one pass per view in DAG order', () => {
    const batches = streams(11);
    const end = at(24 * 60);
    const p = new FeaturePipeline(testRepo, { views: ['slide', 'order_totals'] }); // and `combined`, downstream
    expect(p.views).toEqual(['slide', 'order_totals', 'combined']);
    const streamed = new Map<string, FeatureRow[]>();
    const collect = (rows: Map<string, FeatureRow[]>) => {
      for (const [v, list] of rows) streamed.set(v, [...(streamed.get(v) ?? []), ...list]);
    };
    for (const b of batches) {
      const r = p.ingest(b.source, b.records);
      expect(r.late).toEqual([]);
      expect(r.problems).toEqual([]);
      collect(r.rows);
    }
    collect(p.flush(end).rows);

    const all = (source: string) => batches.filter((b) => b.source === source).flatMap((b) => b.records);
    const slide = computeView(testRepo, 'slide', all('events'), { to: end }).rows;
    const orderTotals = computeView(testRepo, 'order_totals', all('orders'), { to: end }).rows;
    const combined = computeView(testRepo, 'combined', { slide, order_totals: orderTotals }, { to: end }).rows;

    expect(newestPerTime(streamed.get('slide')!)).toEqual(newestPerTime(slide));
    expect(newestPerTime(streamed.get('order_totals')!)).toEqual(newestPerTime(orderTotals));
    expect(newestPerTime(streamed.get('combined')!)).toEqual(newestPerTime(combined));
    expect(combined.length).toBeGreaterThan(50);
  });

  it('feeds rows of a view it does not compute (read back from the offline store) to its consumers', () => {
    const p = new FeaturePipeline(testRepo, { views: ['slide'] });
    expect(p.views).toEqual(['slide', 'combined']);
    const r = p.ingestRows('order_totals', [
      { entityId: 'u1', eventTs: at(0), createdTs: at(0), values: { orders_1h: 2, spend_1h: 9 } },
    ]);
    expect(r.rows.get('combined')).toEqual([
      { entityId: 'u1', eventTs: at(0), createdTs: at(0), values: { spend_per_event: 9, has_orders: true } },
    ]);
  });
});
