/**
 * The data generator behind `strata produce` and examples/: deterministic for a seed, the
 * asked number of events spread by the daily pattern, records the sample repo accepts, a known
 * signal between behaviour and churn labels, drift that moves the named field by the asked
 * amount, and late records and corrections in the asked shares.
 */
import { describe, expect, it } from 'vitest';
import {
  AMOUNT_SD,
  DRIFT_PAGE,
  HOURLY_ACTIVITY,
  LATE_DELAY_MS,
  CORRECTION_FACTOR,
  WEEKEND_FACTOR,
  generateRecords,
  labelTimes,
  parseDrift,
  type GeneratedRecord,
  type GeneratorOptions,
} from '../../cli/generator';
import { churnRepo } from '../../shared/definitions/churn';

const MONDAY = Date.parse('2026-11-02T00:00:00Z');
const DAY = 86_400_000;
const base: GeneratorOptions = { seed: 7, users: 500, events: 20_000, from: MONDAY, to: MONDAY + 7 * DAY };
const generated = new Map<string, GeneratedRecord[]>();
/** The records of base + o (generated once per options: several tests read the same run). */
const all = (o: Partial<GeneratorOptions> = {}): GeneratedRecord[] => {
  const key = JSON.stringify(o);
  if (!generated.has(key)) generated.set(key, [...generateRecords({ ...base, ...o })]);
  return generated.get(key)!;
};
const purchasesOf = (rs: GeneratedRecord[]) => rs.flatMap((r) => (r.source === 'purchases' ? [r] : []));
const clicksOf = (rs: GeneratedRecord[]) => rs.flatMap((r) => (r.source === 'clicks' ? [r] : []));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};

