/**
 * The data generator: synthetic users' clicks and purchases over an event-time span, in the
 * shape of the sample repo's sources (shared/definitions/churn.ts), plus churn labels with a
 * known signal (users.ts). Pure and deterministic: the same options give the same records in
 * the same order; it does no I/O and reads no clock.
 *
 *   generateRecords(options) -> Iterable<GeneratedRecord>, in delivery order
 *
 * Delivery order is event-time order, except what the switches make arrive later: a `late`
 * share of records is delivered 10 min to 6 h after its event time (some inside the pipeline's
 * lateness allowance, some beyond it), and a `corrections` share of purchases is sent again 5 min
 * to 2 h later with the same order_id and a lower amount (a partial refund). Labels are
 * delivered at each UTC midnight of the span (or at its end when it has none) for every user
 * seen before it: `label` 1 when the user churns.
 */
import { DailyPattern } from './daily';
import { DRIFT_PAGE, type DriftSpec } from './drift';
import { RandomStream, cumulativeOf, pickCumulative } from './random';
import {
  AMOUNT_LOG_SD_ORDER,
  AMOUNT_SD,
  CHURNER_FADE,
  PAGES,
  SESSION_LOG_MEAN,
  SESSION_LOG_SD,
  SESSION_SD,
  makeUsers,
  type SyntheticUser,
} from './users';

export interface GeneratorOptions {
  /** The population: user i's traits and churn label depend only on (seed, i). */
  seed: number;
  /**
   * The events' own randomness (default: seed). Another span of the same users (a drifted hour
   * after the history) keeps `seed`, so every user keeps their label, and takes another events
   * seed, so its picks and values are not a replay of the history's.
   */
  eventsSeed?: number;
  users: number;
  /** Clicks and purchases together, spread over the span by the daily pattern. */
  events: number;
  /** Event-time span [from, to), epoch ms. */
  from: number;
  to: number;
  labels?: boolean;
  /** Share (0..1) of clicks and purchases delivered late. */
  late?: number;
  /** Share (0..1) of purchases corrected later. */
  corrections?: number;
  drift?: readonly DriftSpec[];
  /** Drift applies to events at or after this time (default: the whole span). */
  driftFrom?: number;
}

export interface Click {
  user_id: string;
  page: string;
  ts: string;
  session_ms: number;
}

export interface Purchase {
  user_id: string;
  order_id: string;
  amount: number;
  currency: 'EUR' | 'USD' | 'GBP';
  ts: string;
}

export type GeneratedRecord =
  | { source: 'clicks'; kind: 'event' | 'late'; entityId: string; ts: number; record: Click }
  | { source: 'purchases'; kind: 'event' | 'late' | 'correction'; entityId: string; ts: number; record: Purchase }
  | { source: 'labels'; kind: 'label'; entityId: string; ts: number; label: 0 | 1 };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const LATE_DELAY_MS = Object.freeze({ min: 10 * MINUTE, max: 6 * HOUR });
export const CORRECTION_DELAY_MS = Object.freeze({ min: 5 * MINUTE, max: 2 * HOUR });
/** A correction refunds part of the order: the amount times a factor in this range. */
export const CORRECTION_FACTOR = Object.freeze({ min: 0.5, max: 0.95 });
/** Share of a user's clicks on their favourite page. */
const FAVOURITE_SHARE = 0.3;
const PAGE_CUMULATIVE = cumulativeOf(PAGES.map((_, i) => 1 / Math.pow(i + 1, 0.9)));

/** UTC midnights in (from, to], or [to] when there is none: when labels are delivered. */
export function labelTimes(from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = (Math.floor(from / 86_400_000) + 1) * 86_400_000; t <= to; t += 86_400_000) out.push(t);
  return out.length ? out : [to];
}

