/**
 * The set-at-a-time backfill path (sql-windows.ts, real DuckDB over a real Parquet file) against
 * the JS pipeline (computeView with warm-up, as a backfill interval runs it) on the same random
 * records: every row, its event time, created_ts and each value compared exactly (Object.is),
 * sums and means included: both add in event order.
 */
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { z } from 'zod';
import { tempDir } from '../helpers/temp';
import { prng } from '../helpers/feature-fixtures';
import { defineRepo, entity, featureView, sliding, source, tumbling } from '../../shared/features/definitions/language';
import type { FeatureRepo } from '../../shared/features/definitions/repo';
import type { FeatureRow } from '../../shared/features/definitions/values';
import { computeView } from '../../shared/features/compute/transform';
import { sourceColumns, validRecordOf } from '../../shared/features/ingest/service';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { selectRows } from '../../shared/features/offline/store';
import { stageRows } from '../../shared/features/offline/segment-file';
import { checkInterval, sqlWindowPlan, windowSelect, type SqlRange } from '../../shared/features/backfill/sql-windows';

const tmp = tempDir('sql-windows-');
afterAll(() => tmp.cleanup());

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 2, 1);

const user = entity({ name: 'user', joinKey: 'user_id' });
const pay = source({
  name: 'pay',
  schema: z.object({ user_id: z.string(), amount: z.number().optional(), qty: z.number().int(), ts: z.number() }),
  eventTime: 'ts',
  file: true,
});
const views = {
  slide: featureView({
    name: 'slide',
    entity: user,
    input: pay,
    lateness: '10m',
    features: (f) => ({
      n: f.count(sliding('1h')),
      total: f.sum('amount', sliding('1h')),
      avg: f.mean('amount', sliding('1h')),
      lo: f.min('amount', sliding('1h')),
      hi: f.max('qty', sliding('1h')),
      day_total: f.sum('amount', sliding('1d')),
      items: f.sum('qty', sliding('1h')),
      day_items: f.mean('qty', sliding('1d')),
    }),
  }),
  hop: featureView({
    name: 'hop',
    entity: user,
    input: pay,
    features: (f) => ({
      n: f.count(sliding('3h', { hop: '20m' })),
      spend: f.mean('amount', sliding('3h', { hop: '20m' })),
    }),
  }),
  tumble: featureView({
    name: 'tumble',
    entity: user,
    input: pay,
    features: (f) => ({
      n: f.count(tumbling('6h')),
      spend: f.sum('amount', tumbling('6h')),
      avg: f.mean('qty', tumbling('6h')),
      top: f.max('amount', tumbling('6h')),
    }),
  }),
  mixed: featureView({
    name: 'mixed',
    entity: user,
    input: pay,
    features: (f) => ({
      day: f.count(tumbling('1d')),
      spend_2h: f.sum('amount', sliding('2h')),
      day_spend: f.sum('amount', tumbling('1d')),
    }),
  }),
};
const repo: FeatureRepo = defineRepo({ entities: [user], sources: [pay], views: Object.values(views) });

/** Random payments over `days` days: bursts, gaps, missing amounts, late arrivals, duplicates, shared event times. */
function records(seed: number, days: number, n: number): FeatureRow[] {
  const r = prng(seed);
  const out: FeatureRow[] = [];
  for (let i = 0; i < n; i++) {
    const u = `u${Math.floor(r() * r() * 12)}`;
    const ts = T0 + Math.floor(r() * days * DAY);
    const createdTs = ts + Math.floor(r() * (r() < 0.1 ? 6 * HOUR : 5_000));
    const amount = r() < 0.15 ? null : Math.round(r() * 1e6) / 100 - 2_000 + r() * 1e-3;
    const row = { entityId: u, eventTs: ts, createdTs, values: { user_id: u, amount, qty: Math.floor(r() * 9), ts } };
    out.push(row);
    if (r() < 0.03) out.push({ ...row }); // the same record twice (no id field: both count)
    // The same amount at the same time, another quantity: whole numbers add alike in any order.
    if (r() < 0.02) out.push({ ...row, values: { ...row.values, qty: row.values.qty + 1 } });
    // Another record at the same event time, arriving later: summed after the first.
    if (r() < 0.05)
      out.push({
        ...row,
        createdTs: createdTs + 1 + Math.floor(r() * 600_000),
        values: { ...row.values, amount: r() * 1e4 },
      });
  }
  return out;
}

async function parquetOf(name: string, rows: FeatureRow[]): Promise<string> {
  const file = path.join(tmp.dir, `${name}.parquet`);
  await withConnection(async (c) => {
    await stageRows(c, 'rows', sourceColumns(repo.source('pay')), rows);
    await c.run(`COPY (SELECT * FROM rows) TO ${literal(file)} (FORMAT parquet)`);
  });
  return file;
}

/** What a backfill interval computes in JS: warm-up before `from`, rows in [from, to). */
function jsRows(view: string, stored: FeatureRow[], from: number, to: number, asOf: number): FeatureRow[] {
  const v = repo.view(view);
  const src = repo.source('pay');
  const recs = stored
    .filter((r) => r.eventTs >= from - v.warmUpMs! && r.eventTs < to && r.createdTs <= asOf)
    .map((r) => validRecordOf(src, r));
  const out = computeView(
    repo,
    view,
    recs.filter((r) => r.eventTs >= from),
    {
      from,
      to: to - 1,
      history: recs.filter((r) => r.eventTs < from),
    },
  );
  expect(out.problems).toEqual([]);
  return out.rows.filter((r) => r.eventTs >= from);
}

