import { describe, expect, it } from 'vitest';
import { WindowState, computeView } from '../../shared/features/compute/transform';
import type { ValidRecord } from '../../shared/features/ingest/validate';
import { HOUR, MIN, T0, at, newestPerTime, prng, rec, shuffled, testRepo, valuesAt } from '../helpers/feature-fixtures';

const click = (user: string, minute: number, page: string, amount: number | null, createdTs?: number) =>
  rec('events', { user_id: user, page, amount, ts: at(minute) }, at(minute), createdTs ?? at(minute));

describe('sliding windows', () => {
  const input = [click('u1', 0, 'a', 5), click('u1', 3, 'b', 10), click('u1', 12, 'a', 1)];

  it('emit a row per event over (t - size, t], and when events leave the window', () => {
    const { rows } = computeView(testRepo, 'slide', input, { to: at(60) });
    expect(valuesAt(rows)).toEqual([
      { entityId: 'u1', eventTs: at(0), values: { n: 1, total: 5, last_page: 'a', doubled: 10 } },
      { entityId: 'u1', eventTs: at(3), values: { n: 2, total: 15, last_page: 'b', doubled: 20 } },
      // the event at 0 leaves (0, 10m]
      { entityId: 'u1', eventTs: at(10), values: { n: 1, total: 10, last_page: 'b', doubled: 20 } },
      { entityId: 'u1', eventTs: at(12), values: { n: 2, total: 11, last_page: 'a', doubled: 2 } },
      // the event at 3m leaves
      { entityId: 'u1', eventTs: at(13), values: { n: 1, total: 1, last_page: 'a', doubled: 2 } },
      // the window is empty: count and sum 0, last null; the row-level value stays the latest record's
      { entityId: 'u1', eventTs: at(22), values: { n: 0, total: 0, last_page: null, doubled: 2 } },
    ]);
  });

  it('wait for the watermark before emitting rows that fall due by time alone', () => {
    const state = new WindowState(testRepo, 'slide');
    const first = state.advance(input);
    expect(first.rows.map((r) => r.eventTs)).toEqual([at(0), at(3), at(10), at(12)]);
    expect(state.watermark).toBe(at(12));
    const later = state.flush(at(20));
    expect(later.rows.map((r) => r.eventTs)).toEqual([at(13)]);
    expect(state.flush(at(30)).rows.map((r) => r.eventTs)).toEqual([at(22)]);
    expect(state.flush(at(300)).rows).toEqual([]);
  });

  it('with a hop, re-evaluate a shrinking window at the next multiple of the hop', () => {
    const { rows } = computeView(testRepo, 'hopping', [click('u1', 0, 'a', 1), click('u1', 3, 'a', 1)], { to: at(60) });
    expect(valuesAt(rows)).toEqual([
      { entityId: 'u1', eventTs: at(0), values: { n: 1 } },
      { entityId: 'u1', eventTs: at(3), values: { n: 2 } },
      { entityId: 'u1', eventTs: at(10), values: { n: 1 } }, // 0 + 10m, already on the 5m grid
      { entityId: 'u1', eventTs: at(15), values: { n: 0 } }, // 3m + 10m = 13m, rounded up to 15m
    ]);
  });

  it('with a hop, an event row before the rounded exit already leaves the departed event out', () => {
    // The event at 1m leaves (t - 10m, t] at 11m; its exit row waits for the grid (15m), but the
    // row of the event at 12m is evaluated over (2m, 12m] exactly, like every per-event row.
    const { rows } = computeView(testRepo, 'hopping', [click('u1', 1, 'a', 1), click('u1', 12, 'a', 1)], {
      to: at(60),
    });
    expect(valuesAt(rows)).toEqual([
      { entityId: 'u1', eventTs: at(1), values: { n: 1 } },
      { entityId: 'u1', eventTs: at(12), values: { n: 1 } },
      { entityId: 'u1', eventTs: at(15), values: { n: 1 } }, // 1m + 10m rounded up: the exit of 1m, 12m still in
      { entityId: 'u1', eventTs: at(25), values: { n: 0 } }, // 12m + 10m = 22m, rounded up to 25m
    ]);
  });
  it('compute count, sum, mean, min, max, last and distinct count, skipping nulls', () => {
    const { rows } = computeView(testRepo, 'everything', [
      click('u1', 0, 'home', 4),
      click('u1', 1, 'cart', null),
      click('u1', 2, 'home', 10),
      click('u1', 3, 'pay', 1),
    ]);
    expect(rows.at(-1)!.values).toEqual({ n: 4, total: 15, avg: 5, lo: 1, hi: 10, last_page: 'pay', pages: 3 });
    expect(rows[1]!.values).toEqual({ n: 2, total: 4, avg: 4, lo: 4, hi: 4, last_page: 'cart', pages: 2 });
  });

  it('keep entities apart', () => {
    const { rows } = computeView(testRepo, 'slide', [
      click('u1', 0, 'a', 1),
      click('u2', 1, 'b', 2),
      click('u1', 2, 'c', 3),
    ]);
    expect(rows.map((r) => [r.entityId, r.eventTs, r.values.n, r.values.total])).toEqual([
      ['u1', at(0), 1, 1],
      ['u2', at(1), 1, 2],
      ['u1', at(2), 2, 4],
    ]);
  });
});