export function checkGeneratorOptions(o: GeneratorOptions): void {
  const bad: string[] = [];
  if (!Number.isInteger(o.users) || o.users < 1) bad.push(`users must be a whole number of at least 1, got ${o.users}`);
  if (!Number.isInteger(o.events) || o.events < 0) bad.push(`events must be a whole number, got ${o.events}`);
  if (!(o.to > o.from)) bad.push('the span must end after it starts');
  for (const [name, v] of [
    ['late', o.late],
    ['corrections', o.corrections],
  ] as const) {
    if (v !== undefined && !(v >= 0 && v <= 1)) bad.push(`${name} must be a share between 0 and 1, got ${v}`);
  }
  if (bad.length) throw new RangeError(bad.join('; '));
}

interface Held {
  release: number;
  seq: number;
  record: GeneratedRecord;
}

/** A min-heap of held records by (release time, sequence). */
class HeldRecords {
  private readonly items: Held[] = [];
  peek(): Held | undefined {
    return this.items[0];
  }
  push(h: Held): void {
    const a = this.items;
    a.push(h);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Held {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
const before = (x: Held, y: Held) => x.release < y.release || (x.release === y.release && x.seq < y.seq);

const round2 = (x: number) => Math.round(x * 100) / 100;

/** ISO-8601 of epoch ms, as Date#toISOString writes it, with the date part cached (it is most of the cost). */
function isoFormatter(): (t: number) => string {
  let day = NaN;
  let prefix = '';
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return (t) => {
    const d = Math.floor(t / 86_400_000);
    if (d !== day) {
      day = d;
      prefix = new Date(d * 86_400_000).toISOString().slice(0, 11);
    }
    const ms = t - d * 86_400_000;
    return `${prefix}${pad(Math.floor(ms / 3_600_000), 2)}:${pad(Math.floor(ms / 60_000) % 60, 2)}:${pad(Math.floor(ms / 1000) % 60, 2)}.${pad(ms % 1000, 3)}Z`;
  };
}

export function* generateRecords(o: GeneratorOptions): Generator<GeneratedRecord> {
  checkGeneratorOptions(o);
  const users = makeUsers(o.seed, o.users);
  const pattern = new DailyPattern(o.from, o.to);
  const churners = users.filter((u) => u.churned);
  const stayers = users.filter((u) => !u.churned);
  const churnerCum = cumulativeOf(churners.map((u) => u.activity));
  const stayerCum = cumulativeOf(stayers.map((u) => u.activity));
  const churnerWeight = churners.length ? churnerCum[churnerCum.length - 1]! : 0;
  const stayerWeight = stayers.length ? stayerCum[stayerCum.length - 1]! : 0;

  const eventsSeed = o.eventsSeed ?? o.seed;
  const time = new RandomStream(eventsSeed, 'time');
  const who = new RandomStream(eventsSeed, 'who');
  const what = new RandomStream(eventsSeed, 'what');
  const values = new RandomStream(eventsSeed, 'values');
  const lateness = new RandomStream(eventsSeed, 'late');
  const fixes = new RandomStream(eventsSeed, 'corrections');
  const drifting = new RandomStream(eventsSeed, 'drift');

  const drift = o.drift ?? [];
  const driftFrom = o.driftFrom ?? o.from;
  const shiftOf = (field: 'amount' | 'session_ms') =>
    drift.reduce((s, d) => (d.field === field && d.kind === 'shift' ? s + d.sigmas : s), 0);
  const scaleOf = (field: 'amount' | 'session_ms' | 'purchases') =>
    drift.reduce((s, d) => (d.field === field && d.kind === 'scale' ? s * d.factor : s), 1);
  const newPageShare = drift.reduce((s, d) => (d.kind === 'new' ? d.share : s), 0);
  const amountShift = shiftOf('amount') * AMOUNT_SD;
  const sessionShift = shiftOf('session_ms') * SESSION_SD;

  const iso = isoFormatter();
  const held = new HeldRecords();
  let seq = 0;
  const seen = new Uint8Array(users.length);
  const snapshots = o.labels ? labelTimes(o.from, o.to) : [];
  let nextSnapshot = 0;
  const orderPrefix = `o-${o.seed}${o.eventsSeed !== undefined ? `.${o.eventsSeed}` : ''}-${Math.floor(o.from / 1000).toString(36)}`;

  function* labelsAt(t: number): Generator<GeneratedRecord> {
    for (const u of users)
      if (seen[u.index]) yield { source: 'labels', kind: 'label', entityId: u.id, ts: t, label: u.churned ? 1 : 0 };
  }
  /** Everything due before event time t (all of it for Infinity): held records and label snapshots, in time order. */
  function* releaseBefore(t: number): Generator<GeneratedRecord> {
    for (;;) {
      const release = held.peek()?.release ?? Infinity;
      const snapshot = nextSnapshot < snapshots.length ? snapshots[nextSnapshot]! : Infinity;
      if (Math.min(release, snapshot) >= t) return;
      if (release < snapshot) yield held.pop().record;
      else {
        nextSnapshot++;
        yield* labelsAt(snapshot);
      }
    }
  }

  const span = o.to - o.from;
  for (let k = 0; k < o.events; k++) {
    const t = Math.floor(pattern.timeAt((k + time.uniform()) / o.events));
    if (held.peek() !== undefined || nextSnapshot < snapshots.length) yield* releaseBefore(t);

    const fade = 1 - (1 - CHURNER_FADE) * ((t - o.from) / span);
    const uGroup = who.uniform();
    const uUser = who.uniform();
    const fromChurners = uGroup * (fade * churnerWeight + stayerWeight) < fade * churnerWeight;
    const user: SyntheticUser = fromChurners
      ? churners[pickCumulative(churnerCum, uUser)]!
      : stayers[pickCumulative(stayerCum, uUser)]!;
    seen[user.index] = 1;

    const uType = what.uniform();
    const uFavourite = what.uniform();
    const uPage = what.uniform();
    const z = values.normal();
    const drifted = drift.length > 0 && t >= driftFrom;
    const isLate = lateness.chance(o.late ?? 0);
    const lateBy = lateness.between(LATE_DELAY_MS.min, LATE_DELAY_MS.max);
    const corrected = fixes.chance(o.corrections ?? 0);
    const correctedAfter = fixes.between(CORRECTION_DELAY_MS.min, CORRECTION_DELAY_MS.max);
    const correctionFactor = fixes.between(CORRECTION_FACTOR.min, CORRECTION_FACTOR.max);
    const onNewPage = drifting.uniform() < newPageShare;

    const ts = iso(t);
    const purchaseShare = Math.min(1, user.purchaseShare * (drifted ? scaleOf('purchases') : 1));
    let rec: GeneratedRecord;
    let correction: GeneratedRecord | undefined;
    if (uType < purchaseShare) {
      const base = Math.exp(user.spendLog + AMOUNT_LOG_SD_ORDER * z);
      const amount = round2(Math.max(0, drifted ? base * scaleOf('amount') + amountShift : base));
      const record: Purchase = {
        user_id: user.id,
        order_id: `${orderPrefix}-${k}`,
        amount,
        currency: user.currency,
        ts,
      };
      rec = { source: 'purchases', kind: isLate ? 'late' : 'event', entityId: user.id, ts: t, record };
      if (corrected) {
        correction = {
          source: 'purchases',
          kind: 'correction',
          entityId: user.id,
          ts: t,
          record: { ...record, amount: round2(amount * correctionFactor) },
        };
      }
    } else {
      const page =
        drifted && onNewPage
          ? DRIFT_PAGE
          : uFavourite < FAVOURITE_SHARE
            ? user.favouritePage
            : PAGES[pickCumulative(PAGE_CUMULATIVE, uPage)]!;
      const base = Math.exp(SESSION_LOG_MEAN + SESSION_LOG_SD * z);
      const session = Math.max(0, Math.round(drifted ? base * scaleOf('session_ms') + sessionShift : base));
      rec = {
        source: 'clicks',
        kind: isLate ? 'late' : 'event',
        entityId: user.id,
        ts: t,
        record: { user_id: user.id, page, ts, session_ms: session },
      };
    }
    if (isLate) held.push({ release: t + lateBy, seq: seq++, record: rec });
    else yield rec;
    // A correction follows its order (after a late order's delivery too).
    if (correction) held.push({ release: t + (isLate ? lateBy : 0) + correctedAfter, seq: seq++, record: correction });
  }
  yield* releaseBefore(Infinity);
}