async function sqlRows(view: string, file: string, from: number, to: number, asOf: number) {
  const plan = sqlWindowPlan(repo, repo.view(view))!;
  expect(plan, view).toBeDefined();
  const range: SqlRange = {
    from: `read_parquet(${literal(file)})`,
    start: from,
    to,
    asOf,
  };
  return withConnection(async (c) => {
    const check = await checkInterval(c, plan, range);
    const rows = await selectRows(c, `${windowSelect(plan, range, check)} ORDER BY event_ts, entity_id`);
    return { reason: check.fallback, orderFree: check.orderFree, sharedTimes: check.sharedTimes, rows };
  });
}

const key = (r: FeatureRow) => `${r.entityId}@${r.eventTs}`;

function expectSame(view: string, js: FeatureRow[], sql: FeatureRow[]): void {
  const byKey = new Map(sql.map((r) => [key(r), r]));
  expect(sql.length, view).toBe(js.length);
  expect(byKey.size, `${view}: one row per entity and time`).toBe(sql.length);
  for (const want of js) {
    const got = byKey.get(key(want));
    expect(got, `${view} ${key(want)}`).toBeDefined();
    expect(got!.createdTs, `${view} ${key(want)} created_ts`).toBe(want.createdTs);
    for (const [k, x] of Object.entries(want.values))
      expect(Object.is(got!.values[k], x), `${view} ${key(want)} ${k}: sql ${got!.values[k]} js ${x}`).toBe(true);
  }
}

describe('backfill windows in DuckDB equal the JS pipeline', () => {
  it.each([1, 2, 3])('value by value on random records (seed %i), every window kind', async (seed) => {
    const stored = records(seed, 4, 3_000);
    const file = await parquetOf(`seed${seed}`, stored);
    const from = T0 + DAY + Math.floor(prng(seed * 7)() * 12) * HOUR;
    const to = from + DAY;
    // An as-of before the newest arrival: records arriving later are not read by either path.
    const asOf = T0 + 2 * DAY + 20 * HOUR;
    for (const view of Object.keys(views)) {
      const js = jsRows(view, stored, from, to, asOf);
      const { reason, orderFree, sharedTimes, rows } = await sqlRows(view, file, from, to, asOf);
      expect(reason, view).toBeNull();
      expect(sharedTimes, view).toBe(true);
      // qty holds whole numbers: its sums may take a window's own order; amount's add in event order.
      expect(orderFree, view).toEqual(view === 'slide' || view === 'tumble' ? ['qty'] : []);
      expect(js.length, view).toBeGreaterThan(view === 'tumble' ? 40 : 500);
      expectSame(view, js, rows);
    }
  });

  it('records of no entity sharing an event time are keyed without ranking them, to the same values', async () => {
    const seen = new Set<string>();
    const stored = records(4, 4, 3_000).filter((r) => !seen.has(key(r)) && seen.add(key(r)));
    const file = await parquetOf('unshared', stored);
    const from = T0 + DAY + 5 * HOUR;
    const to = from + DAY;
    const asOf = T0 + 4 * DAY;
    for (const view of Object.keys(views)) {
      const js = jsRows(view, stored, from, to, asOf);
      const { reason, sharedTimes, rows } = await sqlRows(view, file, from, to, asOf);
      expect(reason, view).toBeNull();
      expect(sharedTimes, view).toBe(false);
      expect(js.length, view).toBeGreaterThan(view === 'tumble' ? 40 : 500);
      expectSame(view, js, rows);
    }
  });

  it('records of one entity with the same event and arrival time but other amounts, or a -0, are left to JS', async () => {
    const base = { entityId: 'u1', eventTs: T0 + HOUR, createdTs: T0 + HOUR + 5 };
    const stored = [
      { ...base, values: { user_id: 'u1', amount: 0.1, qty: 1, ts: base.eventTs } },
      { ...base, values: { user_id: 'u1', amount: 0.2, qty: 1, ts: base.eventTs } },
    ];
    const file = await parquetOf('ties', stored);
    const { reason } = await sqlRows('slide', file, T0, T0 + DAY, T0 + DAY);
    expect(reason).toMatch(/same event and arrival time/);
    // The same records with equal amounts (a duplicate) add up alike in any order: SQL computes them.
    const dup = await parquetOf('dup', [stored[0]!, { ...stored[0]! }]);
    expect((await sqlRows('slide', dup, T0, T0 + DAY, T0 + DAY)).reason).toBeNull();
    const negativeZero = await parquetOf('zero', [{ ...base, values: { ...stored[0]!.values, amount: -0 } }]);
    expect((await sqlRows('slide', negativeZero, T0, T0 + DAY, T0 + DAY)).reason).toMatch(/negative zeros/);
  });

  it('views with expressions, last or distinct counts, or sources with an id field keep the JS path', () => {
    const orders = source({
      name: 'orders',
      schema: z.object({ user_id: z.string(), order_id: z.string(), amount: z.number(), ts: z.number() }),
      eventTime: 'ts',
      id: 'order_id',
      file: true,
    });
    const other = defineRepo({
      entities: [user],
      sources: [pay, orders],
      views: [
        featureView({ name: 'by_id', entity: user, input: orders, features: (f) => ({ n: f.count(sliding('1h')) }) }),
        featureView({
          name: 'with_expr',
          entity: user,
          input: pay,
          features: (f) => ({ n: f.count(sliding('1h')), big: f.expr('bool', (r) => (r.amount ?? 0) > 10) }),
        }),
        featureView({
          name: 'with_last',
          entity: user,
          input: pay,
          features: (f) => ({ a: f.last('amount', sliding('1h')) }),
        }),
      ],
    });
    for (const v of ['by_id', 'with_expr', 'with_last']) expect(sqlWindowPlan(other, other.view(v)), v).toBeUndefined();
    expect(sqlWindowPlan(repo, repo.view('slide'))).toBeDefined();
  });
});