describe('tumbling windows', () => {
  it('emit at each window end the last complete window, then once more when it is superseded', () => {
    const input = [click('u1', 10, 'a', 1), click('u1', 50, 'a', 2), click('u1', 70, 'a', 4), click('u1', 190, 'a', 8)];
    const { rows } = computeView(testRepo, 'tumble', input, { to: at(600) });
    expect(valuesAt(rows)).toEqual([
      { entityId: 'u1', eventTs: at(60), values: { n_1h: 2, total_1h: 3 } }, // [0h, 1h)
      { entityId: 'u1', eventTs: at(120), values: { n_1h: 1, total_1h: 4 } }, // [1h, 2h)
      { entityId: 'u1', eventTs: at(180), values: { n_1h: 0, total_1h: 0 } }, // [2h, 3h) is empty
      { entityId: 'u1', eventTs: at(240), values: { n_1h: 1, total_1h: 8 } }, // [3h, 4h)
      { entityId: 'u1', eventTs: at(300), values: { n_1h: 0, total_1h: 0 } },
    ]);
  });

  it('do not emit a window before the watermark passes its end', () => {
    const state = new WindowState(testRepo, 'tumble');
    expect(state.advance([click('u1', 10, 'a', 1), click('u1', 50, 'a', 2)]).rows).toEqual([]);
    expect(valuesAt(state.advance([click('u2', 61, 'a', 1)]).rows)).toEqual([
      { entityId: 'u1', eventTs: at(60), values: { n_1h: 2, total_1h: 3 } },
    ]);
  });
});

