/**
 * Serving metrics per model and version. Two views of the same observations:
 * - Prometheus (prom-client, its own Registry): counters and a latency histogram with
 *   FIXED buckets, so histograms from many instances add up bucket by bucket.
 * - A recent window in-process (a ring of time slots of the same bucket counts) for
 *   `GET /api/models/{model}/stats`: p50/p95/p99 and each version's share of traffic.
 * A request costs plain number increments: prom-client's inc/observe hash the label set on
 * every call (its `labels()` children too), ~12 us a request at load (issue 19), so the
 * Prometheus view keeps its own cumulative counts per series and hands them to prom-client
 * in each metric's `collect` (called by the registry at every scrape and by the
 * OpenTelemetry bridge's reads), whose output (names, labels, buckets, values) is unchanged.
 */
import { Counter, Histogram, Registry } from 'prom-client';

/** Upper bounds of the latency buckets in ms (the +Inf bucket follows). Never change them in place: it breaks merging. */
export const LATENCY_BUCKETS_MS: readonly number[] = Object.freeze([
  0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000, 10000,
]);
/** The same bounds in seconds, the histogram's unit; a value is bucketed in seconds, as prom-client did. */
const LATENCY_BUCKETS_S: readonly number[] = Object.freeze(LATENCY_BUCKETS_MS.map((ms) => ms / 1000));

export interface Observation {
  latencyMs: number;
  /** Entities predicted by this request on this version. */
  predictions: number;
  shadow: boolean;
}

export interface VersionStats {
  version: number;
  shadow: boolean;
  requests: number;
  predictions: number;
  errors: number;
  /** Share of the model's live (non-shadow) predictions in the window, 0..1; shadows: 0. */
  share: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
}

export interface ModelStats {
  model: string;
  windowSeconds: number;
  requests: number;
  predictions: number;
  errors: number;
  versions: VersionStats[];
}

export interface MetricsOptions {
  /** The longest window stats can cover (default 5 min). */
  windowMs?: number;
  /** Width of one ring slot (default 10 s). */
  slotMs?: number;
  now?: () => number;
}

interface Series {
  model: string;
  version: number;
  shadow: boolean;
  requests: number;
  predictions: number;
  errors: number;
  buckets: Uint32Array; // LATENCY_BUCKETS_MS.length + 1 (+Inf)
}

/** One Prometheus series (model, version, shadow) since start: what prom-client kept per label set. */
interface Cumulative {
  labels: Record<'model' | 'version' | 'shadow', string>;
  requests: number;
  predictions: number;
  count: number;
  /** Seconds, summed in the order observed (the same float total prom-client reported). */
  sum: number;
  /** Per finite bound of LATENCY_BUCKETS_S (not cumulative); +Inf is `count`. */
  buckets: Float64Array;
}

