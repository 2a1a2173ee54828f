/**
 * When events happen: a daily pattern of activity (quiet nights, a lunch bump, an evening
 * peak; weekends a little busier), in UTC. Over a span [from, to) the pattern is a
 * piecewise-constant intensity per hour; `timeAt(q)` is its inverse cumulative, so n events at
 * quantiles (k + u) / n follow the pattern exactly in expectation and come out in time order.
 */

/** Relative activity per UTC hour of day (mean 1). */
export const HOURLY_ACTIVITY: readonly number[] = normalise([
  0.3, 0.2, 0.15, 0.12, 0.12, 0.18, 0.35, 0.6, 0.85, 1.0, 1.1, 1.15, 1.3, 1.2, 1.05, 1.0, 1.05, 1.15, 1.35, 1.6, 1.75,
  1.6, 1.15, 0.6,
]);

/** Saturdays and Sundays are this much busier than weekdays. */
export const WEEKEND_FACTOR = 1.15;

const HOUR_MS = 3_600_000;

function normalise(xs: number[]): number[] {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.map((x) => x / mean);
}

/** Activity at time t (epoch ms): the hour's share times the weekend factor. */
export function activityAt(t: number): number {
  const d = new Date(t);
  const day = d.getUTCDay();
  return HOURLY_ACTIVITY[d.getUTCHours()]! * (day === 0 || day === 6 ? WEEKEND_FACTOR : 1);
}

export class DailyPattern {
  /** Segment start times (hour boundaries, first = from) and cumulative intensity at each segment's end. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly rates: number[] = [];
  private readonly cumulative: number[] = [];

  constructor(
    readonly from: number,
    readonly to: number,
  ) {
    if (!(to > from))
      throw new RangeError(
        `the span must end after it starts (from ${new Date(from).toISOString()}, to ${new Date(to).toISOString()})`,
      );
    let total = 0;
    for (let start = from; start < to;) {
      const end = Math.min(to, (Math.floor(start / HOUR_MS) + 1) * HOUR_MS);
      const rate = activityAt(start);
      total += rate * (end - start);
      this.rates.push(rate);
      this.starts.push(start);
      this.ends.push(end);
      this.cumulative.push(total);
      start = end;
    }
  }

  /** The time below which a share q in [0, 1) of the span's activity falls. */
  timeAt(q: number): number {
    const total = this.cumulative[this.cumulative.length - 1]!;
    const target = q * total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    const before = lo === 0 ? 0 : this.cumulative[lo - 1]!;
    return Math.min(this.ends[lo]! - 1, this.starts[lo]! + (target - before) / this.rates[lo]!);
  }
}
