/**
 * Small builders for feature tests: times, validated records, a compact repo to compute by hand.
 */
import { z } from 'zod';
import { defineRepo, entity, featureView, source, sliding, tumbling } from '../../shared/features/definitions/language';
import type { FeatureRow } from '../../shared/features/definitions/values';
import type { ValidRecord } from '../../shared/features/ingest/validate';

/** 2024-01-01T00:00:00Z */
export const T0 = Date.UTC(2024, 0, 1);
export const MIN = 60_000;
export const HOUR = 60 * MIN;
/** T0 + minutes */
export const at = (minutes: number) => T0 + minutes * MIN;

let seq = 0;
/** A record as validation would hand it over (createdTs defaults to its event time). */
export function rec(
  source: string,
  data: Record<string, unknown>,
  eventTs: number,
  createdTs = eventTs,
): ValidRecord<string> {
  return { source, eventTs, createdTs, data, position: `test:${++seq}` };
}

export const user = entity({ name: 'user', joinKey: 'user_id' });

export const events = source({
  name: 'events',
  schema: z.object({ user_id: z.string(), page: z.string(), amount: z.number().nullable().optional(), ts: z.number() }),
  eventTime: 'ts',
  stream: { hub: 'events' },
});

export const orders = source({
  name: 'orders',
  schema: z.object({ user_id: z.string(), order_id: z.string(), amount: z.number(), ts: z.number() }),
  eventTime: 'ts',
  id: 'order_id',
  file: true,
});

/** sliding 10m count/sum/last + a row-level expression */
export const slide = featureView({
  name: 'slide',
  entity: user,
  input: events,
  features: (f) => ({
    n: f.count(sliding('10m')),
    total: f.sum('amount', sliding('10m')),
    last_page: f.last('page', sliding('10m')),
    doubled: f.expr('float', (r) => (r.amount ?? 0) * 2),
  }),
});

/** tumbling 1h */
export const tumble = featureView({
  name: 'tumble',
  entity: user,
  input: events,
  features: (f) => ({ n_1h: f.count(tumbling('1h')), total_1h: f.sum('amount', tumbling('1h')) }),
});

/** sliding 10m, re-evaluated every 5 minutes while shrinking */
export const hopping = featureView({
  name: 'hopping',
  entity: user,
  input: events,
  features: (f) => ({ n: f.count(sliding('10m', { hop: '5m' })) }),
});

/** every aggregation over one window, short lateness */
export const everything = featureView({
  name: 'everything',
  entity: user,
  input: events,
  lateness: '5m',
  features: (f) => ({
    n: f.count(sliding('30m')),
    total: f.sum('amount', sliding('30m')),
    avg: f.mean('amount', sliding('30m')),
    lo: f.min('amount', sliding('30m')),
    hi: f.max('amount', sliding('30m')),
    last_page: f.last('page', sliding('30m')),
    pages: f.distinctCount('page', sliding('30m')),
  }),
});

export const orderTotals = featureView({
  name: 'order_totals',
  entity: user,
  input: orders,
  ttl: '1h',
  features: (f) => ({ orders_1h: f.count(sliding('1h')), spend_1h: f.sum('amount', sliding('1h')) }),
});

/** derived from slide + order_totals */
export const combined = featureView({
  name: 'combined',
  entity: user,
  input: [slide, orderTotals],
  features: (f) => ({
    spend_per_event: f.expr('float', (r) => (r.order_totals.spend_1h ?? 0) / Math.max(r.slide.n ?? 0, 1)),
    has_orders: f.expr('bool', (r) => r.order_totals.orders_1h !== null && r.order_totals.orders_1h > 0),
  }),
});

export const testRepo = defineRepo({
  entities: [user],
  sources: [events, orders],
  views: [slide, tumble, hopping, everything, orderTotals, combined],
});

/** Rows without createdTs, for comparing values. */
export function valuesAt(
  rows: FeatureRow[],
): Array<{ entityId: string; eventTs: number; values: FeatureRow['values'] }> {
  return rows.map((r) => ({ entityId: r.entityId, eventTs: r.eventTs, values: r.values }));
}

/** The newest version (by createdTs) of each (entity, eventTs): what a store ends up holding. */
export function newestPerTime(rows: FeatureRow[]): FeatureRow[] {
  const best = new Map<string, FeatureRow>();
  for (const r of rows) {
    const k = `${r.entityId}\u0000${r.eventTs}`;
    const b = best.get(k);
    if (!b || r.createdTs >= b.createdTs) best.set(k, r);
  }
  return [...best.values()].sort(
    (a, b) => a.eventTs - b.eventTs || (a.entityId < b.entityId ? -1 : a.entityId > b.entityId ? 1 : 0),
  );
}

/** A small deterministic PRNG (mulberry32) for generated histories. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffle a copy with a seeded PRNG. */
export function shuffled<T>(list: readonly T[], seed: number): T[] {
  const r = prng(seed);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