/** prom-client's per-label-set histogram entry (lib/histogram.js), filled at scrape time. */
interface HistogramEntry {
  labels: Record<string, string>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

interface Slot {
  start: number;
  series: Map<string, Series>;
}

export class ServingMetrics {
  /** Served by `GET /api/metrics` (`await registry.metrics()`, content type `registry.contentType`). */
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'version' | 'shadow'>;
  private readonly predictions: Counter<'model' | 'version' | 'shadow'>;
  private readonly errors: Counter<'model' | 'version' | 'shadow' | 'status'>;
  private readonly latency: Histogram<'model' | 'version' | 'shadow'>;
  /** Keyed like the ring's series; insertion order is the series order of the export. */
  private readonly cumulative = new Map<string, Cumulative>();
  private readonly slots: Slot[];
  private readonly slotMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(opts: MetricsOptions = {}) {
    this.windowMs = opts.windowMs ?? 5 * 60_000;
    this.slotMs = opts.slotMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.slots = Array.from({ length: Math.ceil(this.windowMs / this.slotMs) + 1 }, () => ({
      start: -1,
      series: new Map(),
    }));
    const registers = [this.registry];
    const cumulative = this.cumulative;
    /** A counter's collect: its values are set from the cumulative counts (prom-client hashes here, once per series per scrape). */
    const counted = (value: (c: Cumulative) => number) =>
      function (this: Counter<'model' | 'version' | 'shadow'>) {
        this.reset();
        for (const c of cumulative.values()) this.inc(c.labels, value(c));
      };
    this.requests = new Counter({
      name: 'strata_predict_requests_total',
      help: 'Predict requests served, per model version',
      labelNames: ['model', 'version', 'shadow'],
      registers,
      collect: counted((c) => c.requests),
    });
    this.predictions = new Counter({
      name: 'strata_predictions_total',
      help: 'Entities predicted, per model version',
      labelNames: ['model', 'version', 'shadow'],
      registers,
      collect: counted((c) => c.predictions),
    });
    // Same labels as the request counter (plus status), so errors / requests divides label by label.
    this.errors = new Counter({
      name: 'strata_predict_errors_total',
      help: 'Predict requests that failed, per model version and HTTP status',
      labelNames: ['model', 'version', 'shadow', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'strata_predict_duration_seconds',
      help: 'Predict latency per model version (fixed buckets: merge across instances by summing)',
      labelNames: ['model', 'version', 'shadow'],
      buckets: [...LATENCY_BUCKETS_S],
      registers,
      // prom-client has no public setter for bucket counts: its label-set entries are written
      // directly (the shape of lib/histogram.js, 15.x), so its own code still renders the
      // buckets, +Inf, _sum and _count. test/unit/serving-metrics.test.ts pins the output.
      collect(this: Histogram<'model' | 'version' | 'shadow'>) {
        const entries: Record<string, HistogramEntry> = {};
        for (const [k, c] of cumulative) {
          const bucketValues: Record<number, number> = {};
          LATENCY_BUCKETS_S.forEach((le, i) => (bucketValues[le] = c.buckets[i]!));
          entries[k] = { labels: { ...c.labels }, bucketValues, sum: c.sum, count: c.count };
        }
        (this as unknown as { hashMap: Record<string, HistogramEntry> }).hashMap = entries;
      },
    });
  }

  observe(model: string, version: number, o: Observation): void {
    const key = seriesKey(model, version, o.shadow);
    const c = this.cumulative.get(key) ?? this.addCumulative(key, model, version, o.shadow);
    const seconds = o.latencyMs / 1000;
    c.requests++;
    c.predictions += o.predictions;
    c.count++;
    c.sum += seconds;
    const b = bucketIndex(LATENCY_BUCKETS_S, seconds);
    if (b < LATENCY_BUCKETS_S.length) c.buckets[b]!++;
    const s = this.series(key, model, version, o.shadow);
    s.requests++;
    s.predictions += o.predictions;
    s.buckets[bucketIndex(LATENCY_BUCKETS_MS, o.latencyMs)]!++;
  }

  /** A failed request; version 0 when it failed before a version was chosen. */
  error(model: string, version: number, status: number, shadow = false): void {
    this.errors.inc({ model, version: String(version), shadow: String(shadow), status: String(status) });
    this.series(seriesKey(model, version, shadow), model, version, shadow).errors++;
  }

  private addCumulative(key: string, model: string, version: number, shadow: boolean): Cumulative {
    const c: Cumulative = {
      labels: { model, version: String(version), shadow: String(shadow) },
      requests: 0,
      predictions: 0,
      count: 0,
      sum: 0,
      buckets: new Float64Array(LATENCY_BUCKETS_S.length),
    };
    this.cumulative.set(key, c);
    return c;
  }

  /** Live predict requests per second over the last `spanMs`, every model (what monitoring's load guard reads). */
  requestRate(spanMs = 60_000): number {
    const span = Math.min(spanMs, this.windowMs);
    const since = this.now() - span;
    let n = 0;
    for (const slot of this.slots) {
      if (slot.start < 0 || slot.start + this.slotMs <= since) continue;
      for (const s of slot.series.values()) if (!s.shadow) n += s.requests;
    }
    return n / (span / 1000);
  }

  /** Per version over the last `windowMs` (at most the configured window). */
  stats(model: string, windowMs = this.windowMs): ModelStats {
    const span = Math.min(windowMs, this.windowMs);
    const since = this.now() - span;
    const merged = new Map<string, Series>();
    for (const slot of this.slots) {
      if (slot.start < 0 || slot.start + this.slotMs <= since) continue;
      for (const [k, s] of slot.series) {
        if (s.model !== model) continue;
        let m = merged.get(k);
        if (!m)
          merged.set(
            k,
            (m = { ...s, requests: 0, predictions: 0, errors: 0, buckets: new Uint32Array(s.buckets.length) }),
          );
        m.requests += s.requests;
        m.predictions += s.predictions;
        m.errors += s.errors;
        for (let i = 0; i < s.buckets.length; i++) m.buckets[i]! += s.buckets[i]!;
      }
    }
    const all = [...merged.values()];
    const live = all.filter((s) => !s.shadow).reduce((a, s) => a + s.predictions, 0);
    const versions = all
      .map((s) => ({
        version: s.version,
        shadow: s.shadow,
        requests: s.requests,
        predictions: s.predictions,
        errors: s.errors,
        share: !s.shadow && live > 0 ? s.predictions / live : 0,
        latencyMs: { p50: quantile(s.buckets, 0.5), p95: quantile(s.buckets, 0.95), p99: quantile(s.buckets, 0.99) },
      }))
      .sort((a, b) => Number(a.shadow) - Number(b.shadow) || a.version - b.version);
    const liveSeries = all.filter((s) => !s.shadow);
    return {
      model,
      windowSeconds: span / 1000,
      requests: liveSeries.reduce((a, s) => a + s.requests, 0),
      predictions: live,
      errors: liveSeries.reduce((a, s) => a + s.errors, 0),
      versions,
    };
  }

  private series(k: string, model: string, version: number, shadow: boolean): Series {
    const now = this.now();
    const start = now - (now % this.slotMs);
    const slot = this.slots[Math.floor(now / this.slotMs) % this.slots.length]!;
    if (slot.start !== start) {
      slot.start = start;
      slot.series.clear();
    }
    let s = slot.series.get(k);
    if (!s) {
      slot.series.set(
        k,
        (s = {
          model,
          version,
          shadow,
          requests: 0,
          predictions: 0,
          errors: 0,
          buckets: new Uint32Array(LATENCY_BUCKETS_MS.length + 1),
        }),
      );
    }
    return s;
  }
}

function seriesKey(model: string, version: number, shadow: boolean): string {
  return `${model}\u0000${version}\u0000${shadow}`;
}

/** Index of the first bound >= value; bounds.length (+Inf) when above them all. */
function bucketIndex(bounds: readonly number[], value: number): number {
  let lo = 0;
  let hi = bounds.length; // index of +Inf
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The q-quantile from bucket counts, interpolated linearly inside the bucket (as
 * Prometheus' histogram_quantile does); the +Inf bucket reports the last finite bound.
 */
export function quantile(buckets: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i]!;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = buckets[i]!;
    if (c > 0 && seen + c >= rank) {
      if (i >= LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      const upper = LATENCY_BUCKETS_MS[i]!;
      return lower + (upper - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
}