describe('event time, not arrival order', () => {
  it('gives the same rows for a shuffled batch', () => {
    const input = [
      click('u1', 0, 'a', 5),
      click('u1', 3, 'b', 10),
      click('u2', 4, 'x', 7),
      click('u1', 12, 'a', 1),
      click('u2', 9, 'y', 1),
    ];
    const ordered = computeView(testRepo, 'everything', input, { to: at(120) });
    for (const seed of [1, 2, 3])
      expect(computeView(testRepo, 'everything', shuffled(input, seed), { to: at(120) })).toEqual(ordered);
  });

  it('folds a late record in and re-emits the rows it changes with its newer createdTs', () => {
    const state = new WindowState(testRepo, 'slide');
    state.advance([click('u1', 0, 'a', 5, at(0)), click('u1', 12, 'a', 1, at(12))]);
    const late = state.advance([click('u1', 3, 'b', 10, at(14))]);
    expect(late.rows.map((r) => [r.eventTs, r.createdTs, r.values.n, r.values.total])).toEqual([
      [at(3), at(14), 2, 15], // new
      [at(10), at(14), 1, 10], // was n 0 (0 had left): now the late record is in (0, 10m]
      [at(12), at(14), 2, 11], // was n 1
    ]);
    expect(late.late).toEqual([]);
  });

  it('a window whose earlier record arrived later carries that newer createdTs (arrival not in event order)', () => {
    const input = [click('u1', 0, 'a', 5, at(20)), click('u1', 3, 'b', 10, at(4))];
    const rows = computeView(testRepo, 'slide', input, { to: at(30) }).rows;
    expect(rows.map((r) => [r.eventTs, r.createdTs, r.values.n])).toEqual([
      [at(0), at(20), 1],
      [at(3), at(20), 2], // the last record arrived at 4m, the one before it at 20m
      [at(10), at(4), 1],
      [at(13), at(4), 0],
    ]);
  });

  it('a row only changes when its values or createdTs do', () => {
    const state = new WindowState(testRepo, 'slide');
    state.advance([click('u1', 0, 'a', 5), click('u1', 30, 'a', 1)]);
    // 15m is not in any earlier row's window except its own and its expiry at 25m
    const late = state.advance([click('u1', 15, 'b', 2, at(31))]);
    expect(late.rows.map((r) => r.eventTs)).toEqual([at(15), at(25)]);
  });

  it('returns records older than the lateness untouched, and changes nothing for them', () => {
    const state = new WindowState(testRepo, 'everything'); // lateness 5m
    state.advance([click('u1', 0, 'a', 1), click('u1', 20, 'a', 1)]);
    const tooLate = click('u1', 14, 'b', 100, at(21));
    const r = state.advance([tooLate, click('u1', 16, 'c', 2, at(21))]);
    expect(r.late).toEqual([{ kind: 'record', record: tooLate }]);
    expect(r.rows.map((x) => [x.eventTs, x.values.total])).toEqual([
      [at(16), 3],
      [at(20), 4],
    ]);
  });

  it('lets a record with the same id replace the earlier one, and ignores a replay', () => {
    const order = (id: string, minute: number, amount: number, created: number) =>
      rec('orders', { user_id: 'u1', order_id: id, amount, ts: at(minute) }, at(minute), created);
    const state = new WindowState(testRepo, 'order_totals');
    state.advance([order('o1', 0, 10, at(0)), order('o2', 5, 20, at(5))]);
    expect(state.advance([order('o1', 0, 10, at(0)), order('o2', 5, 20, at(5))]).rows).toEqual([]); // redelivered
    const fixed = state.advance([order('o1', 0, 12, at(6))]); // o1 corrected
    expect(fixed.rows.map((r) => [r.eventTs, r.createdTs, r.values])).toEqual([
      [at(0), at(6), { orders_1h: 1, spend_1h: 12 }],
      [at(5), at(6), { orders_1h: 2, spend_1h: 32 }],
    ]);
    expect(state.advance([order('o1', 0, 11, at(3))]).rows).toEqual([]); // an older version loses
  });

  it('a correction that moves a record in event time: every row it changes or empties carries its createdTs, as one pass gives', () => {
    const order = (id: string, minute: number, amount: number, created: number) =>
      rec('orders', { user_id: 'u1', order_id: id, amount, ts: at(minute) }, at(minute), created);
    const first = [order('o1', 0, 10, at(0)), order('o2', 20, 5, at(20))];
    const moved = order('o1', 30, 10, at(31)); // o1 happened at 30, not at 0
    const state = new WindowState(testRepo, 'order_totals');
    const before = state.advance(first).rows;
    const after = state.advance([moved]).rows;
    expect(after.map((r) => [r.eventTs, r.createdTs, r.values])).toEqual([
      [at(0), at(31), { orders_1h: 0, spend_1h: 0 }], // nothing is left at 0: the row without o1, never createdTs -Infinity
      [at(20), at(31), { orders_1h: 1, spend_1h: 5 }], // o2 alone, although o2 arrived at 20
      [at(30), at(31), { orders_1h: 2, spend_1h: 15 }],
    ]);
    // Both versions in one pass (a backfill reading the source's records) give the same newest rows.
    const once = computeView(testRepo, 'order_totals', [...first, moved], { to: at(30) });
    expect(newestPerTime(once.rows)).toEqual(newestPerTime([...before, ...after]));
  });

  it('gives one row for records of an entity at the same event time', () => {
    const { rows } = computeView(testRepo, 'slide', [click('u1', 1, 'a', 1), click('u1', 1, 'b', 2)]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.values.n).toBe(2);
  });
});

describe('problems', () => {
  it('an expression returning a wrong type gives null and a problem naming the feature', () => {
    const { rows, problems } = computeView(testRepo, 'slide', [
      rec('events', { user_id: 'u1', page: 'a', amount: Number.NaN, ts: at(0) }, at(0)),
    ]);
    expect(rows[0]!.values.doubled).toBeNull();
    expect(problems).toEqual([
      {
        view: 'slide',
        entityId: 'u1',
        eventTs: at(0),
        feature: 'doubled',
        message: 'expression returned a wrong value: expected a finite number (float), got NaN',
      },
      {
        view: 'slide',
        entityId: 'u1',
        eventTs: at(0),
        feature: 'total',
        message: 'sum(amount): expected a finite number (float), got NaN',
      },
    ]);
  });

  it('refuses input of the wrong kind with a message saying what to pass', () => {
    expect(() => new WindowState(testRepo, 'combined').advance([])).toThrow(
      /derived from "slide", "order_totals": pass their rows as \{ view: rows \}/,
    );
    expect(() => new WindowState(testRepo, 'slide').advance([rec('orders', {}, 0)])).toThrow(
      /reads source "events", but was given a record of "orders"/,
    );
  });
});