/** Area under the ROC curve of `score` for `label` (Mann-Whitney, ties count half). */
function auc(score: number[], label: number[]): number {
  let wins = 0;
  let pairs = 0;
  score.forEach((s, i) => {
    if (!label[i]) return;
    score.forEach((t, j) => {
      if (label[j]) return;
      pairs++;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

function pearson(x: number[], y: number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  x.forEach((xi, i) => {
    sxy += (xi - mx) * (y[i]! - my);
    sxx += (xi - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

describe('determinism', () => {
  it('the same options give the same records in the same order; another seed gives others', () => {
    const a = all({ late: 0.02, corrections: 0.02, labels: true });
    const b = all({ late: 0.02, corrections: 0.02, labels: true });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const c = all({ seed: 8, late: 0.02, corrections: 0.02, labels: true });
    expect(JSON.stringify(c.slice(0, 100))).not.toBe(JSON.stringify(a.slice(0, 100)));
  });

  it('another events seed gives other events of the same users: each keeps their label, order ids do not collide', () => {
    const a = all({ labels: true });
    const b = all({ labels: true, eventsSeed: 9 });
    expect(JSON.stringify(b.slice(0, 100))).not.toBe(JSON.stringify(a.slice(0, 100)));
    const labelOf = (rs: GeneratedRecord[]) =>
      new Map(rs.flatMap((r) => (r.source === 'labels' ? [[r.entityId, r.label] as const] : [])));
    const la = labelOf(a);
    const lb = labelOf(b);
    const both = [...lb.keys()].filter((id) => la.has(id));
    expect(both.length).toBeGreaterThan(400);
    for (const id of both) expect(lb.get(id), id).toBe(la.get(id));
    const orders = new Set(purchasesOf(a).map((p) => p.record.order_id));
    expect(purchasesOf(b).filter((p) => orders.has(p.record.order_id))).toEqual([]);
  });

  it('late records and corrections change when records arrive, never which base records there are', () => {
    const plain = all();
    const switched = all({ late: 0.1, corrections: 0.1 });
    const key = (r: GeneratedRecord) => JSON.stringify(r.source === 'labels' ? r : r.record);
    const bases = switched
      .filter((r) => r.kind !== 'correction')
      .map(key)
      .sort();
    expect(bases).toEqual(plain.map(key).sort());
  });
});

describe('volume and timing', () => {
  it('makes exactly the asked number of clicks and purchases, on time in event-time order, inside the span', () => {
    const rs = all();
    expect(rs).toHaveLength(20_000);
    expect(rs.every((r) => r.kind === 'event' && r.ts >= base.from && r.ts < base.to)).toBe(true);
    expect(rs.filter((r, i) => i > 0 && r.ts < rs[i - 1]!.ts)).toEqual([]);
    const purchases = purchasesOf(rs).length;
    // Purchase share per user is sigmoid(-3.2 + 0.7 z): about 5% of events.
    expect(purchases / rs.length).toBeGreaterThan(0.03);
    expect(purchases / rs.length).toBeLessThan(0.08);
  });

  it('follows the daily pattern: events per hour of day in proportion to HOURLY_ACTIVITY, weekends busier', () => {
    const rs = all({ events: 50_000, to: MONDAY + 14 * DAY });
    const perHour = new Array(24).fill(0);
    const perDay = new Array(7).fill(0);
    for (const r of rs) {
      perHour[new Date(r.ts).getUTCHours()]++;
      perDay[new Date(r.ts).getUTCDay()]++;
    }
    // Weekends scale every hour alike, so each hour's share is its activity / 24.
    perHour.forEach((n, h) => expect(n / rs.length).toBeCloseTo(HOURLY_ACTIVITY[h]! / 24, 2));
    const weekday = mean([1, 2, 3, 4, 5].map((d) => perDay[d]));
    const weekend = mean([0, 6].map((d) => perDay[d]));
    expect(weekend / weekday).toBeGreaterThan(WEEKEND_FACTOR - 0.03);
    expect(weekend / weekday).toBeLessThan(WEEKEND_FACTOR + 0.03);
    // The busiest hour (20:00) sees over ten times the quietest (03:00-04:00).
    expect(perHour[20] / perHour[3]).toBeGreaterThan(10);
  });

  it('writes records the sample repo accepts (clicks and purchases schemas)', () => {
    const rs = all({ events: 5_000, late: 0.05, corrections: 0.2 });
    const refused = rs.filter(
      (r) =>
        r.source !== 'labels' &&
        (!churnRepo.source(r.source).schema.safeParse(r.record).success || Date.parse(r.record.ts) !== r.ts),
    );
    expect(refused).toEqual([]);
    expect(
      new Set(
        purchasesOf(rs)
          .filter((r) => r.kind !== 'correction')
          .map((r) => r.record.order_id),
      ).size,
    ).toBe(purchasesOf(rs).filter((r) => r.kind !== 'correction').length);
  });
});

describe('labels', () => {
  it('are emitted only when asked, at each UTC midnight of the span, for every user seen before it', () => {
    expect(all().some((r) => r.source === 'labels')).toBe(false);
    const rs = all({ events: 2_000, users: 3_000, labels: true });
    const times = labelTimes(base.from, base.to);
    expect(times).toEqual([1, 2, 3, 4, 5, 6, 7].map((d) => MONDAY + d * DAY));
    const seen = new Set<string>();
    let expected = 0;
    let next = 0;
    for (const r of rs) {
      if (r.source === 'labels') continue;
      while (next < times.length && times[next]! < r.ts) {
        expected += seen.size;
        next++;
      }
      seen.add(r.entityId);
    }
    for (; next < times.length; next++) expected += seen.size;
    const labels = rs.filter((r) => r.source === 'labels');
    expect(labels).toHaveLength(expected);
    expect(new Set(labels.map((l) => `${l.entityId}@${l.ts}`)).size).toBe(labels.length);
    expect(new Set(labels.map((l) => l.ts))).toEqual(new Set(times));
    // A span without a midnight labels at its end.
    expect(labelTimes(MONDAY + 3_600_000, MONDAY + 5 * 3_600_000)).toEqual([MONDAY + 5 * 3_600_000]);
  });

  it('carry a known signal: users who click and buy less churn more', () => {
    const rs = all({ users: 1_500, events: 40_000, labels: true });
    const clicks = new Map<string, number>();
    const buys = new Map<string, number>();
    const label = new Map<string, number>();
    for (const r of rs) {
      if (r.source === 'labels') label.set(r.entityId, r.label);
      else if (r.source === 'clicks') clicks.set(r.entityId, (clicks.get(r.entityId) ?? 0) + 1);
      else buys.set(r.entityId, (buys.get(r.entityId) ?? 0) + 1);
    }
    const users = [...label.keys()];
    const y = users.map((u) => label.get(u)!);
    const activity = users.map((u) => Math.log1p(clicks.get(u) ?? 0));
    const buying = users.map((u) => buys.get(u) ?? 0);
    // About 30% churn (E[sigmoid(-1 - 1.2 z1 - 0.8 z2)] over standard normal traits).
    expect(mean(y)).toBeGreaterThan(0.25);
    expect(mean(y)).toBeLessThan(0.4);
    expect(pearson(activity, y)).toBeLessThan(-0.3);
    expect(
      auc(
        activity.map((a) => -a),
        y,
      ),
    ).toBeGreaterThan(0.7);
    expect(
      auc(
        buying.map((b) => -b),
        y,
      ),
    ).toBeGreaterThan(0.6);
  });

  it('churners fade: their share of events falls over the span', () => {
    const rs = all({ users: 1_500, events: 40_000, labels: true });
    const churned = new Set(rs.filter((r) => r.source === 'labels' && r.label === 1).map((r) => r.entityId));
    const events = rs.filter((r) => r.source !== 'labels');
    const share = (from: number, to: number) => {
      const part = events.filter((r) => r.ts >= from && r.ts < to);
      return part.filter((r) => churned.has(r.entityId)).length / part.length;
    };
    expect(share(MONDAY + 6 * DAY, MONDAY + 7 * DAY)).toBeLessThan(share(MONDAY, MONDAY + DAY) * 0.75);
  });
});

describe('drift', () => {
  const driftFrom = MONDAY + 3 * DAY;

  it('amount=shift:0.5 adds half the population standard deviation of amounts to every order from driftFrom on', () => {
    const plain = purchasesOf(all({ events: 40_000 }));
    const drifted = purchasesOf(all({ events: 40_000, drift: [parseDrift('amount=shift:0.5')], driftFrom }));
    expect(drifted.map((r) => r.record.order_id)).toEqual(plain.map((r) => r.record.order_id));
    const diffs = drifted.map((r, i) => ({ ts: r.ts, d: r.record.amount - plain[i]!.record.amount }));
    expect(diffs.filter((x) => x.ts < driftFrom).every((x) => x.d === 0)).toBe(true);
    const shifted = diffs.filter((x) => x.ts >= driftFrom);
    expect(shifted.length).toBeGreaterThan(1000);
    expect(shifted.filter((x) => Math.abs(x.d - 0.5 * AMOUNT_SD) >= 0.011)).toEqual([]);
    // In the data's own units: the mean moves by 0.5 of the measured standard deviation.
    const after = (rs: typeof plain) => rs.filter((r) => r.ts >= driftFrom).map((r) => r.record.amount);
    expect((mean(after(drifted)) - mean(after(plain))) / sd(after(plain))).toBeGreaterThan(0.4);
    expect((mean(after(drifted)) - mean(after(plain))) / sd(after(plain))).toBeLessThan(0.6);
  });

  it('amount=scale:2 doubles amounts, page=new:0.3 sends 30% of clicks to a new page, purchases=scale:2 doubles purchases', () => {
    const plain = all({ events: 40_000 });
    const drifted = all({ events: 40_000, drift: ['amount=scale:2', 'page=new:0.3'].map(parseDrift), driftFrom });
    const p0 = purchasesOf(plain);
    const off = purchasesOf(drifted).filter(
      (r, i) => Math.abs(r.record.amount - p0[i]!.record.amount * (r.ts >= driftFrom ? 2 : 1)) >= 0.011,
    );
    expect(off).toEqual([]);
    const clicks = clicksOf(drifted);
    expect(clicks.filter((c) => c.ts < driftFrom).some((c) => c.record.page === DRIFT_PAGE)).toBe(false);
    const late = clicks.filter((c) => c.ts >= driftFrom);
    expect(late.filter((c) => c.record.page === DRIFT_PAGE).length / late.length).toBeCloseTo(0.3, 1);

    const more = all({ events: 40_000, drift: [parseDrift('purchases=scale:2')], driftFrom });
    const ratio =
      purchasesOf(more).filter((r) => r.ts >= driftFrom).length / p0.filter((r) => r.ts >= driftFrom).length;
    expect(ratio).toBeGreaterThan(1.8);
    expect(ratio).toBeLessThan(2.1);
  });

  it('refuses specs it cannot apply, naming the accepted forms', () => {
    expect(parseDrift('session_ms=shift:-1')).toEqual({ field: 'session_ms', kind: 'shift', sigmas: -1 });
    expect(() => parseDrift('amount')).toThrow(/field=shift/);
    expect(() => parseDrift('spend=shift:1')).toThrow(/"spend" cannot drift; fields: amount/);
    expect(() => parseDrift('page=shift:1')).toThrow(/page takes clicked page: new:/);
    expect(() => parseDrift('amount=scale:0')).toThrow(/above 0/);
    expect(() => parseDrift('page=new:1.5')).toThrow(/between 0 and 1/);
  });
});

describe('late records and corrections', () => {
  it('delivers the asked share late, 10 min to 6 h behind the stream', () => {
    const rs = all({ events: 50_000, late: 0.05 });
    const late = rs.filter((r) => r.kind === 'late');
    expect(late.length / rs.length).toBeGreaterThan(0.045);
    expect(late.length / rs.length).toBeLessThan(0.055);
    // How far the stream had moved past each late record when it was delivered; the records
    // still held when the stream ends are delivered at its end, closer behind.
    let clock = -Infinity;
    const behind: number[] = [];
    const end = Math.max(...rs.filter((r) => r.kind === 'event').map((r) => r.ts));
    for (const r of rs) {
      if (r.kind !== 'late') clock = Math.max(clock, r.ts);
      else if (r.ts + LATE_DELAY_MS.max < end) behind.push(clock - r.ts);
    }
    expect(behind.length).toBeGreaterThan(2000);
    // Events are seconds apart, minutes at night: the stream passes a release within 5 minutes.
    expect(behind.filter((b) => b < LATE_DELAY_MS.min - 300_000 || b > LATE_DELAY_MS.max)).toEqual([]);
    expect(Math.min(...behind)).toBeLessThan(LATE_DELAY_MS.min + 300_000);
    expect(Math.max(...behind)).toBeGreaterThan(LATE_DELAY_MS.max - 300_000);
  });

  it('corrects the asked share of purchases later: same order and time, a lower amount', () => {
    const rs = all({ events: 50_000, corrections: 0.1 });
    const firstSeen = new Map<string, { amount: number; ts: number }>();
    let corrections = 0;
    const wrong: unknown[] = [];
    for (const r of purchasesOf(rs)) {
      if (r.kind !== 'correction') {
        firstSeen.set(r.record.order_id, { amount: r.record.amount, ts: r.ts });
        continue;
      }
      corrections++;
      const original = firstSeen.get(r.record.order_id);
      const ratio = original && r.record.amount / original.amount;
      // Delivered after its order, at the order's time, for part of its amount.
      if (
        !original ||
        r.ts !== original.ts ||
        !(ratio! >= CORRECTION_FACTOR.min - 0.01 && ratio! <= CORRECTION_FACTOR.max + 0.01)
      )
        wrong.push(r);
    }
    expect(wrong).toEqual([]);
    expect(corrections / firstSeen.size).toBeGreaterThan(0.08);
    expect(corrections / firstSeen.size).toBeLessThan(0.12);
  });
});