describe('derived views', () => {
  const row = (entityId: string, minute: number, values: Record<string, number | null>, created = at(minute)) => ({
    entityId,
    eventTs: at(minute),
    createdTs: created,
    values,
  });

  it('evaluate expressions over each input’s latest row, null once an input’s TTL has passed', () => {
    const { rows } = computeView(
      testRepo,
      'combined',
      {
        slide: [row('u1', 0, { n: 1, total: 5 }), row('u1', 10, { n: 4, total: 1 })],
        order_totals: [row('u1', 5, { orders_1h: 2, spend_1h: 30 }, at(7))], // ttl 1h
      },
      { to: at(180) },
    );
    expect(rows.map((r) => [r.eventTs, r.createdTs, r.values])).toEqual([
      [at(0), at(0), { spend_per_event: 0, has_orders: false }],
      [at(5), at(7), { spend_per_event: 30, has_orders: true }],
      [at(10), at(10), { spend_per_event: 7.5, has_orders: true }],
      [at(65), at(10), { spend_per_event: 0, has_orders: false }], // order_totals row expired at 5m + 1h
    ]);
  });

  it('re-emits when an input row is corrected (same eventTs, newer createdTs)', () => {
    const state = new WindowState(testRepo, 'combined');
    state.advance({ slide: [row('u1', 0, { n: 2 })], order_totals: [row('u1', 0, { orders_1h: 1, spend_1h: 10 })] });
    const r = state.advance({ order_totals: [row('u1', 0, { orders_1h: 1, spend_1h: 12 }, at(2))] });
    expect(r.rows.map((x) => [x.eventTs, x.createdTs, x.values.spend_per_event])).toEqual([[at(0), at(2), 6]]);
    expect(state.advance({ order_totals: [row('u1', 0, { orders_1h: 1, spend_1h: 12 }, at(2))] }).rows).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Train/serve consistency: any batching = one pass; warm-up = full history.

function history(seed: number, users: number, count: number, spanMinutes: number): ValidRecord[] {
  const r = prng(seed);
  const pages = ['home', 'cart', 'pay', 'help', 'search'];
  const out: ValidRecord[] = [];
  for (let i = 0; i < count; i++) {
    const minute = Math.floor(r() * spanMinutes);
    const eventTs = at(minute) + Math.floor(r() * MIN);
    out.push(
      rec(
        'events',
        {
          user_id: `u${Math.floor(r() * users)}`,
          page: pages[Math.floor(r() * pages.length)]!,
          amount: r() < 0.1 ? null : Math.round(r() * 1000) / 10,
          ts: eventTs,
        },
        eventTs,
        eventTs + Math.floor(r() * 2 * MIN),
      ),
    );
  }
  return out.sort((a, b) => a.createdTs - b.createdTs);
}

describe('consistency', () => {
  const records = history(7, 5, 400, 3 * 24 * 60);
  const end = at(3 * 24 * 60 + 120);

  for (const view of ['slide', 'tumble', 'hopping', 'everything']) {
    it(`${view}: streaming in arrival-order batches ends with the rows of one pass over everything`, () => {
      const once = computeView(testRepo, view, records, { to: end });
      const state = new WindowState(testRepo, view);
      const streamed = [];
      for (let i = 0; i < records.length; i += 17) {
        const batch = shuffled(records.slice(i, i + 17), i);
        const r = state.advance(batch);
        expect(r.late).toEqual([]);
        streamed.push(...r.rows);
      }
      streamed.push(...state.flush(end).rows);
      expect(newestPerTime(streamed)).toEqual(newestPerTime(once.rows));
    });

    it(`${view}: warm-up with view.warmUpMs of history before t gives the same rows from t as the full history`, () => {
      const full = computeView(testRepo, view, records, { to: end });
      const t = at(36 * 60 + 7);
      const warmUpMs = testRepo.view(view).warmUpMs!;
      const history = records.filter((r) => r.eventTs < t && r.eventTs >= t - warmUpMs);
      const fromT = computeView(
        testRepo,
        view,
        records.filter((r) => r.eventTs >= t),
        { from: t, to: end, history },
      );
      expect(fromT.rows.length).toBeGreaterThan(10);
      expect(fromT.rows).toEqual(full.rows.filter((r) => r.eventTs >= t));
    });
  }

  it('intervals computed separately (backfill per interval) join into the full result', () => {
    const full = computeView(testRepo, 'everything', records, { to: end });
    const parts = [];
    for (let from = T0; from < end; from += 24 * HOUR) {
      const to = Math.min(from + 24 * HOUR, end + 1) - 1;
      const inInterval = records.filter((r) => r.eventTs >= from && r.eventTs <= to);
      parts.push(
        ...computeView(testRepo, 'everything', inInterval, {
          from,
          to,
          history: records.filter((r) => r.eventTs < from),
        }).rows,
      );
    }
    expect(parts).toEqual(full.rows);
  });

  it('forgets entities whose inputs have aged out', () => {
    const state = new WindowState(testRepo, 'slide');
    state.advance([click('u1', 0, 'a', 1), click('u2', 0, 'a', 1)]);
    expect(state.entityCount).toBe(2);
    state.flush(at(24 * 60));
    expect(state.entityCount).toBe(0);
  });
});
